// /metrics, /livez and /readyz of a running controller, scraped after a pod ran on ECI (the emulator)
// and parsed by Prometheus's own text parser (expfmt) and linter (promlint, as `promtool check
// metrics`): every series has the type Prometheus conventions want.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { promcheck } from '../support/promcheck.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { waitRunning } from '../support/pods.ts';
import { waitFor } from '../support/wait.ts';

const NODE = 'vk-e2e-metrics';
const NS = 'e2e-metrics';
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

describe('metrics and health', { timeout: 600_000 }, () => {
  let eci: TestEmulator;
  let controller: ControllerProcess;
  let base = '';

  before(async () => {
    await kubectl('delete', 'node', NODE, '--ignore-not-found', '--wait=true');
    await kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true');
    await kubectl('create', 'namespace', NS);
    eci = await startTestEmulator();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    controller = new ControllerProcess([
      '--kubeconfig',
      kubeconfig,
      '--node-name',
      NODE,
      '--node-ip',
      '127.0.0.1',
      '--kubelet-port',
      String(await freePort()),
      '--metrics-port',
      String(port),
      '--metrics-bind-address',
      '127.0.0.1',
    ]);
    controller.start(eci.env);
    await waitFor('/readyz', async () => (await fetch(`${base}/readyz`)).status === 200, {
      timeoutMs: 90_000,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${controller.output}`);
    });
    await waitFor('default ServiceAccount', () => json('-n', NS, 'get', 'serviceaccount', 'default'));
    await kubectl(
      '-n',
      NS,
      'run',
      'app',
      '--image',
      'nginx',
      '--overrides',
      JSON.stringify({
        spec: {
          nodeName: NODE,
          tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' }],
        },
      }),
    );
    await waitRunning(json, NS, 'app');
  });

  after(async () => {
    await kubectl('-n', NS, 'delete', 'pods', '--all', '--force', '--grace-period=0').catch(() => undefined);
    await controller?.stop('SIGTERM');
    await kubectl('delete', 'node', NODE, '--ignore-not-found').catch(() => undefined);
    await kubectl('-n', 'kube-node-lease', 'delete', 'lease', NODE, '--ignore-not-found').catch(
      () => undefined,
    );
    await kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=false').catch(() => undefined);
    await eci?.close();
  });

  test("Prometheus's parser reads the scrape, promlint finds nothing, each series has its type", async () => {
    const res = await fetch(`${base}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const { families, problems } = await promcheck(await res.text());
    // promlint's findings, except on prom-client's standard nodejs_* series (not ours to rename).
    assert.deepEqual(
      problems.filter((p) => !p.metric.startsWith('nodejs_')),
      [],
      'promlint (promtool check metrics) finds no problem',
    );
    const type = new Map(families.map((f) => [f.name, f.type]));
    const byName = new Map(families.map((f) => [f.name, f]));
    // Prometheus conventions: every _total of ours is a counter. (prom-client's standard
    // nodejs_active_*_total are gauges under that name; they keep it, for the stock dashboards.)
    for (const f of families) {
      if (f.name.startsWith('eci_virtual_node_') && f.name.endsWith('_total')) {
        assert.equal(f.type, 'COUNTER', `${f.name} is a counter`);
      }
    }
    const expected: Record<string, string> = {
      eci_virtual_node_build_info: 'GAUGE',
      eci_virtual_node_kube_requests_total: 'COUNTER',
      eci_virtual_node_eci_calls_total: 'COUNTER',
      eci_virtual_node_watch_relists_total: 'COUNTER',
      eci_virtual_node_kube_request_duration_seconds: 'HISTOGRAM',
      eci_virtual_node_eci_request_duration_seconds: 'HISTOGRAM',
      eci_virtual_node_pod_startup_duration_seconds: 'HISTOGRAM',
      eci_virtual_node_workqueue_depth: 'GAUGE',
      eci_virtual_node_workqueue_adds_total: 'COUNTER',
      eci_virtual_node_workqueue_retries_total: 'COUNTER',
      eci_virtual_node_workqueue_longest_running_processor_seconds: 'GAUGE',
      eci_virtual_node_status_feed_lag_seconds: 'GAUGE',
      eci_virtual_node_pods: 'GAUGE',
      eci_virtual_node_container_groups: 'GAUGE',
      // The standard names, unprefixed, as stock dashboards expect them.
      process_cpu_seconds_total: 'COUNTER',
      process_resident_memory_bytes: 'GAUGE',
      process_start_time_seconds: 'GAUGE',
      nodejs_heap_size_used_bytes: 'GAUGE',
      nodejs_eventloop_lag_seconds: 'GAUGE',
    };
    for (const [name, t] of Object.entries(expected)) assert.equal(type.get(name), t, `${name} is a ${t}`);
    assert.ok(!families.some((f) => f.name.startsWith('eci_virtual_node_process_')), 'no prefixed process_*');

    const build = byName.get('eci_virtual_node_build_info')!.metrics[0]!;
    assert.equal(build.value, 1);
    assert.match(build.labels?.version ?? '', /^\d+\.\d+\.\d+/);
    // The pod that ran: one startup observed, its create timed by action and result.
    assert.equal(byName.get('eci_virtual_node_pod_startup_duration_seconds')!.metrics[0]!.count, 1);
    const eci = byName.get('eci_virtual_node_eci_request_duration_seconds')!.metrics;
    assert.ok(
      eci.some(
        (m) => m.labels?.action === 'CreateContainerGroup' && m.labels.code === 'OK' && Number(m.count) >= 1,
      ),
      'CreateContainerGroup OK observed',
    );
    const kube = byName.get('eci_virtual_node_kube_request_duration_seconds')!.metrics;
    assert.ok(
      kube.some((m) => m.labels?.verb === 'PATCH' && m.labels.code === '200'),
      'status PATCH observed',
    );
    const adds = byName.get('eci_virtual_node_workqueue_adds_total')!.metrics[0]!;
    assert.equal(adds.labels?.name, 'pods');
    assert.ok(Number(adds.value) >= 1);
    const creates = byName
      .get('eci_virtual_node_eci_calls_total')!
      .metrics.find((m) => m.labels?.action === 'CreateContainerGroup');
    assert.equal(creates?.value, 1);
    const lag = Number(byName.get('eci_virtual_node_status_feed_lag_seconds')!.metrics[0]!.value);
    assert.ok(lag >= 0 && lag < 30, `status feed lag ${lag} s`);
  });

  test('/readyz?verbose and /livez?verbose list their checks; /livez/<check> asks one', async () => {
    const ready = await fetch(`${base}/readyz?verbose`);
    assert.equal(ready.status, 200);
    const text = await ready.text();
    for (const check of ['node-lease', 'pod-watch', 'node-registered', 'pods-synced']) {
      assert.match(text, new RegExp(`^\\[\\+\\]${check} ok$`, 'm'));
    }
    assert.match(text, /readyz check passed/);
    assert.equal(await (await fetch(`${base}/livez`)).text(), 'ok');
    assert.match(await (await fetch(`${base}/livez/node-lease?verbose`)).text(), /^\[\+\]node-lease ok/);
    assert.equal((await fetch(`${base}/livez/nope`)).status, 404);
  });
});
