// The kubelet API server against a provider that answers from memory: routing, status codes, the
// SPDY and WebSocket stream protocols (with our own SPDY client; the e2e tests use kube-apiserver's),
// port-forward both ways, logs options, stats and metrics formats.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import WebSocket from 'ws';
import type { LogLine, PodIOProvider, PodUsage } from '../providers/provider.ts';
import { systemClock } from '../util/clock.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { issueServingCertificate } from '../webhook/certs.ts';
import { LogFollowHub } from './log-follow.ts';
import { route, startKubeletApi, type KubeletApi } from './server.ts';
import { SpdyConnection, type SpdyStream } from './spdy/connection.ts';
import { UsageReader } from './stats.ts';

const log = pino({ level: 'silent' });
const T0 = Date.parse('2025-06-01T10:00:00Z');
const stamp = (s: number) => new Date(T0 + s * 1000).toISOString().replace('Z', '000000Z');

const pod: V1Pod = {
  metadata: { name: 'web', namespace: 'shop', uid: 'uid-1' },
  spec: { containers: [{ name: 'app', image: 'busybox' }] },
  status: {
    phase: 'Running',
    startTime: new Date(T0),
    containerStatuses: [
      {
        name: 'app',
        image: 'busybox',
        imageID: '',
        ready: true,
        restartCount: 0,
        state: { terminated: { exitCode: 0 } },
      },
    ],
  },
};

const LINES: LogLine[] = [1, 2, 3, 4, 5].map((i) => ({ time: stamp(i), text: `line ${i}` }));

let echo: net.Server;
let echoPort = 0;

const provider: PodIOProvider = {
  async containerLogs(_ref, read) {
    if (read.previous)
      throw new ProductError(ErrorCodes.INVALID_INPUT, 'previous terminated container "app" not found');
    return LINES;
  },
  async exec(_ref, command, io) {
    const [cmd, ...args] = command;
    if (cmd === 'exit') return { exitCode: Number(args[0]) };
    if (cmd === 'fail') return { error: 'the backend broke' };
    if (cmd === 'cat') {
      for await (const chunk of io.stdin!) io.stdout!.write(chunk);
      io.stdout!.end();
      return { exitCode: 0 };
    }
    if (cmd === 'sizes') {
      for await (const s of io.resize!) {
        io.stdout!.write(`${s.width}x${s.height}\n`);
        if (s.width === 0) break;
      }
      io.stdout!.end();
      return { exitCode: 0 };
    }
    io.stdout?.end(`${command.join(' ')}\n`);
    return { exitCode: 0 };
  },
  async attach() {
    return { exitCode: 0 };
  },
  async portForward(_pod, port) {
    if (port === 9) throw new ProductError(ErrorCodes.ECI_API, 'connection refused');
    const s = net.connect(echoPort, '127.0.0.1');
    await once(s, 'connect');
    return s;
  },
  async podUsage(pods) {
    const u: PodUsage = {
      uid: 'uid-1',
      time: T0,
      cpu: { usageNanoCores: 5e6, usageCoreNanoSeconds: 3e9 },
      memory: { workingSetBytes: 1 << 20, usageBytes: 2 << 20 },
      containers: [
        {
          name: 'app',
          time: T0,
          startTime: T0 - 60_000,
          cpu: { usageNanoCores: 5e6, usageCoreNanoSeconds: 3e9 },
          memory: { workingSetBytes: 1 << 20, usageBytes: 2 << 20 },
        },
      ],
    };
    return new Map(pods.length ? [['uid-1', u]] : []);
  },
};

let api: KubeletApi;
let base = '';

before(async () => {
  echo = net.createServer((s) => s.pipe(s));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  echoPort = (echo.address() as net.AddressInfo).port;
  const m = await issueServingCertificate({ dnsNames: ['localhost'], ips: ['127.0.0.1'], now: Date.now() });
  api = await startKubeletApi({
    port: 0,
    host: '127.0.0.1',
    nodeName: 'vk',
    cert: { current: { certPem: m.certPem, keyPem: m.keyPem }, onChange: () => undefined },
    clientCA: { pem: undefined, onChange: () => undefined },
    auth: {
      check: async () => ({
        ok: true,
        user: { name: 'tester', groups: [] },
        access: { verb: 'get', subresource: 'proxy' },
      }),
    },
    pods: { get: (ns, name) => (ns === 'shop' && name === 'web' ? pod : undefined), list: () => [pod] },
    provider,
    follow: new LogFollowHub({ clock: systemClock, log, callsPerMinute: 300 }),
    usage: new UsageReader({
      pods: () => [pod],
      read: (p, s) => provider.podUsage(p, s),
      clock: systemClock,
    }),
    startedAt: T0,
    clock: systemClock,
    log,
    streamCreationTimeoutMs: 2000,
  });
  base = `https://127.0.0.1:${api.port}`;
});

