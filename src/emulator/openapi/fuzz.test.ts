import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { ACTIONS } from './actions/index.ts';
import type { RunningEmulator } from '../server.ts';
import {
  callAction,
  type EciClient,
  sdkClient,
  startTestEmulator,
} from '../../../test/support/emulator-sdk.ts';

/**
 * Malformed requests, generated from a seed, against a running emulator: correctly signed ones with
 * odd parameters for every action, and raw ones broken at the HTTP, signature and encoding level. The
 * emulator must answer every one in the cloud's error shape (or succeed), never with a 5xx, a stack
 * trace or an unexplained parameter error, and must still serve afterwards. FUZZ_SEED and
 * FUZZ_REQUESTS replay or widen the run.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20260511);
const SIGNED = Number(process.env.FUZZ_REQUESTS ?? 450);
const RAW = Math.ceil(SIGNED / 3);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES = [
  '',
  ' ',
  '-1',
  '0',
  '99999999999999999999',
  '1.5',
  'NaN',
  'true',
  'null',
  '[',
  '[1,2]',
  '["a",{}]',
  '{"__proto__":{"x":1}}',
  'x'.repeat(5000),
  '\u0000',
  'é中文',
  '../../etc/passwd',
  '<script>',
  '%zz',
  'eci-does-not-exist',
  'vsw-emulator-h',
  'sg-emulator',
];
const ODD_SUFFIXES = [
  '',
  '.1',
  '.0',
  '.99999',
  '.1.Name',
  '.1.Key',
  '.__proto__',
  '..',
  '.1.1.1.1',
  '.-1',
  '.1e3',
];

let emu: RunningEmulator;
let eci: EciClient;
const logLines: string[] = [];

before(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  emu = await startTestEmulator({}, { logger: pino({ level: 'info' }, sink) });
  eci = sdkClient(emu, { readTimeout: 10_000 });
});

after(async () => {
  await emu.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

function checkAnswer(what: string, a: Answer, counts: Map<string, number>): void {
  const code = String(a.body.Code ?? (a.body.error as { code?: string } | undefined)?.code ?? a.status);
  counts.set(code, (counts.get(code) ?? 0) + 1);
  assert.ok(a.status < 500, `${what}: answered ${a.status} ${a.text.slice(0, 300)}`);
  assert.ok(
    !/\n\s+at |\.ts:\d+|node:internal/.test(a.text),
    `${what}: a stack trace in ${a.text.slice(0, 500)}`,
  );
  const adminError = a.body.error as { code?: unknown; message?: unknown } | undefined;
  if (a.status >= 400 && adminError !== undefined) {
    // The admin API (/_emulator/) answers in its own shape.
    assert.equal(typeof adminError.code, 'string', `${what}: no code in ${a.text.slice(0, 300)}`);
    assert.ok(String(adminError.message ?? '').length > 0, `${what}: no message`);
  } else if (a.status >= 400) {
    assert.equal(typeof a.body.Code, 'string', `${what}: no Code in ${a.text.slice(0, 300)}`);
    assert.equal(typeof a.body.RequestId, 'string', `${what}: no RequestId`);
    const message = String(a.body.Message ?? '');
    assert.ok(message.length > 0, `${what}: no Message`);
    if (/^(MissingParameter|InvalidParameter)/.test(String(a.body.Code))) {
      assert.match(
        message,
        /"[^"]+"|Id: \S+/,
        `${what}: ${String(a.body.Code)} names no parameter: ${message}`,
      );
    }
  }
}

describe(`malformed requests against the emulator (seed ${SEED})`, () => {
  it(`${SIGNED} signed requests with odd parameters, ${RAW} broken raw requests: no 5xx, no stack trace, every parameter error names its parameter`, async () => {
    const r = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const actions = [...Object.keys(ACTIONS), 'toString', 'Bogus'];
    const counts = new Map<string, number>();

    for (let i = 0; i < SIGNED; i++) {
      let action: string;
      let query: Record<string, string>;
      if (r() < 0.5) {
        // A valid create with one or two values spoiled: reaches the deep checks.
        action = 'CreateContainerGroup';
        query = validCreate(i);
        const keys = Object.keys(query);
        const n = 1 + Math.floor(r() * 2);
        for (let k = 0; k < n; k++) {
          if (r() < 0.7) query[pick(keys)] = pick(ODD_VALUES);
          else query[`${pick(keys)}${pick(ODD_SUFFIXES)}`] = pick(ODD_VALUES);
        }
      } else {
        action = pick(actions);
        const known = ACTIONS[action]?.params ?? ['RegionId'];
        query = {};
        if (r() < 0.8) query.RegionId = r() < 0.9 ? emu.regionId : pick(ODD_VALUES);
        const n = 1 + Math.floor(r() * 6);
        for (let k = 0; k < n; k++) query[`${pick(known)}${pick(ODD_SUFFIXES)}`] = pick(ODD_VALUES);
      }
      let answer: Answer;
      try {
        const body = await callAction(eci, action, query);
        answer = { status: 200, body, text: JSON.stringify(body) };
      } catch (err) {
        const e = err as { data?: Record<string, unknown>; message?: string };
        const data = e.data ?? {};
        answer = { status: Number(data.statusCode ?? 0), body: data, text: JSON.stringify(data) };
        if (answer.status === 0)
          assert.fail(
            `signed ${action} ${JSON.stringify(query).slice(0, 300)}: no HTTP answer: ${e.message}`,
          );
      }
      checkAnswer(`signed ${action} ${JSON.stringify(query).slice(0, 200)}`, answer, counts);
    }

    for (let i = 0; i < RAW; i++) {
      const req = rawRequest(r, pick);
      const answer = await send(req);
      if (answer === null) continue; // the server closed a request it could not frame: allowed
      checkAnswer(
        `raw ${req.method} ${req.path.slice(0, 120)} ${JSON.stringify(req.headers).slice(0, 200)}`,
        answer,
        counts,
      );
    }

    const health = (await (await fetch(`${emu.adminUrl}/health`)).json()) as { ok: boolean };
    assert.equal(health.ok, true, 'still serving');
    const unexpected = logLines.filter((l) => /failed unexpectedly|"level":(50|60)/.test(l));
    assert.deepEqual(unexpected, [], 'no unexpected failure was logged');
    console.log(
      `emulator fuzz: ${SIGNED + RAW} requests, answers by code ${JSON.stringify(Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])))}`,
    );
  });
});

function validCreate(i: number): Record<string, string> {
  return {
    RegionId: emu.regionId,
    SecurityGroupId: 'sg-emulator',
    VSwitchId: 'vsw-emulator-h',
    ContainerGroupName: `fuzz-${i}`,
    RestartPolicy: 'Always',
    Cpu: '1',
    Memory: '2',
    'Container.1.Name': 'app',
    'Container.1.Image': 'nginx',
    'Container.1.Cpu': '1',
    'Container.1.Memory': '2',
    'Container.1.Command.1': 'sleep',
    'Container.1.Port.1.Port': '80',
    'Container.1.Port.1.Protocol': 'TCP',
    'Container.1.EnvironmentVar.1.Key': 'A',
    'Container.1.EnvironmentVar.1.Value': 'b',
    'Container.1.VolumeMount.1.Name': 'v',
    'Container.1.VolumeMount.1.MountPath': '/v',
    'Container.1.ReadinessProbe.TcpSocket.Port': '80',
    'Volume.1.Name': 'v',
    'Volume.1.Type': 'EmptyDirVolume',
    'Tag.1.Key': 'k',
    'Tag.1.Value': 'v',
    'DnsConfig.NameServer.1': '1.1.1.1',
    'HostAliase.1.Ip': '10.0.0.1',
    'HostAliase.1.Hostname.1': 'db',
  };
}

interface Raw {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

function rawRequest(r: () => number, pick: <T>(xs: readonly T[]) => T): Raw {
  const date = pick([
    new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    'yesterday',
    '2000-01-01T00:00:00Z',
    '',
    '9999-99-99T99:99:99Z',
  ]);
  const headers: Record<string, string> = {
    'x-acs-action': pick([
      'DescribeContainerGroups',
      'CreateContainerGroup',
      '',
      '__proto__',
      'x'.repeat(300),
    ]),
    'x-acs-version': pick(['2018-08-08', '2014-05-26', '', '2018-08-08; DROP']),
    'x-acs-date': date,
    'x-acs-signature-nonce': pick(['n1', '', 'x'.repeat(1000)]),
  };
  const auth = pick([
    undefined,
    '',
    'ACS3-HMAC-SHA256',
    'ACS3-HMAC-SHA256 Credential=',
    'ACS3-HMAC-SHA256 Credential=LTAI-emulator,SignedHeaders=host,Signature=00',
    'ACS3-HMAC-SHA256 Credential=nobody,SignedHeaders=,Signature=zz',
    'Basic Zm9vOmJhcg==',
    'ACS3-HMAC-SHA256 ,,,==,',
  ]);
  if (auth !== undefined) headers.authorization = auth;
  if (r() < 0.3)
    headers['content-type'] = pick([
      'application/x-www-form-urlencoded',
      'application/json',
      'text/plain',
      '',
    ]);
  const query = pick([
    '',
    '?Action=DescribeContainerGroups&Version=2018-08-08&RegionId=cn-hangzhou',
    '?%zz=1',
    '?a=%E0%A4%A',
    '?Signature=x&SignatureMethod=HMAC-SHA1&AccessKeyId=LTAI-emulator&Timestamp=2020-01-01T00:00:00Z&SignatureNonce=1&Action=DescribeContainerGroups&Version=2018-08-08',
    '?Signature=x&SignatureMethod=MD5',
    '?Container.1.Name=a&Container.1.Name=b&__proto__.x=1',
    `?${'A'.repeat(20000)}=1`,
  ]);
  const body = pick([
    Buffer.alloc(0),
    Buffer.from('RegionId=cn-hangzhou&Action=DescribeContainerGroups'),
    Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a]),
    Buffer.from('%%%&&&==='),
    Buffer.from('{"RegionId": "cn-hangzhou"}'),
  ]);
  return {
    method: pick(['POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']),
    path: pick(['/', '//', '/x', '/_emulator', '/?', '/..']) + query.replace(/^\?/, r() < 0.5 ? '?' : '/?'),
    headers,
    body,
  };
}

/** Sends one raw request; null when the server closed the connection without an answer. */
function send(req: Raw): Promise<Answer | null> {
  return new Promise((resolve, reject) => {
    const c = request(
      `${emu.url}${req.path}`,
      { method: req.method, headers: { ...req.headers, 'content-length': String(req.body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let body: Record<string, unknown>;
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            body = {};
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
      },
    );
    c.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve(null) : reject(err),
    );
    c.end(req.body);
  });
}
