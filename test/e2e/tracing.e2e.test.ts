// OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, a pod's path is one trace — the webhook's
// routing decision, the pod bound, the ECI create, the wait for Running, the status write; then its
// deletion — received here by a test OTLP/HTTP receiver and checked as a span tree. The controller's
// log lines about the pod carry the trace id. A control plane of this file's own: label routing
// sends pods to any virtual node, so no other test's node may exist.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { clusterDown, clusterUp } from '../../dev/cluster/controlplane.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor } from '../support/kubectl.ts';
import { waitRunning } from '../support/pods.ts';
import { waitFor } from '../support/wait.ts';
import { testClusterName } from '../support/cluster-name.ts';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
}

/** OTLP/HTTP JSON ids are hex (the spec) or base64 (older encoders): hex either way. */
function hex(id: unknown): string {
  if (typeof id !== 'string' || id === '') return '';
  return /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
}

/** A minimal OTLP/HTTP (JSON) trace receiver on loopback. */
async function otlpReceiver() {
  const spans: Span[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.method === 'POST') {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
        };
        for (const rs of body.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: hex(s.traceId),
                spanId: hex(s.spanId),
                parentSpanId: hex(s.parentSpanId) || undefined,
                name: String(s.name),
                attributes: Object.fromEntries(
                  ((s.attributes as { key: string; value: Record<string, unknown> }[]) ?? []).map((a) => [
                    a.key,
                    Object.values(a.value)[0],
                  ]),
                ),
              });
            }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('a pod traced from the webhook to Running and back', { timeout: 600_000 }, () => {
  const CLUSTER = { name: testClusterName('trace') };
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let eci: TestEmulator;
  let controller: ControllerProcess;
  let kubectl: (...args: string[]) => Promise<string>;
  let json: <T>(...args: string[]) => Promise<T>;
  let uid = '';

  before(async () => {
    receiver = await otlpReceiver();
    await clusterDown({ ...CLUSTER, purge: true });
    const info = await clusterUp(CLUSTER);
    ({ kubectl, json } = kubectlFor(info.kubeconfig) as { kubectl: typeof kubectl; json: typeof json });
    eci = await startTestEmulator();
    controller = new ControllerProcess([
      '--kubeconfig',
      info.kubeconfig,
      '--node-ip',
      '127.0.0.1',
      '--kubelet-port',
      '0',
      '--webhook-port',
      '0',
      '--webhook-endpoint',
      'local',
      // The pod's Events are logged at debug.
      '--log-level',
      'debug',
    ]);
    controller.start({ ...eci.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'evn-e2e' });
    await waitFor('webhook registered', async () =>
      (
        await kubectl('get', 'mutatingwebhookconfiguration', 'eci-virtual-node', '--ignore-not-found')
      ).includes('eci-virtual-node'),
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${controller.output}`);
    });
    await waitFor('virtual-kubelet Ready', async () =>
      (await kubectl('get', 'node', 'virtual-kubelet', '--no-headers').catch(() => '')).includes(' Ready'),
    );
  });

  after(async () => {
    await controller?.stop('SIGTERM');
    await eci?.close();
    await receiver?.close();
    await clusterDown({ ...CLUSTER, purge: true });
  });

  test('the span tree arrives at the OTLP receiver, and the pod’s log lines carry its trace id', async () => {
    await kubectl('run', 'traced', '--image', 'nginx', '-l', 'alibabacloud.com/eci=true');
    const pod = await waitRunning(json, 'default', 'traced');
    uid = pod.metadata!.uid!;
    assert.match(
      pod.metadata?.annotations?.['eci-virtual-node.io/traceparent'] ?? '',
      /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/,
    );
    await kubectl('delete', 'pod', 'traced', '--wait=false');
    await waitFor(
      'pod gone',
      async () => (await json<{ items: V1Pod[] }>('get', 'pods')).items.length === 0,
      { timeoutMs: 120_000 },
    );

    const want = [
      'webhook.decide',
      'pod.start',
      'pod.bound',
      'eci.CreateContainerGroup',
      'pod.wait-running',
      'pod.status.write',
      'pod.delete',
      'eci.DeleteContainerGroup',
      'pod.remove',
    ];
    const spans = await waitFor(
      'every span of the pod',
      async () => {
        const decide = receiver.spans.find(
          (s) => s.name === 'webhook.decide' && s.attributes['k8s.pod.name'] === 'traced',
        );
        if (!decide) return false;
        const mine = receiver.spans.filter((s) => s.traceId === decide.traceId);
        return want.every((n) => mine.some((s) => s.name === n)) && mine;
      },
      { timeoutMs: 30_000 },
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}\nreceived: ${receiver.spans.map((s) => s.name).join(', ')}\n${controller.output}`,
      );
    });
    const one = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      assert.equal(found.length, 1, `one ${name} span`);
      return found[0]!;
    };
    const decide = one('webhook.decide');
    const start = one('pod.start');
    const del = one('pod.delete');
    assert.equal(decide.parentSpanId, undefined, 'the webhook decision starts the trace');
    assert.equal(
      start.parentSpanId,
      decide.spanId,
      'pod.start continues the decision (traceparent annotation)',
    );
    assert.equal(start.attributes['k8s.pod.uid'], uid);
    for (const child of ['pod.bound', 'eci.CreateContainerGroup', 'pod.wait-running', 'pod.status.write']) {
      assert.equal(one(child).parentSpanId, start.spanId, `${child} is a child of pod.start`);
    }
    assert.equal(del.parentSpanId, start.spanId, 'the deletion continues the pod’s trace');
    assert.equal(one('eci.DeleteContainerGroup').parentSpanId, del.spanId);
    assert.equal(one('pod.remove').parentSpanId, del.spanId);
    assert.equal(one('eci.CreateContainerGroup').attributes['rpc.method'], 'CreateContainerGroup');

    // Log lines written inside the pod's trace name it.
    const lines = controller.output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const events = lines.filter((l) => l.msg === 'pod event' && l.pod === 'default/traced');
    assert.ok(events.length > 0, 'the pod’s Events are logged');
    for (const e of events)
      assert.equal(e.trace_id, decide.traceId, `${String(e.reason)} carries the trace id`);
  });
});
