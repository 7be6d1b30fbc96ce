import type { Command } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseEciSettings, type EciSettings } from '../config/eci-settings.ts';
import { defaultNodeIp, parseNodeOptions, toNodeSpec } from '../config/node-options.ts';
import { createKubeClients, type KubeClients } from '../kube/client.ts';
import { EventRecorder } from '../kube/events.ts';
import { NodeController } from '../node/node-controller.ts';
import { PodController } from '../pods/pod-controller.ts';
import { resolveRefs } from '../pods/ref-resolver.ts';
import { EciClient } from '../providers/eci/eci-client.ts';
import { EciProvider } from '../providers/eci/eci-provider.ts';
import { systemClock } from '../util/clock.ts';
import { createLogger, type Logger } from '../util/log.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { startMetricsServer } from '../metrics/server.ts';

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
  metricsPort?: string;
  metricsBindAddress: string;
  kubeApiQps: string;
  kubeApiBurst: string;
  eciQuotaMultiplier: string;
  logLevel: string;
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
      'kubeconfig of the cluster (default: in-cluster, then $KUBECONFIG)',
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
      path.join(os.homedir(), '.local', 'state', 'eci-virtual-node', 'emulator'),
    )
    .option('--metrics-port <port>', 'serve /metrics, /healthz and /readyz on this port (default: off)')
    .option('--metrics-bind-address <ip>', 'address for the metrics port', '0.0.0.0')
    .option('--kube-api-qps <n>', 'API server requests per second (sustained)', '100')
    .option('--kube-api-burst <n>', 'API server requests allowed at once', '200')
    .option(
      '--eci-quota-multiplier <n>',
      'scale the client-side ECI per-minute quotas (for raised account quotas)',
      '1',
    )
    .option('--log-level <level>', 'trace, debug, info, warn or error', process.env.LOG_LEVEL ?? 'info')
    .action(async (flags: RunFlags) => {
      const log = createLogger({ level: flags.logLevel });
      const options = parseNodeOptions({ ...flags });
      const eciSettings = parseEciSettings(process.env);
      const kube = await createKubeClients({
        kubeconfig: flags.kubeconfig,
        qps: positive('--kube-api-qps', flags.kubeApiQps),
        burst: positive('--kube-api-burst', flags.kubeApiBurst),
      });
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
      const backend = await openEciBackend(eciSettings, flags.emulatorStateDir, quotaMultiplier, log);
      let metrics: { close(): Promise<void> } | undefined;
      try {
        const clusterId = flags.clusterId ?? (await defaultClusterId(kube));
        const node = new NodeController({
          kube,
          spec: toNodeSpec(options, KUBELET_VERSION),
          clock: systemClock,
          log,
        });
        const provider = new EciProvider({
          eci: backend.client,
          clusterId,
          nodeName: options.nodeName,
          hostIP: options.nodeIp,
          createContext: () => ({
            regionId: backend.client.regionId,
            vSwitchIds: backend.vSwitchIds,
            securityGroupId: backend.securityGroupId,
          }),
          resolveRefs: (pod) => resolveRefs(kube.core, pod),
          clock: systemClock,
          log,
        });
        const events = new EventRecorder({
          api: kube.core,
          component: 'eci-virtual-node',
          host: options.nodeName,
          clock: systemClock,
          log,
        });
        const pods = new PodController({
          kube,
          provider,
          nodeName: options.nodeName,
          events,
          clock: systemClock,
          log,
        });
        if (flags.metricsPort !== undefined) {
          metrics = await startMetricsServer(
            positive('--metrics-port', flags.metricsPort, 0),
            flags.metricsBindAddress,
            {
              kubeRequests: () => kube.requests,
              eciCalls: () => backend.client.calls,
              pods: () => pods.podCount,
              groups: () => provider.index.size,
              ready: () => node.ready && pods.started,
            },
          );
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
        await Promise.all([node.run(stop.signal), pods.run(stop.signal)]);
      } finally {
        await metrics?.close();
        await backend.close();
        await kube.close();
      }
      log.info('stopped');
    });
}

interface EciBackend {
  client: EciClient;
  vSwitchIds: string[];
  securityGroupId: string;
  description: string;
  close(): Promise<void>;
}

async function openEciBackend(
  s: EciSettings,
  emulatorStateDir: string,
  quotaMultiplier: number,
  log: Logger,
): Promise<EciBackend> {
  if (s.mode === 'cloud') {
    const client = new EciClient({
      credentials: { accessKeyId: s.accessKeyId, accessKeySecret: s.accessKeySecret },
      regionId: s.regionId,
      endpoint: s.endpoint,
      protocol: s.protocol,
      quotaMultiplier,
      clock: systemClock,
      log,
    });
    return {
      client,
      vSwitchIds: s.vSwitchIds,
      securityGroupId: s.securityGroupId,
      description: `ECI ${s.regionId}${s.endpoint ? ` at ${s.endpoint}` : ''}`,
      close: async () => undefined,
    };
  }
  // Imported here so a controller talking to the cloud never loads the emulator.
  const { startEmulator } = await import('../emulator/server.ts');
  // Its per-request log lines would drown the controller's own at info; they show at debug.
  const emuLog = log.child({ component: 'emulator' }, { level: log.level === 'info' ? 'warn' : log.level });
  const emu = await startEmulator({ port: 0, stateDir: emulatorStateDir, logger: emuLog });
  log.warn(
    { url: emu.url, stateDir: emulatorStateDir },
    'no AccessKey and no region configured (ECI_ACCESS_KEY, ECI_REGION): running pods on the embedded ECI emulator, not on Alibaba Cloud',
  );
  const vpc = emu.config.region.vSwitches[0]?.vpcId;
  return {
    client: new EciClient({
      credentials: { accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret },
      regionId: emu.regionId,
      endpoint: emu.endpoint,
      protocol: emu.protocol,
      quotaMultiplier,
      clock: systemClock,
      log,
    }),
    vSwitchIds: s.vSwitchIds ?? emu.config.region.vSwitches.filter((v) => v.vpcId === vpc).map((v) => v.id),
    securityGroupId:
      s.securityGroupId ?? emu.config.region.securityGroups.find((g) => g.vpcId === vpc)?.id ?? '',
    description: `embedded emulator at ${emu.url}`,
    close: () => emu.close(),
  };
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
