/**
 * Start latency of a pod with and without an ImageCache: the real control plane, the controller as
 * users run it, the ECI emulator on the process runtime (containers really run). Latency is from the
 * pod's create to the pod Running, as a watch sees it.
 *
 * - cold: an image never built on this machine (a fresh image directory per way). Without a cache the
 *   pod's instance builds the image's root filesystem from Debian packages as it starts; with an
 *   ImageCache applied first, the cache's build does that and the pod starts on it.
 * - warm: images built already, each instance pulling its images (`imagePullMs`, as a fresh ECI
 *   instance does); a pod on a cache pulls nothing.
 *
 *   npx node bench/imagecache.ts [--pods 5] [--pull-ms 2000] [--image nginx] [--no-cold] [--keep-cluster]
 *
 * Needs Linux and root (the process runtime), and the Debian package mirrors for the cold phase.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { BenchStack } from './harness.ts';
import { pct, say, startBenchStack, watchRunning } from './harness.ts';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '5' },
    'pull-ms': { type: 'string', default: '2000' },
    image: { type: 'string', default: 'nginx' },
    'no-cold': { type: 'boolean', default: false },
    'keep-cluster': { type: 'boolean', default: false },
  },
});
const PODS = Number(values.pods);
const PULL_MS = Number(values['pull-ms']);
const IMAGE = values.image;
const CLUSTER = 'bench-imagecache';
const NODE = 'vk-bench-imc';
const NS = 'bench-imc';
const out = (s: string) => process.stdout.write(`${s}\n`);
const custom = (s: BenchStack) => s.kube.api(CustomObjectsApi);

async function stack(imageDir: string, pullMs: number, reuseCluster: boolean): Promise<BenchStack> {
  const s = await startBenchStack({
    cluster: CLUSTER,
    node: NODE,
    keepCluster: true,
    reuseCluster,
    emulatorConfig: {
      runtime: 'process',
      process: { imageCacheDir: imageDir },
      lifecycle: { imagePullMs: pullMs },
    },
  });
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const kubectl = (...args: string[]) =>
    promisify(execFile)('kubectl', ['--kubeconfig', s.cluster.kubeconfig, ...args]);
  await kubectl('apply', '-f', new URL('../deploy/01-imagecache-crd.yaml', import.meta.url).pathname);
  await kubectl(
    'wait',
    '--for=condition=Established',
    'crd/imagecaches.eci.alibabacloud.com',
    '--timeout=60s',
  );
  await s.kube.core.createNamespace({ body: { metadata: { name: NS } } }).catch(() => undefined);
  return s;
}

/** Creates one pod at a time and returns each one's create → Running latency (ms). */
async function startPods(s: BenchStack, prefix: string, n: number, annotations: Record<string, string>) {
  const runningAt = new Map<string, number>();
  const stop = new AbortController();
  watchRunning(s.kube, NS, (name) => runningAt.set(name, performance.now()), stop.signal);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`;
    const t = performance.now();
    await s.kube.core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name, annotations },
        spec: {
          nodeName: NODE,
          tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }],
          containers: [{ name: 'c', image: IMAGE, imagePullPolicy: 'IfNotPresent' }],
        },
      },
    });
    const deadline = Date.now() + 15 * 60_000;
    while (!runningAt.has(name)) {
      if (Date.now() > deadline) throw new Error(`pod ${name} not Running in 15 min`);
      await new Promise((r) => setTimeout(r, 20));
    }
    ms.push(runningAt.get(name)! - t);
    await s.kube.core
      .deleteNamespacedPod({ namespace: NS, name, gracePeriodSeconds: 0 })
      .catch(() => undefined);
  }
  stop.abort();
  return ms;
}

/** Applies an ImageCache of IMAGE and waits for it to be Ready; returns the build time (ms). */
async function makeCache(s: BenchStack, name: string): Promise<number> {
  const t = performance.now();
  await custom(s).createClusterCustomObject({
    group: 'eci.alibabacloud.com',
    version: 'v1',
    plural: 'imagecaches',
    body: {
      apiVersion: 'eci.alibabacloud.com/v1',
      kind: 'ImageCache',
      metadata: { name },
      spec: { images: [IMAGE] },
    },
  });
  for (;;) {
    const ic = (await custom(s).getClusterCustomObject({
      group: 'eci.alibabacloud.com',
      version: 'v1',
      plural: 'imagecaches',
      name,
    })) as { status?: { phase?: string } };
    if (ic.status?.phase === 'Ready') return performance.now() - t;
    if (ic.status?.phase === 'Failed') throw new Error(`ImageCache ${name} failed`);
    if (performance.now() - t > 15 * 60_000) throw new Error(`ImageCache ${name} not Ready in 15 min`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const fmt = (ms: number[]) =>
  `p50 ${(pct(ms, 50) / 1000).toFixed(2)} s, min ${(ms[0]! / 1000).toFixed(2)} s, max ${(ms[ms.length - 1]! / 1000).toFixed(2)} s (n=${ms.length})`;

out(
  `imagecache: image ${IMAGE}, process runtime, ${PODS} pods per way (warm), pull ${PULL_MS} ms per image (warm)`,
);
let reuse = false;
if (!values['no-cold']) {
  for (const way of ['without', 'with'] as const) {
    const dir = await mkdtemp(path.join(os.tmpdir(), `evn-bench-images-${way}-`));
    const s = await stack(dir, 0, reuse);
    reuse = true;
    try {
      if (way === 'with') {
        const build = await makeCache(s, 'cold-cache');
        out(
          `cold: ImageCache of a never-built ${IMAGE} Ready in ${(build / 1000).toFixed(2)} s (the root filesystem built by the cache)`,
        );
      }
      const ms = await startPods(
        s,
        `cold-${way}`,
        1,
        way === 'with' ? { 'k8s.aliyun.com/eci-image-cache': 'true' } : {},
      );
      out(`cold: pod ${way} a cache, create → Running ${(ms[0]! / 1000).toFixed(2)} s`);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
}
{
  const dir = path.join(os.homedir(), '.cache', 'eci-virtual-node', 'images');
  const s = await stack(dir, PULL_MS, reuse);
  try {
    say('warm: one pod first, so the image is built before anything is timed');
    await startPods(s, 'warmup', 1, {});
    const without = (await startPods(s, 'warm-without', PODS, {})).sort((a, b) => a - b);
    const build = await makeCache(s, 'warm-cache');
    const withCache = (
      await startPods(s, 'warm-with', PODS, { 'k8s.aliyun.com/eci-image-cache': 'true' })
    ).sort((a, b) => a - b);
    out(`warm: ImageCache Ready in ${(build / 1000).toFixed(2)} s`);
    out(`warm: without a cache, create → Running ${fmt(without)}`);
    out(`warm: with a cache,    create → Running ${fmt(withCache)}`);
  } finally {
    await s.close();
  }
}
