import type { Command } from 'commander';
import { createRequire } from 'node:module';
import { defaultNodeIp, parseNodeOptions, toNodeSpec } from '../config/node-options.ts';
import { createKubeClients } from '../kube/client.ts';
import { NodeController } from '../node/node-controller.ts';
import { systemClock } from '../util/clock.ts';
import { createLogger } from '../util/log.ts';

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
  logLevel: string;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('register the virtual node in a cluster and keep it Ready (the controller)')
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
    .option('--log-level <level>', 'trace, debug, info, warn or error', process.env.LOG_LEVEL ?? 'info')
    .action(async (flags: RunFlags) => {
      const log = createLogger({ level: flags.logLevel });
      const options = parseNodeOptions({ ...flags });
      const kube = await createKubeClients({ kubeconfig: flags.kubeconfig });
      const node = new NodeController({
        kube,
        spec: toNodeSpec(options, KUBELET_VERSION),
        clock: systemClock,
        log,
      });
      const stop = new AbortController();
      // SIGTERM stops the loops and leaves the Node and every pod as they are: a restart is a gap in
      // heartbeats, not a node going away.
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        process.once(sig, () => {
          log.info({ signal: sig }, 'stopping');
          stop.abort();
        });
      }
      log.info({ node: options.nodeName, server: kube.kc.getCurrentCluster()?.server }, 'starting');
      await node.run(stop.signal);
      await kube.close();
      log.info('stopped');
    });
}
