import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { privilegesFor } from '../config/cloud-privileges.ts';
import { LiveConfig } from '../config/live-config.ts';
import { toNodeSpec } from '../config/node-options.ts';
import { checkReachable, createKubeClients } from '../kube/client.ts';
import { ImageCacheController } from '../imagecaches/controller.ts';
import { EventRecorder } from '../kube/events.ts';
import { ControllerMetrics } from '../metrics/controller-metrics.ts';
import { freshness, startMetricsServer } from '../metrics/server.ts';
import { IMAGE_CACHE_LEASE, LeaderElector } from '../kube/leader-election.ts';
import { NodeController } from '../node/node-controller.ts';
import { ClusterServices } from '../pods/cluster-services.ts';
import { PodController } from '../pods/pod-controller.ts';
import { PodTraces } from '../tracing/pod-traces.ts';
import { PodInputsResolver } from '../pods/pod-inputs.ts';
import { RefResolver } from '../pods/ref-resolver.ts';
import { EciProvider } from '../providers/eci/eci-provider.ts';
import { EciPodIO } from '../providers/eci/pod-io.ts';
import { systemClock } from '../util/clock.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { parseSelectors } from '../webhook/selectors.ts';
import { defaultClusterId } from './cluster-id.ts';
import { openEciBackend } from './eci-backend.ts';
import { startKubelet } from './kubelet.ts';
import { LEADER_DEFAULTS } from './leader-config.ts';
import type { RunConfig } from './run-config.ts';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The kubelet version the node reports: the Kubernetes API level we speak, tagged with our version. */
export const KUBELET_VERSION = `v1.34.0-eci-virtual-node.${pkg.version}`;

/**
 * The controller's composition root: builds every piece from the validated configuration, runs them
 * until `signal` aborts, and closes what it opened. The CLI parses flags and signals; nothing here
 * reads the process environment.
 */
