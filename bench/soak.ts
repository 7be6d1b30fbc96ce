// Fault soak: pod churn (creates, deletes, Deployment scaling) against the real control plane and the
// ECI emulator while everything that can go wrong does — the controller is kill -9'd and restarted
// again and again, the emulator throttles, fails and stalls a share of calls, the API server is
// restarted once (its watches come back with 410 Gone and are relisted). Bounded in time; prints a
// summary and exits non-zero when an invariant broke: a pod with two live container groups, a group
// without a pod, a pod stuck, a convergence over the budget.
//
//   npx node bench/soak.ts                      # the full run: 2,000 pods, 20 kills (~10 minutes)
//   npx node bench/soak.ts --pods 60 --kills 3  # the CI size (.ci/run)
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { setTimeout as delay } from 'node:timers/promises';
import { AppsV1Api as AppsApi, type V1Pod } from '@kubernetes/client-node';
import { clusterDown, clusterUp, type ClusterInfo } from '../dev/cluster/controlplane.ts';
import { clusterPkiFiles } from '../dev/cluster/pki.ts';
import { pickFreePorts } from '../dev/cluster/ports.ts';
import { startDetached } from '../dev/cluster/processes.ts';
import { EmulatorAdminClient } from '../src/emulator/admin/client.ts';
import { startEmulator } from '../src/emulator/server.ts';
import { createKubeClients, mergePatch as mergePatchOptions } from '../src/kube/client.ts';
import { listAllPages, runWatchLoop } from '../src/kube/watch.ts';
import { systemClock } from '../src/util/clock.ts';
import { createLogger } from '../src/util/log.ts';
import { ControllerProcess } from '../test/support/controller.ts';
import { pct, say, scrapeText } from './harness.ts';

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '2000' },
    kills: { type: 'string', default: '20' },
    'throttle-rate': { type: 'string', default: '0.2' },
    'error-rate': { type: 'string', default: '0.05' },
    'latency-rate': { type: 'string', default: '0.02' },
    'latency-ms': { type: 'string', default: '3000' },
    /** Pods created per second: below the ECI create quota, so convergence measures recovery, not queueing. */
    rate: { type: 'string', default: '6' },
    'budget-s': { type: 'string', default: '30' },
    'timeout-s': { type: 'string', default: '1800' },
    cluster: { type: 'string', default: 'soak' },
    'keep-cluster': { type: 'boolean', default: false },
  },
});
const PODS = Number(args.pods);
const KILLS = Number(args.kills);
const RATE = Number(args.rate);
const BUDGET_MS = Number(args['budget-s']) * 1000;
const NODE = 'vk-soak';
const NS = 'soak';
const DEPLOYMENTS = 3;
const deadline = Date.now() + Number(args['timeout-s']) * 1000;

interface PodTrack {
  uid?: string;
  created: number;
  running?: number;
  deleteAsked?: number;
  gone?: number;
}

/** The controller process running now, for the watchdog. */
let liveController: ControllerProcess | undefined;

// The bound holds even if a step hangs: past it, clean up what we started and exit.
const watchdog = setTimeout(
  () => {
    say(`time bound of ${args['timeout-s']} s (+5 min) passed; giving up`);
    liveController?.signal('SIGKILL');
    void clusterDown({ name: args.cluster, purge: true }).finally(() => process.exit(2));
  },
  (Number(args['timeout-s']) + 300) * 1000,
);
watchdog.unref();

