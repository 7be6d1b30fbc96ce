import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { SpdyConnection, type SpdyStream } from './connection.ts';
import { SPDY3_DICTIONARY } from './dictionary.ts';
import {
  decodeFrame,
  decodeHeaderBlock,
  encodeData,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  FrameReader,
} from './frames.ts';

test('the header dictionary is byte for byte the one Go spdystream uses', () => {
  assert.equal(SPDY3_DICTIONARY.length, 1423);
  assert.equal(
    createHash('sha256').update(SPDY3_DICTIONARY).digest('hex'),
    '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02',
  );
});

test('frames split across chunks are reassembled; several in one chunk are all returned', () => {
  const bytes = Buffer.concat([
    encodeData(1, Buffer.from('hello'), false),
    encodePing(7),
    encodeRstStream(3, 5),
  ]);
  const r = new FrameReader();
  const frames = [
    ...r.push(bytes.subarray(0, 5)),
    ...r.push(bytes.subarray(5, 17)),
    ...r.push(bytes.subarray(17)),
  ];
  assert.deepEqual(
    frames.map((f) => f.type),
    ['data', 'ping', 'rst_stream'],
  );
  assert.deepEqual(frames[0], { type: 'data', streamId: 1, fin: false, data: Buffer.from('hello') });
  assert.deepEqual(frames[2], { type: 'rst_stream', streamId: 3, status: 5 });
});

test('a data frame with FIN and no payload is what ends a stream', () => {
  const f = decodeFrame(encodeData(5, Buffer.alloc(0), true));
  assert.deepEqual(f, { type: 'data', streamId: 5, fin: true, data: Buffer.alloc(0) });
});

test('header blocks: lower-case names, NUL-separated values; upper case and duplicates are refused', () => {
  const block = encodeHeaderBlock(
    new Map([['x-stream-protocol-version', ['v4.channel.k8s.io', 'v3.channel.k8s.io']]]),
  );
  assert.deepEqual(decodeHeaderBlock(block).get('x-stream-protocol-version'), [
    'v4.channel.k8s.io',
    'v3.channel.k8s.io',
  ]);
  const upper = Buffer.concat([u32(1), u32(4), Buffer.from('Port'), u32(2), Buffer.from('80')]);
  assert.throws(() => decodeHeaderBlock(upper), /not lower case/);
  const dup = Buffer.concat([
    u32(2),
    ...[0, 1].flatMap(() => [u32(4), Buffer.from('port'), u32(2), Buffer.from('80')]),
  ]);
  assert.throws(() => decodeHeaderBlock(dup), /twice/);
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** A server and a client connection over real loopback TCP. */
async function pair(onStream: (s: SpdyStream) => string | undefined) {
  const server = net.createServer();
  const accepted = new Promise<SpdyConnection>((resolve) =>
    server.once('connection', (sock) => resolve(new SpdyConnection(sock, { role: 'server', onStream }))),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(sock, 'connect');
  const client = new SpdyConnection(sock, { role: 'client' });
  const srv = await accepted;
  return {
    client,
    srv,
    close: () => {
      client.destroy();
      srv.destroy();
      server.close();
    },
  };
}

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('streams carry data both ways with FIN, headers intact, many over one connection', async () => {
  const { client, close } = await pair((s) => {
    // An echo server that upper-cases, and names the stream's type.
    void readAll(s).then((b) => {
      s.end(`${s.header('streamtype')}:${b.toString().toUpperCase()}`);
    });
    return undefined;
  });
  try {
    const results = await Promise.all(
      ['stdin', 'stdout', 'error', 'data', 'resize'].map(async (type) => {
        const s = await client.openStream({ streamType: type, port: '80' });
        s.end(`hello ${type}`);
        return (await readAll(s)).toString();
      }),
    );
    assert.deepEqual(results, [
      'stdin:HELLO STDIN',
      'stdout:HELLO STDOUT',
      'error:HELLO ERROR',
      'data:HELLO DATA',
      'resize:HELLO RESIZE',
    ]);
  } finally {
    close();
  }
});

test('8 MiB through one stream arrive intact, past any 64 KiB window', async () => {
  const { client, close } = await pair((s) => {
    s.pipe(s); // echo
    return undefined;
  });
  try {
    const payload = randomBytes(8 * 1024 * 1024);
    const s = await client.openStream({ streamtype: 'stdin' });
    const back = readAll(s);
    s.end(payload);
    const got = await back;
    assert.equal(got.length, payload.length);
    assert.ok(got.equals(payload));
  } finally {
    close();
  }
});

test('a refused stream is reset; a reset stream closes without an error event', async () => {
  let serverSide: SpdyStream | undefined;
  const { client, close } = await pair((s) => {
    if (s.header('streamtype') === 'bogus') return 'invalid stream type';
    serverSide = s;
    return undefined;
  });
  try {
    await assert.rejects(client.openStream({ streamtype: 'bogus' }), /reset before the reply/);
    const s = await client.openStream({ streamtype: 'data' });
    const closed = once(serverSide!, 'close');
    s.reset();
    await closed;
    assert.equal(serverSide!.resetStatus, 5);
  } finally {
    close();
  }
});

test('PINGs from the peer are echoed', async () => {
  const server = net.createServer(
    (sock) => new SpdyConnection(sock, { role: 'server', onStream: () => undefined }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  try {
    await once(sock, 'connect');
    sock.write(encodePing(41));
    const [chunk] = (await once(sock, 'data')) as [Buffer];
    assert.deepEqual(decodeFrame(chunk), { type: 'ping', id: 41 });
  } finally {
    sock.destroy();
    server.close();
  }
});

test('garbage instead of frames drops the connection', async () => {
  let closed = false;
  const server = net.createServer((sock) => {
    const c = new SpdyConnection(sock, { role: 'server', onStream: () => undefined });
    c.on('close', () => (closed = true));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  try {
    await once(sock, 'connect');
    // A control frame of SPDY version 2.
    sock.write(Buffer.from([0x80, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]));
    await once(sock, 'close');
    assert.ok(closed);
  } finally {
    sock.destroy();
    server.close();
  }
});