export async function runController(
  cfg: RunConfig,
  log: Logger,
  stopSignal: AbortSignal,
  /** Where the AccessKey goes once known, so the logger masks it wherever it would appear. */
  secrets: Set<string> = new Set(),
): Promise<void> {
  const remember = (c: { accessKeyId: string; accessKeySecret: string } | undefined) => {
    if (c) for (const v of [c.accessKeyId, c.accessKeySecret]) secrets.add(v);
  };
  if (cfg.eci.mode === 'cloud') remember(cfg.eci.credentials);
  const clock = systemClock;
  // Everything stops on the caller's signal, or when this replica loses the leadership it held.
  const stopAll = new AbortController();
  const signal = AbortSignal.any([stopSignal, stopAll.signal]);
  // Histograms are observed from the first request on; the rest is read at scrape time.
  const metrics = cfg.metrics
    ? new ControllerMetrics({ version: pkg.version, kubernetesVersion: KUBELET_VERSION.split('-')[0]! })
    : undefined;
  // Every client of this process: the same cluster and request metrics; rate limit and identity vary.
  const clientOptions = {
    kubeconfig: cfg.kube.kubeconfig,
    inCluster: cfg.kube.inCluster,
    qps: cfg.kube.qps,
    burst: cfg.kube.burst,
    onRequest: metrics?.observeKubeRequest,
  };
  const kube = await createKubeClients(clientOptions);
  const closers: (() => Promise<void>)[] = [() => kube.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close();
  };
  try {
    // An unreachable or refusing API server, said plainly before anything else is tried.
    await checkReachable(kube.kc);
    // The node's own work (the pods bound to it, their Secrets, ConfigMaps and tokens, its Node and
    // Lease, Events) as the node itself when asked: the Node authorizer grants exactly that, and
    // NodeRestriction keeps it to this node. The ServiceAccount (`kube`) keeps the rest.
    const asNode = cfg.impersonateNode
      ? { user: `system:node:${cfg.node.nodeName}`, group: 'system:nodes' }
      : undefined;
    const nodeKube = asNode ? await createKubeClients({ ...clientOptions, impersonate: asNode }) : kube;
    if (nodeKube !== kube) closers.push(() => nodeKube.close());
    // Events get their own client and rate limit (kubelet: 50 QPS, burst 100), apart from status writes.
    const eventKube = await createKubeClients({ ...clientOptions, qps: 50, burst: 100, impersonate: asNode });
    closers.push(() => eventKube.close());
    const events = new EventRecorder({
      api: eventKube.core,
      component: 'eci-virtual-node',
      host: cfg.node.nodeName,
      clock,
      log,
    });
    const elector =
      cfg.leaderElection === undefined
        ? undefined
        : new LeaderElector({ api: kube.coordination, ...cfg.leaderElection, clock, log });
    /** Writes to the API server happen only while leading (always, without leader election). */
    const mayWrite = () => elector?.isLeading() ?? true;
    const live = new LiveConfig({
      kube,
      // Every replica reads the profile; only the leader reports a bad one, so it is reported once.
      events: { record: (...a) => (mayWrite() ? events.record(...a) : Promise.resolve()) },
      clock,
      log,
      parseSelectors,
      envCredentials: cfg.eci.mode === 'cloud' ? cfg.eci.credentials : undefined,
      profileRef: cfg.eciProfile,
    });
    await live.load();
    remember(live.credentials());
    const backend = await openEciBackend({
      settings: cfg.eci,
      secretCredentials: cfg.eci.mode === 'cloud' && !cfg.eci.credentials ? live.credentials() : undefined,
      emulatorStateDir: cfg.emulatorStateDir,
      emulatorRuntime: cfg.emulatorRuntime,
      quotaMultiplier: cfg.eciQuotaMultiplier,
      clock,
      log,
    });
    closers.push(() => backend.close());
    if (backend.mode === 'cloud') {
      live.onCredentialsChange((c) => {
        remember(c);
        if (c) backend.client.setCredentials(c);
        else log.error('the AccessKey secret lost its keys; keeping the last AccessKey until it is restored');
      });
    }
    // One effective placement: eci-profile (hot) over the environment over the backend's defaults.
    const placement = () => {
      const p = live.profile();
      return {
        vSwitchIds:
          p.vSwitchIds ?? (cfg.eci.vSwitchIds?.length ? cfg.eci.vSwitchIds : backend.defaultVSwitchIds),
        securityGroupId: p.securityGroupId ?? cfg.eci.securityGroupId ?? backend.defaultSecurityGroupId ?? '',
      };
    };
    const first = placement();
    if (first.vSwitchIds.length === 0 || !first.securityGroupId) {
      const noVSwitch = first.vSwitchIds.length === 0;
      throw new ProductError(
        ErrorCodes.CONFIG_INVALID,
        `no ${noVSwitch ? 'vSwitch' : 'security group'} for ECI pods: set ` +
          `${noVSwitch ? 'ECI_VSWITCH (environment) or vSwitchIds' : 'ECI_SECURITY_GROUP (environment) or securityGroupId'} ` +
          `(ConfigMap ${cfg.eciProfile.namespace}/${cfg.eciProfile.name})`,
      );
    }

    const clusterId = cfg.clusterId ?? (await defaultClusterId(kube));
    const services = new ClusterServices(nodeKube.core, log);
    const inputs = new PodInputsResolver({
      refs: new RefResolver(nodeKube.core),
      placement,
      clusterIpAccess: () => live.profile().enableClusterIp ?? cfg.kubeProxy,
      clusterAccess: (enabled) => services.get(enabled, clock.now()),
      privileges: (namespace) => privilegesFor(live.profile().cloudPrivileges, namespace),
    });
    const provider = new EciProvider({
      eci: backend.client,
      clusterId,
      nodeName: cfg.node.nodeName,
      hostIP: cfg.node.nodeIp,
      // A poll of the status feed (2 s) and a little: most groups start within it, so most pods get
      // one status write (Running) instead of two (Pending, then Running).
      pendingWriteDelayMs: 2_500,
      clock,
      log,
    });
    const pods = new PodController({
      traces: new PodTraces({ enabled: cfg.tracing, clock }),
      onPodRunning: (_pod, seconds) => metrics?.observePodRunning(seconds),
      kube: nodeKube,
      provider,
      inputs: (pod) => inputs.resolve(pod),
      nodeName: cfg.node.nodeName,
      events,
      clock,
      log,
      mayWrite,
      writer: elector?.identity,
    });
    // Listening before the Node is written, so the Node advertises the port really bound.
    const kubelet = await startKubelet({
      cfg,
      kube,
      events,
      provider: new EciPodIO({ eci: backend.client, index: provider.index, clock, log }),
      pods: { get: (namespace, name) => pods.pod(namespace, name), list: () => pods.pods() },
      clock,
      log,
    });
    closers.push(() => kubelet.close());
    const node = new NodeController({
      kube: nodeKube,
      spec: {
        ...toNodeSpec({ ...cfg.node, kubeletPort: kubelet.port }, KUBELET_VERSION),
        selfRegistered: asNode !== undefined,
      },
      clock,
      log,
      events,
      ownedInstances: () => provider.index.size,
    });
    if (cfg.metrics && metrics) {
      backend.client.observe = metrics.observeEciCall;
      // The pod and Node watches run on the node's client when it impersonates: every client counts.
      const clients = [...new Set([kube, nodeKube, eventKube])];
      metrics.read({
        kubeRequests: () => sumCounts(...clients.map((c) => c.requests)),
        eciCalls: () => backend.client.calls,
        pods: () => pods.podCount,
        groups: () => provider.index.size,
        watchRestarts: () => sumCounts(...clients.map((c) => c.watchStats.restarts())),
        watchRelists: () => sumCounts(...clients.map((c) => c.watchStats.relists())),
        logPollers: () => kubelet.follow.pollers,
        queue: () => pods.queueStats(),
        statusFeedLastSuccessAt: () => provider.statusFeedLastSuccessAt,
        now: () => clock.now(),
      });
      const startedAt = clock.now();
      const now = () => clock.now();
      const server = await startMetricsServer(cfg.metrics.port, cfg.metrics.bindAddress, {
        registry: metrics.registry,
        live: [
          // A controller whose heartbeat stopped is as good as gone: the node goes NotReady.
          freshness({
            name: 'node-lease',
            what: 'the node Lease was last renewed',
            // A standby renews no node Lease; only a leader's silence is a reason to restart.
            lastAt: () => (elector && !elector.isLeading() ? now() : node.lastLeaseRenewAt),
            maxAgeMs: 2 * 40_000,
            now,
            startedAt,
          }),
          // The watch reopens at least every 10 minutes and shows bookmarks in between.
          freshness({
            name: 'pod-watch',
            what: 'the pod watch was last heard from',
            lastAt: () => pods.podWatchActivityAt,
            maxAgeMs: 15 * 60_000,
            now,
            startedAt,
          }),
        ],
        // A standby is ready once its caches are warm: it serves the webhook and the kubelet API too.
        ready: [
          {
            name: 'node-registered',
            check: () =>
              (elector && !elector.isLeading()) || node.ready
                ? undefined
                : 'the Node is not registered Ready yet',
          },
          {
            name: 'pods-synced',
            check: () =>
              (elector && !elector.isLeading() ? pods.synced : pods.started)
                ? undefined
                : 'the pod informer has not synced yet',
          },
        ],
      });
      closers.push(() => server.close());
    }
    if (cfg.webhook) {
      // Loaded only when asked for: its X.509 library is sizeable.
      const { startRoutingWebhook } = await import('./webhook.ts');
      const webhook = await startRoutingWebhook({
        kube,
        port: cfg.webhook.port,
        endpoint: cfg.webhook.endpoint,
        name: cfg.webhook.name,
        getProfile: () => live.profile(),
        tracing: cfg.tracing,
        clock,
        log,
        signal,
      });
      closers.push(() => webhook.close());
    }
    log.info(
      {
        node: cfg.node.nodeName,
        clusterId,
        server: kube.kc.getCurrentCluster()?.server,
        eci: backend.description,
      },
      'starting',
    );
    // ImageCaches are cluster-scoped, and so is their Lease: however many virtual nodes and
    // controllers a cluster has, one of them reconciles ImageCaches at a time (two would each build a
    // cache for the same resource and overwrite each other's status).
    const imageCacheElector = new LeaderElector({
      api: kube.coordination,
      namespace: cfg.leaderElection?.namespace ?? LEADER_DEFAULTS.namespace,
      name: IMAGE_CACHE_LEASE,
      identity: cfg.leaderElection?.identity ?? `${cfg.node.nodeName}-${randomBytes(4).toString('hex')}`,
      ...(cfg.leaderElection && {
        leaseDurationMs: cfg.leaderElection.leaseDurationMs,
        renewDeadlineMs: cfg.leaderElection.renewDeadlineMs,
        retryPeriodMs: cfg.leaderElection.retryPeriodMs,
      }),
      clock,
      log,
    });
    const reconcileImageCaches = async (leadSignal: AbortSignal) => {
      while (!leadSignal.aborted) {
        const held = await imageCacheElector.acquire(leadSignal).catch(() => undefined);
        if (!held) return;
        // A fresh controller each term: nothing of a lost term carries over.
        await new ImageCacheController({
          kube,
          eci: backend.client,
          events,
          clusterId,
          placement,
          clock,
          log: log.child({ component: 'imagecaches' }),
        }).run(held);
      }
    };
    // Without leader election this process leads at once, for as long as it runs.
    const leading = elector ? elector.acquire(signal) : Promise.resolve(signal);
    let lost = false;
    const leader = leading.then(
      async (leadSignal) => {
        leadSignal.addEventListener(
          'abort',
          () => {
            // A replica that lost the Lease stops altogether and is restarted as a standby: its
            // loops and caches start clean, and nothing of the old term keeps writing.
            if (!stopSignal.aborted) {
              lost = true;
              stopAll.abort();
            }
          },
          { once: true },
        );
        // Only a node's leader campaigns for the ImageCache Lease.
        await Promise.all([node.run(leadSignal), reconcileImageCaches(leadSignal)]);
      },
      () => undefined,
    );
    try {
      await Promise.all([leader, pods.run(signal, leading), live.run(signal), kubelet.run(signal)]);
    } finally {
      // A clean stop hands the Lease over at once instead of letting it expire.
      await imageCacheElector.release();
      await elector?.release();
    }
    if (lost) {
      throw new ProductError(
        ErrorCodes.LEADERSHIP_LOST,
        `leader election: lost the Lease ${cfg.leaderElection?.namespace}/${cfg.leaderElection?.name}; exiting to restart as a standby`,
      );
    }
  } finally {
    await closeAll();
  }
  log.info('stopped');
}

function sumCounts(...maps: ReadonlyMap<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}