async function main(): Promise<void> {
  say(
    `soak: ${PODS} pods, ${KILLS} controller kills, throttle ${args['throttle-rate']}, 5xx ${args['error-rate']}`,
  );
  await clusterDown({ name: args.cluster, purge: true });
  let cluster = await clusterUp({ name: args.cluster });
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'evn-soak-emu-'));
  const emu = await startEmulator({
    port: 0,
    stateDir,
    config: { quotas: { enabled: false } },
    logger: createLogger({ level: 'error', name: 'soak-emulator' }),
  });
  const admin = new EmulatorAdminClient(emu.url);
  const kube = await createKubeClients({ kubeconfig: cluster.kubeconfig, qps: 500, burst: 500 });
  const [metricsPort] = (await pickFreePorts(1)) as [number];
  const env = {
    ECI_REGION: emu.regionId,
    ECI_ACCESS_KEY: emu.accessKeyId,
    ECI_SECRET_KEY: emu.accessKeySecret,
    ECI_ENDPOINT: emu.endpoint,
    ECI_PROTOCOL: emu.protocol,
    ECI_VSWITCH: 'vsw-emulator-h,vsw-emulator-i',
    ECI_SECURITY_GROUP: 'sg-emulator',
  };
  const controllerArgs = [
    '--kubeconfig',
    cluster.kubeconfig,
    '--node-name',
    NODE,
    '--node-ip',
    '127.0.0.1',
    '--kubelet-port',
    '0',
    '--metrics-port',
    String(metricsPort),
    '--metrics-bind-address',
    '127.0.0.1',
    '--log-level',
    'warn',
  ];
  let controller = new ControllerProcess(controllerArgs);
  controller.start(env);
  liveController = controller;
  const stop = new AbortController();
  const failures: string[] = [];
  const summary: Record<string, unknown> = {};
  try {
    await waitReady(metricsPort);
    await kube.core.createNamespace({ body: { metadata: { name: NS } } });

    // Faults from here on, for every action.
    const faults = [
      { kind: 'throttle' as const, probability: Number(args['throttle-rate']) },
      { kind: 'error' as const, probability: Number(args['error-rate']), status: 500, code: 'InternalError' },
      {
        kind: 'latency' as const,
        probability: Number(args['latency-rate']),
        latencyMs: Number(args['latency-ms']),
      },
    ];
    for (const f of faults) await admin.addFault(f);

    // What the cluster says about every pod of the namespace, from a watch (the product's loop).
    const pods = new Map<string, PodTrack>();
    const track = (name: string) => {
      let t = pods.get(name);
      if (!t) pods.set(name, (t = { created: performance.now() }));
      return t;
    };
    void runWatchLoop<V1Pod>(
      {
        kube,
        path: `/api/v1/namespaces/${NS}/pods`,
        clock: systemClock,
        log: createLogger({ level: 'error', name: 'soak-watch' }),
        list: () => listAllPages((page) => kube.core.listNamespacedPod({ namespace: NS, ...page })),
        onEvent: (type, pod) => {
          const t = track(pod.metadata?.name ?? '');
          t.uid ??= pod.metadata?.uid;
          if (pod.metadata?.deletionTimestamp && t.deleteAsked === undefined)
            t.deleteAsked = performance.now();
          if (type === 'DELETED') t.gone = performance.now();
          else if (pod.status?.phase === 'Running' && t.running === undefined) t.running = performance.now();
        },
      },
      stop.signal,
    );

    // Duplicates: two live groups for one pod at the same moment, sampled all along.
    let duplicatesSeen = 0;
    const sampler = (async () => {
      while (!stop.signal.aborted) {
        const per = new Map<string, number>();
        for (const g of await allGroups(admin).catch(() => [])) {
          if (g.status === 'Terminating') continue;
          const uid = g.tags.find((t) => t.key === 'eci-virtual-node/pod-uid')?.value;
          if (uid) per.set(uid, (per.get(uid) ?? 0) + 1);
        }
        duplicatesSeen = Math.max(duplicatesSeen, [...per.values()].filter((n) => n > 1).length);
        await delay(3000, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    })();

    // Counters of each controller process, kept across kills.
    const counters = new Map<string, number>();
    const harvest = async () => {
      const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      for (const [k, v] of scrapeText(text)) {
        if (
          k.startsWith('eci_virtual_node_watch_relists_total') ||
          k.startsWith('eci_virtual_node_watch_restarts_total')
        )
          counters.set(k, (counters.get(k) ?? 0) + v);
      }
    };

    // The churn: bare pods created at RATE/s and a share deleted again; Deployments scaled up and down.
    for (let d = 0; d < DEPLOYMENTS; d++)
      await kube.api(AppsApi).createNamespacedDeployment({ namespace: NS, body: deployment(`web-${d}`) });
    const bare = Math.max(1, PODS - DEPLOYMENTS * 10);
    const kills: number[] = [];
    for (let k = 1; k <= KILLS; k++) kills.push(Math.floor((k * bare) / (KILLS + 1)));
    const apiserverRestartAt = Math.floor(bare / 2);
    const restarts: { kind: string; at: number; readyMs?: number }[] = [];
    const t0 = performance.now();
    for (let i = 0; i < bare && Date.now() < deadline; i++) {
      const name = `p-${i}`;
      track(name).created = performance.now();
      await kube.core
        .createNamespacedPod({ namespace: NS, body: barePod(name) })
        .catch((err: unknown) => failures.push(`create ${name}: ${String(err)}`));
      // Every third pod goes again a little later: deletes run while creates do.
      if (i % 3 === 2) {
        const old = `p-${i - 2}`;
        track(old).deleteAsked ??= performance.now();
        void kube.core.deleteNamespacedPod({ namespace: NS, name: old }).catch(() => undefined);
      }
      if (i % 50 === 25) {
        const d = i % DEPLOYMENTS;
        const replicas = [10, 3, 7, 0, 5][((i / 50) % 5) | 0]!;
        void kube
          .api(AppsApi)
          .patchNamespacedDeploymentScale(
            { namespace: NS, name: `web-${d}`, body: { spec: { replicas } } },
            mergePatchOptions,
          )
          .catch(() => undefined);
      }
      if (kills.includes(i)) {
        await harvest();
        controller.signal('SIGKILL');
        await controller.exited();
        const at = performance.now();
        controller = new ControllerProcess(controllerArgs);
        controller.start(env);
        liveController = controller;
        const ready = await waitReady(metricsPort).then(() => performance.now() - at);
        restarts.push({ kind: 'controller kill -9', at, readyMs: ready });
        say(
          `controller killed and restarted (${restarts.filter((r) => r.kind.startsWith('controller')).length}/${KILLS}), ready in ${ready.toFixed(0)} ms`,
        );
      }
      if (i === apiserverRestartAt) {
        const at = performance.now();
        cluster = await restartApiserver(cluster);
        restarts.push({ kind: 'kube-apiserver restart', at, readyMs: performance.now() - at });
        say(`kube-apiserver restarted in ${(performance.now() - at).toFixed(0)} ms`);
      }
      await delay(1000 / RATE);
    }
    const churnS = (performance.now() - t0) / 1000;
    say(`churn done in ${churnS.toFixed(0)} s; waiting for convergence`);

    // Steady state: every remaining pod Running, every deleted one gone, groups = pods.
    const settleStart = performance.now();
    let last = '';
    for (;;) {
      const live = (await kube.core.listNamespacedPod({ namespace: NS })).items;
      const notRunning = live.filter((p) => p.status?.phase !== 'Running' || p.metadata?.deletionTimestamp);
      const groups = await allGroups(admin);
      last = `${live.length} pods, ${notRunning.length} not Running, ${groups.length} groups`;
      if (notRunning.length === 0 && groups.length === live.length) break;
      if (performance.now() - settleStart > 5 * 60_000 || Date.now() > deadline) break;
      await delay(2000);
    }
    const settleMs = performance.now() - settleStart;
    await harvest();
    stop.abort();
    await sampler;

    // The invariants, counted.
    const live = (await kube.core.listNamespacedPod({ namespace: NS })).items;
    const liveUids = new Set(live.map((p) => p.metadata?.uid));
    const groups = await allGroups(admin);
    const uidOf = (g: { tags: { key: string; value: string }[] }) =>
      g.tags.find((t) => t.key === 'eci-virtual-node/pod-uid')?.value;
    const perUid = new Map<string, number>();
    for (const g of groups) perUid.set(uidOf(g) ?? '', (perUid.get(uidOf(g) ?? '') ?? 0) + 1);
    const duplicates = Math.max(duplicatesSeen, [...perUid.values()].filter((n) => n > 1).length);
    const orphans = groups.filter((g) => !liveUids.has(uidOf(g))).length;
    const stuck = live.filter((p) => p.status?.phase !== 'Running' || p.metadata?.deletionTimestamp).length;
    const startup = [...pods.values()]
      .filter((t) => t.running !== undefined)
      .map((t) => t.running! - t.created)
      .sort((a, b) => a - b);
    const deletion = [...pods.values()]
      .filter((t) => t.deleteAsked !== undefined && t.gone !== undefined)
      .map((t) => t.gone! - t.deleteAsked!)
      .sort((a, b) => a - b);
    const stats = (await admin.stats()).actions;
    const injected = (code: string) => Object.values(stats).reduce((a, s) => a + (s.byCode[code] ?? 0), 0);
    const relists410 = [...counters]
      .filter(([k]) => k.includes('relists') && /reason="(expired|gone)"/.test(k))
      .reduce((a, [, v]) => a + v, 0);
    const over = (xs: number[]) => xs.filter((x) => x > BUDGET_MS).length;
    Object.assign(summary, {
      podsSeen: pods.size,
      podsCreatedBare: bare,
      churnSeconds: Math.round(churnS),
      controllerKills: restarts.filter((r) => r.kind.startsWith('controller')).length,
      apiserverRestarts: restarts.filter((r) => r.kind.startsWith('kube-apiserver')).length,
      watch410Relists: relists410,
      faultsInjected: { throttled: injected('Throttling.User'), serverErrors: injected('InternalError') },
      duplicateGroups: duplicates,
      orphans,
      stuckPods: stuck,
      convergence: {
        startupMs: {
          p50: round(pct(startup, 50)),
          p99: round(pct(startup, 99)),
          max: round(startup.at(-1)),
          overBudget: over(startup),
        },
        deletionMs: {
          p50: round(pct(deletion, 50)),
          p99: round(pct(deletion, 99)),
          max: round(deletion.at(-1)),
          overBudget: over(deletion),
        },
        restartReadyMs: restarts.map((r) => round(r.readyMs)),
        finalSettleMs: round(settleMs),
      },
      finalState: last,
    });
    if (duplicates > 0) failures.push(`${duplicates} pods had two live container groups`);
    if (orphans > 0) failures.push(`${orphans} container groups have no pod`);
    if (stuck > 0) failures.push(`${stuck} pods not converged: ${last}`);
    if (over(startup) + over(deletion) > 0)
      failures.push(`${over(startup) + over(deletion)} convergences over ${BUDGET_MS} ms`);
    if (KILLS > 0 && restarts.filter((r) => r.kind.startsWith('controller')).length < KILLS)
      failures.push('fewer kills than asked (time bound hit)');
  } finally {
    stop.abort();
    process.stdout.write(`${JSON.stringify({ soak: summary, failures }, null, 2)}\n`);
    await controller.stop('SIGTERM');
    await kube.core.deleteNode({ name: NODE }).catch(() => undefined);
    await kube.close();
    await emu.close();
    await rm(stateDir, { recursive: true, force: true });
    if (!args['keep-cluster']) await clusterDown({ name: args.cluster, purge: true });
  }
  if (failures.length > 0) process.exitCode = 1;
}

const round = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? null : Math.round(x));

