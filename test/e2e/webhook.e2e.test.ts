// The admission webhook against the real control plane: registered through a URL on loopback, driven
// by the real kubectl the way the ACK documentation tells users to route pods.
//
// Isolation from the e2e files running in parallel on the same cluster: the configuration has its own
// name and only sees this file's namespaces (plus kube-system, to show the built-in exclusion holds),
// and every pod is held by a scheduling gate, so a routed pod never lands on another test's virtual
// node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import type { V1Pod, V1Toleration } from '@kubernetes/client-node';
import { pino } from 'pino';
import { createKubeClients, type KubeClients } from '../../src/kube/client.ts';
import { systemClock } from '../../src/util/clock.ts';
import { SecretCertStore } from '../../src/webhook/certs.ts';
import {
  admissionApi,
  deleteWebhookConfiguration,
  webhookRegistrar,
} from '../../src/webhook/configuration.ts';
import type { RoutingProfile } from '../../src/webhook/decide.ts';
import { NamespaceLabelCache } from '../../src/webhook/namespace-cache.ts';
import { parseSelectors } from '../../src/webhook/selectors.ts';
import {
  startWebhook,
  type ReviewRecord,
  type WebhookOptions,
  type WebhookServer,
} from '../../src/webhook/server.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { waitFor } from '../support/wait.ts';

const RUN = randomBytes(3).toString('hex');
const NS_POD = `wh-e2e-pod-${RUN}`; // unlabelled namespace; pods routed (or not) by their own labels
const NS_ECI = `wh-e2e-eci-${RUN}`; // labelled alibabacloud.com/eci=true during the test
const CONFIG = `eci-virtual-node-e2e-${RUN}`;
const SYSTEM_POD = `wh-e2e-${RUN}`;
const HOLD = '{"apiVersion":"v1","spec":{"schedulingGates":[{"name":"eci-virtual-node.e2e/hold"}]}}';

const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);
const log = pino({ level: process.env.E2E_LOG_LEVEL ?? 'warn' });

