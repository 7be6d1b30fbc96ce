import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { ExecServer, ExecSessions } from './exec.ts';
import type { ExecHandle } from './runtime/types.ts';

/** The exec WebSocket's channel protocol, against a real server, with a command that echoes stdin. */

const sessions = new ExecSessions(Date.now);
const resized: [number, number][] = [];
let base = '';

function echo(): ExecHandle {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let input = '';
  let settle!: (code: number) => void;
  stdin.on('data', (d: Buffer) => {
    input += d.toString();
    // A line ends the input too, for protocols without a stdin close.
    if (input.endsWith('\n')) stdin.end();
  });
  stdin.on('end', () => {
    stdout.end(`read:${input}`);
    stderr.end('done\n');
    settle(input.includes('fail') ? 3 : 0);
  });
  return {
    stdout,
    stderr,
    stdin,
    resize: (w, h) => resized.push([w, h]),
    exitCode: new Promise((r) => (settle = r)),
    kill: () => stdin.end(),
  };
}

const server = createServer();
const exec = new ExecServer({ sessions, start: () => echo(), logger: pino({ level: 'silent' }) });
server.on('upgrade', (req, socket, head: Buffer) => {
  if (!exec.handleUpgrade(req, socket, head)) socket.destroy();
});

before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/_emulator/exec/`;
});
after(async () => {
  exec.close();
  await new Promise((r) => server.close(r));
});

function connect(
  token: string,
  protocol: string,
  drive: (ws: WebSocket) => void,
): Promise<{ frames: (string | Buffer)[]; code: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base}${token}`, [protocol]);
    ws.binaryType = 'arraybuffer';
    const frames: (string | Buffer)[] = [];
    ws.onopen = () => drive(ws);
    ws.onmessage = (m) =>
      frames.push(typeof m.data === 'string' ? m.data : Buffer.from(m.data as ArrayBuffer));
    ws.onclose = (e) => resolve({ frames, code: e.code });
    ws.onerror = () => reject(new Error('websocket error'));
  });
}

const frame = (ch: number, data: string) => Buffer.concat([Buffer.from([ch]), Buffer.from(data)]);

describe('exec channel protocol', () => {
  it('v5: stdin, resize and stdin close in; stdout, stderr and the status out; then a normal close', async () => {
    const s = sessions.open('eci-1', 'c', ['cat'], true, true);
    const r = await connect(s.token, 'v5.channel.k8s.io', (ws) => {
      ws.send(frame(4, JSON.stringify({ Width: 80, Height: 24 })));
      ws.send(frame(0, 'abc'));
      ws.send(Buffer.from([255, 0]));
    });
    const byChannel = (ch: number) =>
      (r.frames as Buffer[])
        .filter((f) => f[0] === ch)
        .map((f) => f.subarray(1).toString())
        .join('');
    assert.equal(byChannel(1), 'read:abc');
    assert.equal(byChannel(2), 'done\n');
    assert.deepEqual(JSON.parse(byChannel(3)), { metadata: {}, status: 'Success' });
    assert.deepEqual(resized, [[80, 24]]);
    assert.equal(r.code, 1000);
  });

  it('base64.channel.k8s.io: text frames, channel digit then base64', async () => {
    const s = sessions.open('eci-1', 'c', ['cat'], false, true);
    const r = await connect(s.token, 'base64.channel.k8s.io', (ws) =>
      ws.send(`0${Buffer.from('hi\n').toString('base64')}`),
    );
    const decoded = r.frames.map((f) => {
      assert.equal(typeof f, 'string');
      return [Number(String(f)[0]), Buffer.from(String(f).slice(1), 'base64').toString()] as const;
    });
    assert.deepEqual(
      decoded.filter(([ch]) => ch !== 3).sort((a, b) => a[0] - b[0]),
      [
        [1, 'read:hi\n'],
        [2, 'done\n'],
      ],
    );
    assert.equal(JSON.parse(decoded.find(([ch]) => ch === 3)![1]).status, 'Success');
  });

  it('a failure carries the exit code in the status, as the kubelet sends it', async () => {
    const s = sessions.open('eci-1', 'c', ['x'], false, true);
    const r = await connect(s.token, 'v5.channel.k8s.io', (ws) => {
      ws.send(frame(0, 'fail'));
      ws.send(Buffer.from([255, 0]));
    });
    const st = JSON.parse(
      (r.frames as Buffer[])
        .find((f) => f[0] === 3)!
        .subarray(1)
        .toString(),
    ) as {
      status: string;
      reason: string;
      details: { causes: { reason: string; message: string }[] };
    };
    assert.deepEqual([st.status, st.reason], ['Failure', 'NonZeroExitCode']);
    assert.deepEqual(st.details.causes, [{ reason: 'ExitCode', message: '3' }]);
  });

  it('a session is used once; an unknown token is refused', async () => {
    const s = sessions.open('eci-1', 'c', ['cat'], false, true);
    await connect(s.token, 'v5.channel.k8s.io', (ws) => ws.send(Buffer.from([255, 0])));
    await assert.rejects(
      connect(s.token, 'v5.channel.k8s.io', () => undefined),
      /websocket error/,
    );
    await assert.rejects(
      connect('no-such-token', 'v5.channel.k8s.io', () => undefined),
      /websocket error/,
    );
  });
});
