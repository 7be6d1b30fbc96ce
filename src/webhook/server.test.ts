import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { systemClock } from '../util/clock.ts';
import { FakeClock } from '../../test/support/fake-clock.ts';
import { ErrorCodes, hasCode } from '../util/errors.ts';
import { MemoryCertStore, splitPem } from './certs.ts';
import { EMPTY_PROFILE, type JsonPatchOp, type RoutingProfile } from './decide.ts';
import { startWebhook, type WebhookOptions, type WebhookServer } from './server.ts';

const log = pino({ level: 'silent' });
const DAY = 86_400_000;

interface Reply {
  status: number;
  body: string;
  peerSerial: string;
  peerSan: string | undefined;
}

/** One HTTPS call that trusts only `ca` and checks the 127.0.0.1 IP SAN, as the API server would. */
function call(port: number, ca: string, opts: { method?: string; path?: string; body?: string } = {}) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'POST',
        path: opts.path ?? '/mutate',
        ca,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const peer = (res.socket as TLSSocket).getPeerCertificate();
        const [peerSerial, peerSan] = [peer.serialNumber, peer.subjectaltname];
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            peerSerial,
            peerSan,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

function review(pod: object, over: Record<string, unknown> = {}) {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'uid-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'team-a',
      operation: 'CREATE',
      object: pod,
      ...over,
    },
  });
}

const podWith = (labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'web-', labels },
  spec: { containers: [{ name: 'c', image: 'nginx' }] },
});

function decodePatch(body: string): JsonPatchOp[] | undefined {
  const r = JSON.parse(body) as {
    response: { uid: string; allowed: boolean; patchType?: string; patch?: string };
  };
  assert.equal(r.response.uid, 'uid-1');
  assert.equal(r.response.allowed, true);
  if (r.response.patch === undefined) {
    assert.equal(r.response.patchType, undefined);
    return undefined;
  }
  assert.equal(r.response.patchType, 'JSONPatch');
  return JSON.parse(Buffer.from(r.response.patch, 'base64').toString()) as JsonPatchOp[];
}

function baseOptions(over: Partial<WebhookOptions> = {}): WebhookOptions {
  return {
    port: 0,
    host: '127.0.0.1',
    dnsNames: ['localhost'],
    ips: ['127.0.0.1'],
    getNamespaceLabels: async (name): Promise<Record<string, string>> =>
      name === 'eci-ns' ? { 'alibabacloud.com/eci': 'true' } : {},
    getProfile: () => EMPTY_PROFILE,
    clock: systemClock,
    log,
    ...over,
  };
}

