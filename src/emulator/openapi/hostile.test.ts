import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RunningEmulator } from '../server.ts';
import {
  acs3CanonicalRequest,
  acs3Signature,
  acs3StringToSign,
  percentEncode,
  sha256Hex,
} from './signature.ts';
import {
  callAction,
  type EciClient,
  sdkClient,
  sdkError,
  startTestEmulator,
} from '../../../test/support/emulator-sdk.ts';

/**
 * Hostile and malformed requests against a running emulator: each case here once broke it (a polluted
 * prototype, a 500 for an odd action name, ...). The answers must be the cloud's error shape, and a
 * bad request must never change how the next one is answered.
 */

let emu: RunningEmulator;
let eci: EciClient;

before(async () => {
  emu = await startTestEmulator();
  eci = sdkClient(emu);
});

after(async () => {
  await emu.close();
});

function createRequest(name: string): $Eci.CreateContainerGroupRequest {
  return new $Eci.CreateContainerGroupRequest({
    regionId: emu.regionId,
    containerGroupName: name,
    securityGroupId: emu.config.region.securityGroups[0]!.id,
    vSwitchId: emu.config.region.vSwitches[0]!.id,
    container: [
      new $Eci.CreateContainerGroupRequestContainer({ name: 'app', image: 'nginx', cpu: 1, memory: 2 }),
    ],
  });
}

describe('parameter names cannot reach object prototypes', () => {
  for (const key of ['__proto__.DryRun', 'constructor.prototype.DryRun', 'Tag.__proto__.DryRun']) {
    it(`${key}=true on one request leaves later creates alone`, async () => {
      await callAction(eci, 'DescribeContainerGroups', { RegionId: emu.regionId, [key]: 'true' }).catch(
        () => undefined,
      );
      assert.equal(({} as Record<string, unknown>).DryRun, undefined, 'Object.prototype is untouched');
      const r = await eci.createContainerGroup(createRequest(`proto-${key.length}`));
      assert.ok(r.body.containerGroupId?.startsWith('eci-'), 'the next create really creates');
    });
  }

  for (const action of ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf']) {
    it(`action ${action} is InvalidAction.NotFound, not a 500`, async () => {
      const e = await sdkError(() => callAction(eci, action, { RegionId: emu.regionId }));
      assert.equal(e.statusCode, 404);
      assert.equal(e.code, 'InvalidAction.NotFound');
    });
  }
});

