import type { Command } from 'commander';
import { createRequire } from 'node:module';
import { parseEciSettings, parseKubeProxy } from '../config/eci-settings.ts';
import { ClusterServices } from '../pods/cluster-services.ts';
import { parseSelectors } from '../webhook/selectors.ts';
import { LiveConfig } from '../config/live-config.ts';
import { openEciBackend } from '../app/eci-backend.ts';
import { defaultNodeIp, parseNodeOptions, toNodeSpec } from '../config/node-options.ts';
import { checkReachable, createKubeClients, type KubeClients } from '../kube/client.ts';
import { DEFAULT_EMULATOR_STATE_DIR } from '../config/paths.ts';
import { EventRecorder } from '../kube/events.ts';
import { NodeController } from '../node/node-controller.ts';
import { PodController } from '../pods/pod-controller.ts';
import { RefResolver } from '../pods/ref-resolver.ts';
import { EciProvider } from '../providers/eci/eci-provider.ts';
import { systemClock } from '../util/clock.ts';
import { createLogger, parseLogFormat } from '../util/log.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { ControllerMetrics } from '../metrics/controller-metrics.ts';
import { freshness, startMetricsServer } from '../metrics/server.ts';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The kubelet version the node reports: the Kubernetes API level we speak, tagged with our version. */
export const KUBELET_VERSION = `v1.34.0-eci-virtual-node.${pkg.version}`;