describe('admission webhook over HTTPS', () => {
  let w: WebhookServer;
  let profile: RoutingProfile = EMPTY_PROFILE;
  let profileError: Error | undefined;
  let nsLookup: (name: string, signal: AbortSignal) => Promise<Record<string, string> | undefined>;
  const registered: { port: number; bundle: string }[] = [];

  before(async () => {
    w = await startWebhook(
      baseOptions({
        getNamespaceLabels: (name, signal) => nsLookup(name, signal),
        getProfile: () => {
          if (profileError) throw profileError;
          return profile;
        },
        namespaceLookupTimeoutMs: 100,
        register: async (bundle, port) => {
          registered.push({ bundle, port });
        },
      }),
    );
  });
  after(() => w.close());

  const resetLookup = () => {
    nsLookup = async (name): Promise<Record<string, string>> =>
      name === 'eci-ns' ? { 'alibabacloud.com/eci': 'true' } : {};
  };
  resetLookup();

  test('publishes the CA bundle with the bound port at start', () => {
    assert.equal(registered.length, 1);
    assert.equal(registered[0]?.port, w.port);
    assert.equal(registered[0]?.bundle, w.caBundle());
  });

  test('the served certificate verifies against the CA bundle and covers localhost and 127.0.0.1', async () => {
    const bundle = splitPem(w.caBundle());
    assert.equal(bundle.length, 1);
    assert.ok(new X509Certificate(bundle[0]!).ca);
    const r = await call(w.port, w.caBundle(), { method: 'GET', path: '/healthz' });
    assert.equal(r.status, 200);
    assert.equal(r.peerSan, 'DNS:localhost, IP Address:127.0.0.1');
  });

  test('a labelled pod gets the toleration and the nodeSelector', async () => {
    const r = await call(w.port, w.caBundle(), { body: review(podWith({ 'alibabacloud.com/eci': 'true' })) });
    assert.equal(r.status, 200);
    assert.equal(r.peerSerial, w.certificate().serialNumber);
    assert.deepEqual(decodePatch(r.body), [
      {
        op: 'add',
        path: '/spec/tolerations',
        value: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' }],
      },
      { op: 'add', path: '/spec/nodeSelector', value: { type: 'virtual-kubelet' } },
    ]);
  });

  test('a pod of a labelled namespace is routed (namespace taken from the request)', async () => {
    const r = await call(w.port, w.caBundle(), { body: review(podWith(), { namespace: 'eci-ns' }) });
    assert.equal(decodePatch(r.body)?.length, 2);
  });

  test('an unlabelled pod is allowed with no patch', async () => {
    const r = await call(w.port, w.caBundle(), { body: review(podWith()) });
    assert.equal(r.status, 200);
    assert.equal(decodePatch(r.body), undefined);
  });

  test('an eci-profile selector routes and adds its effect; reloads apply to the next request', async () => {
    profile = {
      selectors: [
        {
          name: 'batch',
          objectSelector: { matchLabels: { team: 'batch' } },
          effect: { annotations: { 'k8s.aliyun.com/eci-use-specs': '2-4Gi' }, labels: {} },
        },
      ],
    };
    try {
      const r = await call(w.port, w.caBundle(), { body: review(podWith({ team: 'batch' })) });
      assert.deepEqual(decodePatch(r.body)?.at(-1), {
        op: 'add',
        path: '/metadata/annotations',
        value: { 'k8s.aliyun.com/eci-use-specs': '2-4Gi' },
      });
    } finally {
      profile = EMPTY_PROFILE;
    }
  });

  test('UPDATE and non-pod requests pass untouched', async () => {
    const labelled = podWith({ 'alibabacloud.com/eci': 'true' });
    for (const over of [
      { operation: 'UPDATE' },
      { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } },
    ]) {
      const r = await call(w.port, w.caBundle(), { body: review(labelled, over) });
      assert.equal(decodePatch(r.body), undefined, JSON.stringify(over));
    }
  });

  test('malformed requests get 400, other paths and methods 404/405, /healthz 200', async () => {
    const ca = w.caBundle();
    assert.equal((await call(w.port, ca, { body: '{"apiVersion":' })).status, 400);
    const wrongVersion = JSON.parse(review(podWith())) as { apiVersion: string };
    wrongVersion.apiVersion = 'admission.k8s.io/v1beta1';
    const r = await call(w.port, ca, { body: JSON.stringify(wrongVersion) });
    assert.equal(r.status, 400);
    assert.match(r.body, /apiVersion/);
    assert.equal(
      (await call(w.port, ca, { body: '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}' }))
        .status,
      400,
    );
    assert.equal((await call(w.port, ca, { body: `"${'x'.repeat(9 << 20)}"` })).status, 413);
    assert.equal((await call(w.port, ca, { method: 'GET' })).status, 405);
    assert.equal((await call(w.port, ca, { path: '/other', body: '{}' })).status, 404);
    const health = await call(w.port, ca, { method: 'GET', path: '/healthz' });
    assert.deepEqual([health.status, health.body], [200, 'ok']);
  });

  test('bodies past the API server’s own 3 MiB request limit are refused unread (413)', async () => {
    const big = review({ ...podWith(), filler: 'x'.repeat(4 << 20) });
    assert.equal((await call(w.port, w.caBundle(), { body: big })).status, 413);
  });

  test('a pod of 2 MiB is routed (parsed off the event loop)', async () => {
    const pod = { ...podWith({ 'alibabacloud.com/eci': 'true' }), filler: 'x'.repeat(2 << 20) };
    const r = await call(w.port, w.caBundle(), { body: review(pod) });
    assert.equal(r.status, 200);
    assert.ok(decodePatch(r.body)?.some((op) => op.path === '/spec/nodeSelector'));
  });

  test('the namespace is the request’s, not what the object claims', async () => {
    const pod = podWith({ 'alibabacloud.com/eci': 'true' });
    const claims = { ...pod, metadata: { ...pod.metadata, namespace: 'team-a' } };
    const r = await call(w.port, w.caBundle(), { body: review(claims, { namespace: 'kube-system' }) });
    assert.equal(decodePatch(r.body), undefined, 'a kube-system pod is never routed, whatever it says');
  });

  test('an unexpected internal error fails open: allowed, no patch', async () => {
    profileError = new Error('boom');
    try {
      const r = await call(w.port, w.caBundle(), {
        body: review(podWith({ 'alibabacloud.com/eci': 'true' })),
      });
      assert.equal(r.status, 200);
      assert.equal(decodePatch(r.body), undefined);
    } finally {
      profileError = undefined;
    }
  });

  test('a namespace lookup that hangs is cut at its budget; pod labels still route', async () => {
    nsLookup = (_name, signal) =>
      new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    try {
      const started = Date.now();
      const byLabel = await call(w.port, w.caBundle(), {
        body: review(podWith({ eci: 'true' }), { namespace: 'eci-ns' }),
      });
      assert.equal(decodePatch(byLabel.body)?.length, 2);
      const byNamespace = await call(w.port, w.caBundle(), {
        body: review(podWith(), { namespace: 'eci-ns' }),
      });
      assert.equal(decodePatch(byNamespace.body), undefined);
      assert.ok(Date.now() - started < 2_000);
    } finally {
      resetLookup();
    }
  });
});