async function waitReady(port: number): Promise<void> {
  const until = Date.now() + 120_000;
  while (
    !(await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (Date.now() > until) throw new Error('controller not ready within 120 s');
    await delay(200);
  }
}

async function allGroups(admin: EmulatorAdminClient) {
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await admin.listContainerGroups({ limit: 1000, offset });
    out.push(...page.items);
    if (page.items.length < 1000) return out;
  }
}

/**
 * Kills kube-apiserver and starts it again with the arguments it had. etcd is compacted to its
 * current revision first, so every watch that resumes from an older resourceVersion gets 410 Gone and
 * must relist — the path a long outage takes.
 */
async function restartApiserver(cluster: ClusterInfo): Promise<ClusterInfo> {
  await compactEtcd(cluster);
  const pid = cluster.pids['kube-apiserver'];
  const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  process.kill(pid, 'SIGKILL');
  const until = Date.now() + 120_000;
  // Gone, and its port free: a new one started sooner fails to bind and exits.
  while ((await alive(pid)) || (await portOpen(cluster.ports.apiserver))) {
    if (Date.now() > until) throw new Error('kube-apiserver did not go away after SIGKILL');
    await delay(100);
  }
  const kube = await createKubeClients({ kubeconfig: cluster.kubeconfig });
  try {
    for (let attempt = 1; ; attempt++) {
      const restarted = await startDetached({
        name: 'kube-apiserver',
        binary: cmd[0]!,
        args: cmd.slice(1),
        cwd: cluster.stateDir,
        logFile: `${cluster.logsDir}/kube-apiserver.log`,
        pidFile: `${cluster.stateDir}/run/kube-apiserver.pid`,
      });
      while ((await alive(restarted.pid)) && Date.now() < until) {
        if (
          await kube.core.listNamespace({ limit: 1 }).then(
            () => true,
            () => false,
          )
        ) {
          return { ...cluster, pids: { ...cluster.pids, 'kube-apiserver': restarted.pid } };
        }
        await delay(200);
      }
      if (Date.now() > until || attempt >= 5)
        throw new Error('kube-apiserver did not come back within 120 s');
      say(`kube-apiserver exited at start (attempt ${attempt}); starting it again`);
      await delay(1000);
    }
  } finally {
    await kube.close();
  }
}