after(async () => {
  await api.close();
  echo.close();
});

function get(
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    https
      .request(`${base}${path}`, { method, rejectUnauthorized: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      })
      .on('error', reject)
      .end();
  });
}

/** Opens an upgraded TLS connection the way kube-apiserver does for SPDY. */
async function spdyUpgrade(
  path: string,
  protocols: string[],
): Promise<{ status: number; headers: string; socket: tls.TLSSocket }> {
  const socket = tls.connect({ host: '127.0.0.1', port: api.port, rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  socket.write(
    [
      `POST ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Connection: Upgrade',
      'Upgrade: SPDY/3.1',
      ...protocols.map((p) => `X-Stream-Protocol-Version: ${p}`),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
  let head = '';
  while (!head.includes('\r\n\r\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    head += chunk.toString('latin1');
  }
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);
  return { status, headers: head.slice(0, head.indexOf('\r\n\r\n')), socket };
}

async function readAll(s: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const c of s) out += c.toString();
  return out;
}

describe('routes', () => {
  const cases: [string, string | undefined][] = [
    ['/healthz', 'healthz'],
    ['/pods', 'pods'],
    ['/stats/summary', 'summary'],
    ['/metrics/resource', 'resource'],
    ['/containerLogs/ns/p/c', 'logs'],
    ['/exec/ns/p/c', 'exec'],
    ['/exec/ns/p/uid/c', 'exec'],
    ['/attach/ns/p/c', 'attach'],
    ['/portForward/ns/p', 'portForward'],
    ['/portForward/ns/p/uid', 'portForward'],
    ['/containerLogs/ns/p', undefined],
    ['/exec/ns', undefined],
    ['/metrics/cadvisor', undefined],
    ['/nothing', undefined],
  ];
  for (const [path, kind] of cases)
    test(`${path} → ${kind ?? '404'}`, () => assert.equal(route(path)?.kind, kind));
});

describe('plain endpoints', () => {
  test('/healthz answers ok, /pods lists the node’s pods', async () => {
    assert.deepEqual(await get('/healthz').then((r) => [r.status, r.body]), [200, 'ok']);
    const pods = JSON.parse((await get('/pods')).body) as { kind: string; items: V1Pod[] };
    assert.equal(pods.kind, 'PodList');
    assert.deepEqual(
      pods.items.map((p) => p.metadata?.name),
      ['web'],
    );
  });

  test('unknown pod, unknown container and unknown path are 404', async () => {
    assert.equal((await get('/containerLogs/shop/nope/app')).status, 404);
    const c = await get('/containerLogs/shop/web/nope');
    assert.equal(c.status, 404);
    assert.match(c.body, /container "nope" not found in pod "web"/);
    assert.equal((await get('/spec')).status, 404);
  });

  test('an undecodable or invalid log query is 400 and names the parameter', async () => {
    for (const [q, name] of [
      ['tailLines=abc', 'tailLines'],
      ['tailLines=-1', 'tailLines'],
      ['sinceSeconds=0', 'sinceSeconds'],
      ['sinceTime=yesterday', 'sinceTime'],
      ['follow=perhaps', 'follow'],
      ['limitBytes=0', 'limitBytes'],
    ]) {
      const r = await get(`/containerLogs/shop/web/app?${q}`);
      assert.equal(r.status, 400, q);
      assert.match(r.body, new RegExp(name!), q);
    }
    const both = await get('/containerLogs/shop/web/app?sinceSeconds=5&sinceTime=2025-06-01T10:00:00Z');
    assert.equal(both.status, 400);
  });

  test('exec without an upgrade is refused with 400', async () => {
    assert.equal((await get('/exec/shop/web/app?command=true&output=1', 'POST')).status, 400);
  });
});

describe('logs', () => {
  const body = async (q: string) => (await get(`/containerLogs/shop/web/app?${q}`)).body;
  test('the whole log, then tail, since, timestamps and limitBytes as kubelet applies them', async () => {
    assert.equal(await body(''), 'line 1\nline 2\nline 3\nline 4\nline 5\n');
    assert.equal(await body('tailLines=2'), 'line 4\nline 5\n');
    assert.equal(await body('tail=all'), 'line 1\nline 2\nline 3\nline 4\nline 5\n');
    assert.equal(await body(`sinceTime=${new Date(T0 + 4000).toISOString()}`), 'line 4\nline 5\n');
    assert.equal(await body('tailLines=1&timestamps=true'), `${stamp(5)} line 5\n`);
    assert.match(stamp(5), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
    assert.equal(await body('limitBytes=10'), 'line 1\nlin');
  });
  test('a container without a previous run: 400 with the reason', async () => {
    const r = await get('/containerLogs/shop/web/app?previous=true');
    assert.equal(r.status, 400);
    assert.match(r.body, /previous terminated container/);
  });
});

describe('stats', () => {
  test('/stats/summary has the node, the pod and its container with cpu and memory', async () => {
    const s = JSON.parse((await get('/stats/summary')).body) as {
      node: { nodeName: string; cpu: { usageNanoCores: number }; memory: { workingSetBytes: number } };
      pods: {
        podRef: { name: string; uid: string };
        containers: { name: string; cpu: { usageCoreNanoSeconds: number } }[];
      }[];
    };
    assert.equal(s.node.nodeName, 'vk');
    assert.equal(s.node.cpu.usageNanoCores, 5e6);
    assert.equal(s.node.memory.workingSetBytes, 1 << 20);
    assert.deepEqual(s.pods[0]?.podRef, { name: 'web', namespace: 'shop', uid: 'uid-1' });
    assert.equal(s.pods[0]?.containers[0]?.cpu.usageCoreNanoSeconds, 3e9);
  });
  test('/metrics/resource carries the series metrics-server reads, with sample timestamps', async () => {
    const text = (await get('/metrics/resource')).body;
    const labels = 'container="app",namespace="shop",pod="web"';
    assert.match(text, new RegExp(`^container_cpu_usage_seconds_total\\{${labels}\\} 3 ${T0}$`, 'm'));
    assert.match(text, new RegExp(`^container_memory_working_set_bytes\\{${labels}\\} 1048576 ${T0}$`, 'm'));
    assert.match(
      text,
      new RegExp(`^container_start_time_seconds\\{${labels}\\} ${(T0 - 60_000) / 1000} ${T0}$`, 'm'),
    );
    assert.match(text, /^pod_cpu_usage_seconds_total\{namespace="shop",pod="web"\} 3 /m);
    assert.match(text, /^pod_memory_working_set_bytes\{namespace="shop",pod="web"\} 1048576 /m);
    assert.match(text, /^node_cpu_usage_seconds_total \d+/m);
    assert.match(text, /^node_memory_working_set_bytes 1048576 /m);
    assert.match(text, /^resource_scrape_error 0$/m);
    assert.match(text, /^# TYPE container_cpu_usage_seconds_total counter$/m);
  });
});

describe('exec and attach over SPDY/3.1', () => {
  test('v4: stdin reaches the command, stdout comes back, the error stream says Success', async () => {
    const { status, headers, socket } = await spdyUpgrade('/exec/shop/web/app?command=cat&input=1&output=1', [
      'v5.channel.k8s.io',
      'v4.channel.k8s.io',
      'v3.channel.k8s.io',
    ]);
    assert.equal(status, 101);
    assert.match(
      headers,
      /X-Stream-Protocol-Version: v4\.channel\.k8s\.io/,
      'v5 is not offered on SPDY; v4 is chosen',
    );
    const conn = new SpdyConnection(socket, { role: 'client' });
    const error = await conn.openStream({ streamtype: 'error' });
    const stdin = await conn.openStream({ streamtype: 'stdin' });
    const stdout = await conn.openStream({ streamtype: 'stdout' });
    const out = readAll(stdout);
    const status2 = readAll(error);
    stdin.end('hello through spdy');
    assert.equal(await out, 'hello through spdy');
    assert.deepEqual(JSON.parse(await status2), { metadata: {}, status: 'Success' });
    conn.destroy();
  });

  test('a non-zero exit code is a Failure with reason NonZeroExitCode and the code as a cause', async () => {
    const { socket } = await spdyUpgrade('/exec/shop/web/app?command=exit&command=3&output=1&error=1', [
      'v4.channel.k8s.io',
    ]);
    const conn = new SpdyConnection(socket, { role: 'client' });
    const error = await conn.openStream({ streamtype: 'error' });
    await conn.openStream({ streamtype: 'stdout' });
    await conn.openStream({ streamtype: 'stderr' });
    const s = JSON.parse(await readAll(error)) as Record<string, unknown>;
    assert.equal(s.status, 'Failure');
    assert.equal(s.reason, 'NonZeroExitCode');
    assert.deepEqual(s.details, { causes: [{ reason: 'ExitCode', message: '3' }] });
    assert.match(String(s.message), /command terminated with non-zero exit code/);
    conn.destroy();
  });

  test('with a TTY the resize stream delivers each size', async () => {
    const { socket } = await spdyUpgrade('/exec/shop/web/app?command=sizes&output=1&tty=1', [
      'v4.channel.k8s.io',
    ]);
    const conn = new SpdyConnection(socket, { role: 'client' });
    await conn.openStream({ streamtype: 'error' });
    const stdout = await conn.openStream({ streamtype: 'stdout' });
    const resize = await conn.openStream({ streamtype: 'resize' });
    const out = readAll(stdout);
    resize.write('{"Width":80,"Height":24}{"Width":120,');
    resize.write('"Height":40}');
    resize.write('{"Width":0,"Height":0}');
    assert.equal(await out, '80x24\n120x40\n0x0\n');
    conn.destroy();
  });

  test('a backend failure is an InternalError status with its message', async () => {
    const { socket } = await spdyUpgrade('/exec/shop/web/app?command=fail&output=1', ['v4.channel.k8s.io']);
    const conn = new SpdyConnection(socket, { role: 'client' });
    const error = await conn.openStream({ streamtype: 'error' });
    await conn.openStream({ streamtype: 'stdout' });
    const s = JSON.parse(await readAll(error)) as { status: string; reason: string; message: string };
    assert.equal(s.reason, 'InternalError');
    assert.match(s.message, /the backend broke/);
    conn.destroy();
  });

  test('no version in common is 403 with the versions we accept; none offered is 400', async () => {
    const none = await spdyUpgrade('/exec/shop/web/app?command=true&output=1', ['v9.channel.k8s.io']);
    assert.equal(none.status, 403);
    assert.match(none.headers, /X-Accepted-Stream-Protocol-Versions: v4\.channel\.k8s\.io/);
    none.socket.destroy();
    const missing = await spdyUpgrade('/exec/shop/web/app?command=true&output=1', []);
    assert.equal(missing.status, 400);
    missing.socket.destroy();
  });

  test('an unknown pod is refused before the upgrade with 404', async () => {
    const r = await spdyUpgrade('/exec/shop/ghost/app?command=true&output=1', ['v4.channel.k8s.io']);
    assert.equal(r.status, 404);
    r.socket.destroy();
  });
});

/** A WebSocket to the kubelet API with the given subprotocols. */
async function ws(path: string, protocols: string[]): Promise<WebSocket> {
  const w = new WebSocket(`wss://127.0.0.1:${api.port}${path}`, protocols, { rejectUnauthorized: false });
  await once(w, 'open');
  return w;
}

function collect(w: WebSocket): Promise<{ data: Buffer; isBinary: boolean }[]> {
  const got: { data: Buffer; isBinary: boolean }[] = [];
  w.on('message', (data: Buffer, isBinary: boolean) => got.push({ data, isBinary }));
  return new Promise((resolve) => w.once('close', () => resolve(got)));
}

describe('exec over WebSocket', () => {
  test('v5: stdin, its close signal, stdout and the status', async () => {
    const w = await ws('/exec/shop/web/app?command=cat&input=1&output=1', [
      'v5.channel.k8s.io',
      'v4.channel.k8s.io',
    ]);
    assert.equal(w.protocol, 'v5.channel.k8s.io');
    const got = collect(w);
    w.send(Buffer.concat([Buffer.from([0]), Buffer.from('over websocket')]));
    w.send(Buffer.from([255, 0]));
    const msgs = await got;
    const stdout = msgs
      .filter((m) => m.data[0] === 1)
      .map((m) => m.data.subarray(1).toString())
      .join('');
    assert.equal(stdout, 'over websocket');
    const status = msgs.find((m) => m.data[0] === 3);
    assert.deepEqual(JSON.parse(status!.data.subarray(1).toString()), { metadata: {}, status: 'Success' });
  });

  test('v4 base64: text frames, the channel as a digit, the data base64', async () => {
    const w = await ws('/exec/shop/web/app?command=echo&command=hi&output=1', ['v4.base64.channel.k8s.io']);
    const msgs = await collect(w);
    const texts = msgs.map((m) => m.data.toString());
    const out = texts
      .filter((t) => t.startsWith('1'))
      .map((t) => Buffer.from(t.slice(1), 'base64').toString())
      .join('');
    assert.equal(out, 'echo hi\n');
    const status = texts.find((t) => t.startsWith('3'))!;
    assert.equal(JSON.parse(Buffer.from(status.slice(1), 'base64').toString()).status, 'Success');
  });
});

describe('port-forward', () => {
  test('SPDY: two forwarded connections over one upgrade, each paired by requestID', async () => {
    const { status, headers, socket } = await spdyUpgrade('/portForward/shop/web', ['portforward.k8s.io']);
    assert.equal(status, 101);
    assert.match(headers, /X-Stream-Protocol-Version: portforward\.k8s\.io/);
    const conn = new SpdyConnection(socket, { role: 'client' });
    const pair = async (id: string) => {
      const error = await conn.openStream({ streamtype: 'error', port: '80', requestid: id });
      const data: SpdyStream = await conn.openStream({ streamtype: 'data', port: '80', requestid: id });
      return { error, data };
    };
    const [a, b] = await Promise.all([pair('0'), pair('1')]);
    const ra = readAll(a.data);
    const rb = readAll(b.data);
    a.data.end('first connection');
    b.data.end('second connection');
    assert.equal(await ra, 'first connection');
    assert.equal(await rb, 'second connection');
    assert.equal(await readAll(a.error), '', 'nothing on the error stream');
    conn.destroy();
  });

  test('SPDY: a port that cannot be dialled is reported on the error stream; a bad port is refused', async () => {
    const { socket } = await spdyUpgrade('/portForward/shop/web', ['portforward.k8s.io']);
    const conn = new SpdyConnection(socket, { role: 'client' });
    const error = await conn.openStream({ streamtype: 'error', port: '9', requestid: '7' });
    await conn.openStream({ streamtype: 'data', port: '9', requestid: '7' });
    assert.match(await readAll(error), /error forwarding port 9 to pod shop\/web: connection refused/);
    await assert.rejects(conn.openStream({ streamtype: 'data', port: '70000', requestid: '8' }), /reset/);
    conn.destroy();
  });

  test('WebSocket: each channel starts with the port, data flows both ways', async () => {
    const w = await ws(`/portForward/shop/web?port=8080`, ['v4.channel.k8s.io']);
    const frames: Buffer[] = [];
    const seen = new Promise<void>((resolve) =>
      w.on('message', (d: Buffer) => {
        frames.push(d);
        if (Buffer.concat(frames.filter((f) => f[0] === 0).map((f) => f.subarray(1))).includes('ping'))
          resolve();
      }),
    );
    w.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping')]));
    await seen;
    const data = frames.filter((f) => f[0] === 0);
    assert.deepEqual(
      [...data[0]!.subarray(1)],
      [0x90, 0x1f],
      'the data channel starts with 8080, little-endian',
    );
    assert.deepEqual([...frames.find((f) => f[0] === 1)!.subarray(1)], [0x90, 0x1f]);
    w.close();
  });

  test('WebSocket: a missing port is 400', async () => {
    const w = new WebSocket(`wss://127.0.0.1:${api.port}/portForward/shop/web`, ['v4.channel.k8s.io'], {
      rejectUnauthorized: false,
    });
    const [, res] = (await once(w, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 400);
  });
});