/** One raw ACS3 request, signed over exactly `signed` (header names), as a client could send it. */
async function acs3(
  target: RunningEmulator,
  o: {
    action: string;
    query?: Record<string, string>;
    headers?: Record<string, string | undefined>;
    signed?: string[];
    /** Changes made to the headers after signing (a replay with something swapped). */
    tamper?: Record<string, string>;
    date?: Date;
    nonce?: string | undefined;
  },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const query = new Map(Object.entries({ RegionId: target.regionId, ...o.query }));
  const headers: Record<string, string> = {
    host: target.endpoint,
    'x-acs-action': o.action,
    'x-acs-version': '2018-08-08',
    'x-acs-date': (o.date ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'x-acs-content-sha256': sha256Hex(''),
  };
  const nonce = 'nonce' in o ? o.nonce : randomUUID();
  if (nonce !== undefined) headers['x-acs-signature-nonce'] = nonce;
  for (const [k, v] of Object.entries(o.headers ?? {})) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  const signed = o.signed ?? Object.keys(headers);
  const canonical = acs3CanonicalRequest({
    method: 'POST',
    path: '/',
    query,
    headers,
    signedHeaders: signed,
    payloadHash: sha256Hex(''),
  });
  const signature = acs3Signature(target.accessKeySecret, acs3StringToSign(canonical));
  const sent = { ...headers, ...o.tamper };
  delete (sent as Record<string, string | undefined>).host;
  const qs = [...query].map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&');
  const res = await fetch(`${target.url}/?${qs}`, {
    method: 'POST',
    headers: {
      ...sent,
      authorization: `ACS3-HMAC-SHA256 Credential=${target.accessKeyId},SignedHeaders=${[...signed].sort().join(';')},Signature=${signature}`,
    },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('replayed and re-purposed signatures', () => {
  it('a signed request without a nonce is refused, naming the nonce', async () => {
    const r = await acs3(emu, { action: 'DescribeContainerGroups', nonce: undefined });
    assert.equal(r.status, 400);
    assert.match(String(r.body.Message), /x-acs-signature-nonce/);
  });

  it('the same signed request twice: the second is refused', async () => {
    const nonce = randomUUID();
    assert.equal((await acs3(emu, { action: 'DescribeContainerGroups', nonce })).status, 200);
    const again = await acs3(emu, { action: 'DescribeContainerGroups', nonce });
    assert.equal(again.body.Code, 'SignatureNonceUsed');
  });

  it('a Describe signed over host only cannot be replayed as a DeleteContainerGroup', async () => {
    const r = await acs3(emu, {
      action: 'DescribeContainerGroups',
      query: { ContainerGroupId: 'eci-x' },
      signed: ['host'],
      tamper: { 'x-acs-action': 'DeleteContainerGroup' },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.Code, 'IncompleteSignature');
    assert.match(String(r.body.Message), /x-acs-action/);
  });

  for (const header of ['x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce']) {
    it(`${header} must be covered by the signature`, async () => {
      const r = await acs3(emu, {
        action: 'DescribeContainerGroups',
        signed: ['host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce'].filter(
          (h) => h !== header,
        ),
      });
      assert.equal(r.body.Code, 'IncompleteSignature');
      assert.match(String(r.body.Message), new RegExp(header));
    });
  }

  it('a nonce is remembered for as long as a request carrying it passes the timestamp check', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const clocked = await startTestEmulator(
      { auth: { maxClockSkewSeconds: 60, nonceTtlSeconds: 60 } },
      { now: () => now },
    );
    try {
      const nonce = randomUUID();
      // Signed by a client whose clock runs 59 s ahead: still inside the window.
      const date = new Date(now + 59_000);
      assert.equal((await acs3(clocked, { action: 'DescribeContainerGroups', nonce, date })).status, 200);
      now += 100_000; // past the nonce TTL, but the request's timestamp is only 41 s old
      const replay = await acs3(clocked, { action: 'DescribeContainerGroups', nonce, date });
      assert.equal(replay.body.Code, 'SignatureNonceUsed');
    } finally {
      await clocked.close();
    }
  });

  it('an RPC v1 request cannot be re-routed by an unsigned x-acs-action header', async () => {
    const v1 = sdkClient(emu, {
      signatureAlgorithm: 'v2',
      globalHeaders: { 'x-acs-action': 'DeleteContainerGroup' },
    });
    const e = await sdkError(() => callAction(v1, 'DescribeContainerGroups', { RegionId: emu.regionId }));
    assert.equal(e.code, 'IncompleteSignature');
  });
});

describe('large requests', () => {
  function bigRequest(name: string, bytes: number): $Eci.CreateContainerGroupRequest {
    const r = createRequest(name);
    r.container![0]!.environmentVar = Array.from(
      { length: Math.ceil(bytes / 1000) },
      (_, i) =>
        new $Eci.CreateContainerGroupRequestContainerEnvironmentVar({
          key: `K${i}`,
          value: 'v'.repeat(1000),
        }),
    );
    return r;
  }

  it('a valid pod whose parameters fill 200 KiB of URL is created (the SDK puts them all in the query)', async () => {
    const r = await eci.createContainerGroup(bigRequest('big', 200 * 1024));
    assert.ok(r.body.containerGroupId?.startsWith('eci-'));
  });

  it('past the limit the answer is the cloud error shape, not a bare 431', async () => {
    const e = await sdkError(() => eci.createContainerGroup(bigRequest('huge', 1200 * 1024)));
    assert.equal(e.statusCode, 431);
    assert.equal(e.code, 'RequestHeaderFieldsTooLarge');
    assert.ok(e.requestId);
  });

  it('a keep-alive connection still answers at once after a body that was too large', async () => {
    const { request } = await import('node:http');
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body: Buffer) =>
      new Promise<{ status: number; ms: number }>((resolve, reject) => {
        const started = Date.now();
        const req = request(
          `${emu.url}/?Action=DescribeContainerGroups`,
          { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    try {
      const big = await send(Buffer.alloc(2 * 1024 * 1024, 'a'));
      assert.equal(big.status, 413);
      const next = await send(Buffer.from('RegionId=x'));
      assert.equal(next.status, 400);
      assert.ok(next.ms < 2000, `the next request took ${next.ms} ms`);
    } finally {
      agent.destroy();
    }
  });
});

describe('admin API', () => {
  async function admin(path: string, init: RequestInit = {}) {
    const res = await fetch(`${emu.adminUrl}${path}`, init);
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
  }

  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    it(`refuses a ${type.split(';')[0]} POST, which a web page may send cross-site without asking`, async () => {
      const id = (await eci.createContainerGroup(createRequest(`csrf-${type.length}`))).body
        .containerGroupId!;
      const r = await admin(`/container-groups/${id}/status`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: '{"status":"Failed"}',
      });
      assert.equal(r.status, 415);
      const g = (await (await fetch(`${emu.adminUrl}/container-groups/${id}`)).json()) as { status: string };
      assert.notEqual(g.status, 'Failed', 'the refused request changed nothing');
    });
  }

  it('refuses a POST with no content type at all', async () => {
    const r = await admin('/reset', { method: 'POST' });
    assert.equal(r.status, 415);
  });

  it('refuses a request naming another host (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${emu.adminUrl}/state`, { headers: { host: 'attacker.example:80' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 403);
  });

  for (const bad of ['%E0%A4%A', '%', '%zz']) {
    it(`answers 400 for the bad percent-encoding ${bad} in a path`, async () => {
      const r = await admin(`/container-groups/${bad}`);
      assert.equal(r.status, 400);
      assert.equal(r.body.error?.code, 'InvalidPath');
    });
  }

  it('a keep-alive connection still answers at once after a body that was too large', async () => {
    const { request, Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (path: string, body: Buffer) =>
      new Promise<{ status: number; ms: number }>((resolve, reject) => {
        const started = Date.now();
        const req = request(
          `${emu.adminUrl}${path}`,
          { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    try {
      assert.equal((await send('/faults', Buffer.alloc(2 * 1024 * 1024, 'a'))).status, 413);
      const next = await send('/faults', Buffer.from('{"kind":"latency"}'));
      assert.equal(next.status, 400);
      assert.ok(next.ms < 2000, `the next request took ${next.ms} ms`);
    } finally {
      agent.destroy();
    }
  });
});