interface RunFlags {
  kubeconfig?: string;
  nodeName: string;
  nodeIp: string;
  kubeletPort: string;
  cpu: string;
  memory: string;
  pods: string;
  ephemeralStorage: string;
  zone?: string;
  clusterId?: string;
  emulatorStateDir: string;
  eciProfile: string;
  webhookPort?: string;
  webhookEndpoint: string;
  webhookName: string;
  metricsPort?: string;
  metricsBindAddress: string;
  kubeApiQps: string;
  kubeApiBurst: string;
  eciQuotaMultiplier: string;
  logLevel: string;
  logFormat: string;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'run the virtual node: register it, keep it Ready, and run the pods bound to it as ECI container groups.\n' +
        'ECI settings come from the environment (ECI_REGION, ECI_ACCESS_KEY, ECI_SECRET_KEY, ECI_VSWITCH,\n' +
        'ECI_SECURITY_GROUP, ECI_ENDPOINT); with no AccessKey and no region, an embedded ECI emulator is used.',
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig of the cluster (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)',
      process.env.KUBECONFIG,
    )
    .option(
      '--node-name <name>',
      'name of the Node object',
      process.env.VKUBELET_NODE_NAME ?? 'virtual-kubelet',
    )
    .option(
      '--node-ip <ip>',
      'InternalIP the API server reaches the kubelet API on',
      process.env.VKUBELET_POD_IP ?? defaultNodeIp(),
    )
    .option('--kubelet-port <port>', 'port of the kubelet API', process.env.KUBELET_PORT ?? '10250')
    .option('--cpu <quantity>', 'cpu capacity the node reports', '2000')
    .option('--memory <quantity>', 'memory capacity the node reports', '8Ti')
    .option('--pods <count>', 'pod capacity the node reports', '10000')
    .option('--ephemeral-storage <quantity>', 'ephemeral-storage capacity the node reports', '40Ti')
    .option('--zone <zone>', 'topology.kubernetes.io/zone label for the node')
    .option(
      '--cluster-id <id>',
      'cluster identity tagged on every container group (default: UID of kube-system)',
    )
    .option(
      '--emulator-state-dir <dir>',
      'state directory of the embedded ECI emulator',
      DEFAULT_EMULATOR_STATE_DIR,
    )
    .option('--eci-profile <namespace/name>', 'the hot-reloaded profile ConfigMap', 'kube-system/eci-profile')
    .option(
      '--webhook-port <port>',
      'serve the pod-routing admission webhook on this port (0 = any free port; default: off)',
    )
    .option(
      '--webhook-endpoint <how>',
      'how the API server reaches the webhook: service (kube-system/ack-virtual-node-controller), local (https://127.0.0.1:<port>), or an https URL',
      'service',
    )
    .option(
      '--webhook-name <name>',
      'name of the MutatingWebhookConfiguration the controller keeps current',
      'eci-virtual-node',
    )
    .option(
      '--metrics-port <port>',
      'serve /metrics, /livez, /readyz (and /healthz) on this port (default: off)',
    )
    .option('--metrics-bind-address <ip>', 'address for the metrics port', '0.0.0.0')
    .option('--kube-api-qps <n>', 'API server requests per second (sustained), events apart', '200')
    .option('--kube-api-burst <n>', 'API server requests allowed at once', '400')
    .option(
      '--eci-quota-multiplier <n>',
      'scale the client-side ECI per-minute quotas (for raised account quotas)',
      '1',
    )
    .option('--log-level <level>', 'trace, debug, info, warn or error', process.env.LOG_LEVEL ?? 'info')
    .option(
      '--log-format <format>',
      'json (one object a line) or text (for people)',
      process.env.LOG_FORMAT ?? 'json',
    )
    .action(async (flags: RunFlags) => {
      const log = createLogger({ level: flags.logLevel, format: parseLogFormat(flags.logFormat) });
      const options = parseNodeOptions({ ...flags });
      const eciSettings = parseEciSettings(process.env);
      const kubeProxy = parseKubeProxy(process.env);
      // Histograms are observed from the first request on; the rest is read at scrape time.
      const metricsOn = flags.metricsPort !== undefined;
      const controllerMetrics = metricsOn
        ? new ControllerMetrics({ version: pkg.version, kubernetesVersion: KUBELET_VERSION.split('-')[0]! })
        : undefined;
      const kube = await createKubeClients({
        onRequest: controllerMetrics?.observeKubeRequest,
        kubeconfig: flags.kubeconfig,
        qps: positive('--kube-api-qps', flags.kubeApiQps),
        burst: positive('--kube-api-burst', flags.kubeApiBurst),
      });
      await checkReachable(kube.kc);
      const quotaMultiplier = positive('--eci-quota-multiplier', flags.eciQuotaMultiplier, 0.01);
      const stop = new AbortController();
      // SIGTERM stops the loops and leaves the Node and every pod as they are: a restart is a gap in
      // heartbeats, not a node going away.
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        process.once(sig, () => {
          log.info({ signal: sig }, 'stopping');
          stop.abort();
        });
      }
      // Events get their own client and rate limit (kubelet: 50 QPS, burst 100), apart from status writes.
      const eventKube = await createKubeClients({
        kubeconfig: flags.kubeconfig,
        qps: 50,
        burst: 100,
        onRequest: controllerMetrics?.observeKubeRequest,
      });
      const events = new EventRecorder({
        api: eventKube.core,
        component: 'eci-virtual-node',
        host: options.nodeName,
        clock: systemClock,
        log,
      });
      const live = new LiveConfig({
        kube,
        events,
        clock: systemClock,
        log,
        parseSelectors,
        envCredentials: eciSettings.mode === 'cloud' ? eciSettings.credentials : undefined,
        profileRef: namespacedName('--eci-profile', flags.eciProfile),
      });
      await live.load();
      const backend = await openEciBackend({
        settings: eciSettings,
        secretCredentials:
          eciSettings.mode === 'cloud' && !eciSettings.credentials ? live.credentials() : undefined,
        emulatorStateDir: flags.emulatorStateDir,
        quotaMultiplier,
        clock: systemClock,
        log,
      });
      if (backend.mode === 'cloud') {
        live.onCredentialsChange((c) => {
          if (c) backend.client.setCredentials(c);
          else
            log.error('the AccessKey secret lost its keys; keeping the last AccessKey until it is restored');
        });
      }
      // One effective configuration: eci-profile (hot) over the environment over the backend's defaults.
      const placement = () => {
        const p = live.profile();
        return {
          vSwitchIds:
            p.vSwitchIds ??
            (eciSettings.vSwitchIds?.length ? eciSettings.vSwitchIds : backend.defaultVSwitchIds),
          securityGroupId:
            p.securityGroupId ?? eciSettings.securityGroupId ?? backend.defaultSecurityGroupId ?? '',
        };
      };
      const first = placement();
      if (first.vSwitchIds.length === 0 || !first.securityGroupId) {
        await backend.close();
        throw new ProductError(
          ErrorCodes.CONFIG_INVALID,
          `no ${first.vSwitchIds.length === 0 ? 'vSwitch' : 'security group'} for ECI pods: set ` +
            `${first.vSwitchIds.length === 0 ? 'ECI_VSWITCH (environment) or vSwitchIds' : 'ECI_SECURITY_GROUP (environment) or securityGroupId'} ` +
            `(ConfigMap kube-system/eci-profile)`,
        );
      }
      let metrics: { close(): Promise<void> } | undefined;
      let webhook: { close(): Promise<void> } | undefined;
      try {
        const clusterId = flags.clusterId ?? (await defaultClusterId(kube));
        const services = new ClusterServices(kube.core, log);
        const refs = new RefResolver(kube.core);
        const provider = new EciProvider({
          eci: backend.client,
          clusterId,
          nodeName: options.nodeName,
          hostIP: options.nodeIp,
          createContext: async () => ({
            regionId: backend.client.regionId,
            ...placement(),
            ...(await services.get(live.profile().enableClusterIp ?? kubeProxy, systemClock.now())),
          }),
          resolveRefs: (pod) => refs.resolve(pod),
          clock: systemClock,
          log,
        });
        const node = new NodeController({
          kube,
          spec: toNodeSpec(options, KUBELET_VERSION),
          clock: systemClock,
          log,
          events,
          ownedInstances: () => provider.index.size,
        });
        const pods = new PodController({
          onPodRunning: (_pod, seconds) => controllerMetrics?.observePodRunning(seconds),
          kube,
          provider,
          nodeName: options.nodeName,
          events,
          clock: systemClock,
          log,
        });
        if (controllerMetrics) {
          backend.client.observe = controllerMetrics.observeEciCall;
          controllerMetrics.read({
            kubeRequests: () => sumCounts(kube.requests, eventKube.requests),
            eciCalls: () => backend.client.calls,
            pods: () => pods.podCount,
            groups: () => provider.index.size,
            watchRestarts: () => kube.watchStats.restarts(),
            watchRelists: () => kube.watchStats.relists(),
            queue: () => pods.queueStats(),
            statusFeedLastSuccessAt: () => provider.statusFeedLastSuccessAt,
            now: () => systemClock.now(),
          });
          const startedAt = systemClock.now();
          const now = () => systemClock.now();
          metrics = await startMetricsServer(
            positive('--metrics-port', flags.metricsPort!, 0),
            flags.metricsBindAddress,
            {
              registry: controllerMetrics.registry,
              live: [
                // A controller whose heartbeat stopped is as good as gone: the node goes NotReady.
                freshness({
                  name: 'node-lease',
                  what: 'the node Lease was last renewed',
                  lastAt: () => node.lastLeaseRenewAt,
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
              ready: [
                {
                  name: 'node-registered',
                  check: () => (node.ready ? undefined : 'the Node is not registered Ready yet'),
                },
                {
                  name: 'pods-synced',
                  check: () => (pods.started ? undefined : 'the pod informer has not synced yet'),
                },
              ],
            },
          );
        }
        if (flags.webhookPort !== undefined) {
          // Loaded only when asked for: its X.509 library is sizeable.
          const { startRoutingWebhook } = await import('../app/webhook.ts');
          webhook = await startRoutingWebhook({
            kube,
            port: positive('--webhook-port', flags.webhookPort, 0),
            endpoint: flags.webhookEndpoint,
            name: flags.webhookName,
            getProfile: () => live.profile(),
            clock: systemClock,
            log,
            signal: stop.signal,
          });
        }
        log.info(
          {
            node: options.nodeName,
            clusterId,
            server: kube.kc.getCurrentCluster()?.server,
            eci: backend.description,
          },
          'starting',
        );
        await Promise.all([node.run(stop.signal), pods.run(stop.signal), live.run(stop.signal)]);
      } finally {
        await webhook?.close();
        await metrics?.close();
        await backend.close();
        await eventKube.close();
        await kube.close();
      }
      log.info('stopped');
    });
}

function namespacedName(flag: string, value: string): { namespace: string; name: string } {
  const [namespace, name, extra] = value.split('/');
  if (!namespace || !name || extra !== undefined) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `${flag}: must be namespace/name (got ${JSON.stringify(value)})`,
    );
  }
  return { namespace, name };
}

function sumCounts(...maps: ReadonlyMap<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/** A number flag, validated; the error names the flag. */
function positive(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `${flag}: must be a number >= ${min} (got ${JSON.stringify(value)})`,
    );
  }
  return n;
}

/** The kube-system namespace's UID: stable for the cluster's life, different in every cluster. */
async function defaultClusterId(kube: KubeClients): Promise<string> {
  const ns = await kube.core.readNamespace({ name: 'kube-system' });
  return ns.metadata?.uid ?? 'unknown-cluster';
}