async function alive(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then(
    (s) => !s.includes(') Z '),
    () => false,
  );
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** etcd's v3 JSON gateway: read the current revision, compact everything before it. */
async function compactEtcd(cluster: ClusterInfo): Promise<void> {
  const pki = clusterPkiFiles(path.join(cluster.stateDir, 'pki'));
  const tls = {
    ca: await readFile(pki.ca.cert),
    cert: await readFile(pki.certs['apiserver-etcd-client'].cert),
    key: await readFile(pki.certs['apiserver-etcd-client'].key),
  };
  const dispatcher = new Agent({ connect: tls });
  const post = async (api: string, body: unknown) => {
    const res = await request(`https://127.0.0.1:${cluster.ports.etcdClient}/v3/${api}`, {
      method: 'POST',
      body: JSON.stringify(body),
      dispatcher,
    });
    return (await res.body.json()) as { header?: { revision?: string } };
  };
  try {
    const { header } = await post('kv/range', { key: Buffer.from('/').toString('base64') });
    await post('kv/compaction', { revision: header?.revision, physical: true });
  } finally {
    await dispatcher.close();
  }
}

function barePod(name: string) {
  return {
    metadata: { name, labels: { app: 'soak' } },
    spec: {
      nodeName: NODE,
      tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }],
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'c', image: 'nginx' }],
    },
  };
}

function deployment(name: string) {
  return {
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': NODE },
          tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }],
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'c', image: 'nginx' }],
        },
      },
    },
  };
}

await main();