describe('webhook certificates', () => {
  test('a failure to publish the CA bundle at start fails startWebhook and frees the port', async () => {
    let port = 0;
    await assert.rejects(
      startWebhook(
        baseOptions({
          register: async (_b, p) => {
            port = p;
            throw new Error('forbidden');
          },
        }),
      ),
      /forbidden/,
    );
    assert.ok(port > 0);
    await assert.rejects(call(port, 'x'), /ECONNREFUSED/);
  });

  test('a second replica adopts the stored certificate instead of issuing its own', async () => {
    const store = new MemoryCertStore();
    const a = await startWebhook(baseOptions({ certStore: store }));
    const b = await startWebhook(baseOptions({ certStore: store }));
    try {
      assert.equal(b.certificate().serialNumber, a.certificate().serialNumber);
      assert.equal(b.caBundle(), a.caBundle());
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('rotation: re-issued before expiry, trusted first, then swapped without a restart', async () => {
    // Start 31 days in the past with 60-day certificates: after 31 fake days 29 are left, under the
    // 30-day threshold, while both certificates are valid in real time (TLS checks use the real clock).
    const clock = new FakeClock(Date.now() - 31 * DAY);
    const store = new MemoryCertStore();
    const events: string[] = [];
    // The hook runs inside startWebhook too, before there is a handle to ask.
    const handle: { w?: WebhookServer } = {};
    const w = await startWebhook(
      baseOptions({
        clock,
        certStore: store,
        certValidityMs: 60 * DAY,
        renewBeforeMs: 30 * DAY,
        checkIntervalMs: DAY,
        register: async (bundle) => {
          events.push(
            `register ${splitPem(bundle).length} CAs while serving ${handle.w?.certificate().serialNumber ?? 'none'}`,
          );
        },
      }),
    );
    handle.w = w;
    const replica = await startWebhook(
      baseOptions({ clock, certStore: store, certValidityMs: 60 * DAY, checkIntervalMs: 1e12 }),
    );
    try {
      const first = w.certificate().serialNumber;
      const oldCa = w.caBundle();
      const before = await call(w.port, oldCa, { body: review(podWith()) });
      assert.equal(before.peerSerial, first);

      await clock.advance(29 * DAY);
      assert.equal(await w.checkCertificate(), 'unchanged', '31 days left is not yet under the threshold');
      await clock.advance(2 * DAY);
      // The daily timer fires at day 31; wait for it to finish issuing (key generation is async).
      for (let i = 0; i < 200 && w.certificate().serialNumber === first; i++) await delay(25);
      const second = w.certificate().serialNumber;
      assert.notEqual(second, first, 'a new certificate is served');

      const bundle = splitPem(w.caBundle());
      assert.equal(bundle.length, 2, 'new CA plus the previous one, still valid');
      assert.equal(bundle[1], splitPem(oldCa)[0]);
      assert.deepEqual(events.slice(0, 1), ['register 1 CAs while serving none'], 'at start');
      assert.ok(
        events.includes(`register 2 CAs while serving ${first}`),
        `the new bundle is published before the swap: ${events.join(' | ')}`,
      );

      // Same server, same port: new connections get the new certificate, verified by the new bundle.
      const afterRotation = await call(w.port, w.caBundle(), { body: review(podWith()) });
      assert.equal(afterRotation.status, 200);
      assert.equal(afterRotation.peerSerial, second);
      // Until its next check the other replica still serves the old certificate, which the API
      // server still trusts through the previous CA kept in the bundle.
      const stale = await call(replica.port, w.caBundle(), { body: review(podWith()) });
      assert.equal(stale.peerSerial, first);
      // The other replica adopts the stored certificate at its next check.
      assert.equal(await replica.checkCertificate(), 'rotated');
      assert.equal(replica.certificate().serialNumber, second);
      assert.equal(await replica.checkCertificate(), 'unchanged');
    } finally {
      await Promise.all([w.close(), replica.close()]);
    }
  });

  test('a port already in use is reported as such', async () => {
    const a = await startWebhook(baseOptions());
    try {
      await assert.rejects(startWebhook(baseOptions({ port: a.port })), (err: Error) =>
        hasCode(err, ErrorCodes.PORT_IN_USE),
      );
    } finally {
      await a.close();
    }
  });
});