const OUR_TOLERATION = { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' };
const ours = (t: V1Toleration) =>
  t.key === OUR_TOLERATION.key && t.operator === 'Exists' && t.effect === OUR_TOLERATION.effect;

/** `kubectl run`, as the ACK docs show it, held by a scheduling gate. Returns the created pod. */
async function run(ns: string, name: string, labels?: string, overrides = HOLD): Promise<V1Pod> {
  await kubectl(
    '-n',
    ns,
    'run',
    name,
    '--image',
    'nginx',
    ...(labels ? ['-l', labels] : []),
    `--overrides=${overrides}`,
  );
  return json<V1Pod>('-n', ns, 'get', 'pod', name);
}

function assertRouted(pod: V1Pod) {
  assert.deepEqual(pod.spec?.nodeSelector, { type: 'virtual-kubelet' });
  assert.equal(pod.spec?.tolerations?.filter(ours).length, 1, JSON.stringify(pod.spec?.tolerations));
}

function assertUntouched(pod: V1Pod) {
  assert.equal(pod.spec?.nodeSelector, undefined);
  assert.equal((pod.spec?.tolerations ?? []).filter(ours).length, 0);
}

/** Every decision the webhook made, as it reported them (a pod the API server never sent is absent). */
const reviews: ReviewRecord[] = [];

/**
 * The webhook's decision about pod `ns/name`. "Unchanged" alone would also hold if the API server never
 * called the webhook (failurePolicy Ignore), so tests of pods left alone first prove it was asked.
 */
function decisionFor(ns: string, name: string): ReviewRecord {
  const r = reviews.filter((x) => x.namespace === ns && x.pod === name);
  assert.ok(r.length > 0, `the webhook was asked about ${ns}/${name}`);
  return r.at(-1)!;
}

/** POSTs an AdmissionReview to the webhook the way the API server does, trusting only its CA. */
function postReview(port: number, ca: string, body: object): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        ca,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('admission webhook routes pods to the virtual node', { timeout: 300_000 }, () => {
  let kube: KubeClients;
  const stop = new AbortController();
  let cache: NamespaceLabelCache;
  let cacheLoop: Promise<void>;
  let webhook: WebhookServer | undefined;
  let profile: RoutingProfile = { selectors: [] };
  let options: () => WebhookOptions;

  before(async () => {
    kube = await createKubeClients({ kubeconfig });
    for (const ns of [NS_POD, NS_ECI]) await kubectl('create', 'namespace', ns);
    cache = new NamespaceLabelCache({ kube, clock: systemClock, log });
    cacheLoop = cache.run(stop.signal);
    await cache.synced;
    const api = admissionApi(kube.kc);
    options = () => ({
      port: 0,
      host: '127.0.0.1',
      dnsNames: ['localhost'],
      ips: ['127.0.0.1'],
      getNamespaceLabels: (name, signal) => cache.get(name, signal),
      getProfile: () => profile,
      // The in-cluster path: the certificate lives in a Secret that restarts and replicas share.
      certStore: new SecretCertStore(kube.core, NS_POD, 'webhook-tls'),
      register: webhookRegistrar(
        api,
        {
          name: CONFIG,
          clientConfig: (port) => ({ url: `https://127.0.0.1:${port}/mutate` }),
          extraNamespaceSelector: [
            { key: 'kubernetes.io/metadata.name', operator: 'In', values: [NS_POD, NS_ECI, 'kube-system'] },
          ],
        },
        log,
      ),
      clock: systemClock,
      log,
      onReview: (r) => reviews.push(r),
    });
    webhook = await startWebhook(options());
  });

  after(async () => {
    await webhook?.close();
    // Left behind, the configuration would keep sending this run's namespaces to a dead port.
    await deleteWebhookConfiguration(admissionApi(kube.kc), CONFIG).catch(() => undefined);
    await kubectl(
      '-n',
      'kube-system',
      'delete',
      'pod',
      SYSTEM_POD,
      '--ignore-not-found',
      '--wait=false',
    ).catch(() => undefined);
    for (const ns of [NS_POD, NS_ECI]) {
      await kubectl('delete', 'namespace', ns, '--ignore-not-found', '--wait=false').catch(() => undefined);
    }
    stop.abort();
    await cacheLoop;
    await kube.close();
  });

  test('the configuration is registered with the documented policy', async () => {
    const c = await json<{ webhooks: Record<string, unknown>[] }>(
      'get',
      'mutatingwebhookconfiguration',
      CONFIG,
    );
    const w = c.webhooks[0]!;
    assert.equal(w.failurePolicy, 'Ignore');
    assert.equal(w.timeoutSeconds, 5);
    assert.equal(w.sideEffects, 'None');
    const client = w.clientConfig as { url: string; caBundle: string };
    assert.equal(client.url, `https://127.0.0.1:${webhook!.port}/mutate`);
    assert.equal(Buffer.from(client.caBundle, 'base64').toString(), webhook!.caBundle());
    const secret = await json<{ type: string }>('-n', NS_POD, 'get', 'secret', 'webhook-tls');
    assert.equal(secret.type, 'kubernetes.io/tls');
  });

  test('kubectl run -l alibabacloud.com/eci=true gets the toleration and nodeSelector', async () => {
    assertRouted(await run(NS_POD, 'nginx', 'alibabacloud.com/eci=true'));
  });

  test('the label wins over the pod own node selection; pod anti-affinity stays', async () => {
    const overrides = JSON.stringify({
      apiVersion: 'v1',
      spec: {
        schedulingGates: [{ name: 'eci-virtual-node.e2e/hold' }],
        nodeSelector: { pool: 'on-prem' },
        tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'pool', operator: 'In', values: ['on-prem'] }] },
              ],
            },
          },
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 1,
                podAffinityTerm: {
                  topologyKey: 'kubernetes.io/hostname',
                  labelSelector: { matchLabels: { a: 'b' } },
                },
              },
            ],
          },
        },
      },
    });
    const pod = await run(NS_POD, 'pinned', 'eci=true', overrides);
    assertRouted(pod);
    assert.ok(
      pod.spec?.tolerations?.some((t) => t.key === 'dedicated'),
      'the pod own toleration is kept',
    );
    assert.equal(pod.spec?.affinity?.nodeAffinity, undefined);
    assert.ok(pod.spec?.affinity?.podAntiAffinity);
  });

  test('kubectl label namespace X alibabacloud.com/eci=true routes every pod created in it', async () => {
    await kubectl('label', 'namespace', NS_ECI, 'alibabacloud.com/eci=true');
    // The cache follows the watch; the label must be seen before the pod is created.
    await waitFor(
      'namespace label in the cache',
      async () => (await cache.get(NS_ECI))?.['alibabacloud.com/eci'] === 'true',
    );
    assertRouted(await run(NS_ECI, 'nginx'));
  });

  test('a pod labelled alibabacloud.com/eci=false opts out in a labelled namespace', async () => {
    assertUntouched(await run(NS_ECI, 'opt-out', 'alibabacloud.com/eci=false'));
    const d = decisionFor(NS_ECI, 'opt-out');
    assert.equal(d.routed, false);
    assert.match(d.reason, /alibabacloud\.com\/eci=false opts out/);
  });

  test('a namespace the cache has not seen is read through from the API server', async () => {
    // Never run, so every lookup is a miss — as for a namespace created a moment ago.
    const cold = new NamespaceLabelCache({ kube, clock: systemClock, log });
    const labels = await cold.get(NS_POD, AbortSignal.timeout(5_000));
    assert.equal(labels?.['kubernetes.io/metadata.name'], NS_POD);
    await assert.rejects(cold.get(NS_POD, AbortSignal.abort()), /cannot read namespace/);
    assert.equal(await cold.get(`wh-e2e-absent-${RUN}`), undefined);
  });

  test('an unlabelled pod in an unlabelled namespace is unchanged', async () => {
    assertUntouched(await run(NS_POD, 'plain'));
    const d = decisionFor(NS_POD, 'plain');
    assert.equal(d.routed, false);
    assert.match(d.reason, /no ECI label or eci-profile selector matches/);
  });

  test('an eci-profile selector routes and adds its annotations and labels', async () => {
    profile = {
      selectors: parseSelectors(
        JSON.stringify([
          {
            name: 'batch',
            objectSelector: { matchLabels: { team: 'batch' } },
            effect: {
              annotations: { 'k8s.aliyun.com/eci-use-specs': '2-4Gi' },
              labels: { 'cost-center': 'x1' },
            },
          },
        ]),
      ),
    };
    try {
      const pod = await run(NS_POD, 'batch', 'team=batch');
      assertRouted(pod);
      assert.equal(pod.metadata?.annotations?.['k8s.aliyun.com/eci-use-specs'], '2-4Gi');
      assert.equal(pod.metadata?.labels?.['cost-center'], 'x1');
    } finally {
      profile = { selectors: [] };
    }
  });

  test('a kube-system pod is unchanged, even labelled', async () => {
    // The webhook is live and called for this run's namespaces: a labelled pod is routed just before.
    assertRouted(await run(NS_POD, 'canary', 'alibabacloud.com/eci=true'));
    assert.equal(decisionFor(NS_POD, 'canary').routed, true);
    const pod = await run('kube-system', SYSTEM_POD, 'alibabacloud.com/eci=true');
    assertUntouched(pod);
    // First line of defence: the configuration's namespaceSelector keeps the API server from asking.
    assert.equal(reviews.filter((r) => r.namespace === 'kube-system').length, 0, 'kube-system is never sent');
    // Second line: asked anyway (a configuration edited by hand), the webhook itself leaves the pod alone.
    const answer = await postReview(webhook!.port, webhook!.caBundle(), {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `direct-${RUN}`,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'kube-system',
        operation: 'CREATE',
        object: { ...pod, metadata: { ...pod.metadata, namespace: NS_POD } },
      },
    });
    assert.equal(answer.status, 200);
    assert.deepEqual((answer.json as { response: object }).response, { uid: `direct-${RUN}`, allowed: true });
    const d = decisionFor('kube-system', SYSTEM_POD);
    assert.equal(d.routed, false);
    assert.match(d.reason, /namespace kube-system is never routed/);
  });

  test('with the webhook stopped pods are still created (failurePolicy Ignore); a restart reuses the certificate', async () => {
    const serial = webhook!.certificate().serialNumber;
    await webhook!.close();
    webhook = undefined;
    const started = Date.now();
    assertUntouched(await run(NS_POD, 'while-down', 'alibabacloud.com/eci=true'));
    assert.ok(
      Date.now() - started < 10_000,
      'the API server does not wait out the timeout on a refused connection',
    );

    webhook = await startWebhook(options());
    assert.equal(webhook.certificate().serialNumber, serial, 'the certificate comes from the Secret');
    assertRouted(await run(NS_POD, 'after-restart', 'alibabacloud.com/eci=true'));
  });
});
