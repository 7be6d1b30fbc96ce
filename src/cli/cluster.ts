import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { ClusterStatus } from '../../dev/cluster/controlplane.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { localControlPlane } from './local-cluster.ts';

// The defaults dev/cluster/controlplane.ts applies, for the help text (that module is loaded only when a
// subcommand runs; dev/cluster/controlplane.test.ts keeps these equal to its own).
const DEFAULT_CLUSTER_NAME = 'default';
const DEFAULT_NODE_MONITOR_GRACE_PERIOD = '40s';

interface CommonOptions {
  name: string;
  stateDir?: string;
}

function withCommonOptions(cmd: Command): Command {
  return cmd
    .option(
      '--name <name>',
      'cluster name; clusters with different names run side by side',
      DEFAULT_CLUSTER_NAME,
    )
    .option(
      '--state-dir <dir>',
      'state directory (certificates, etcd data, logs, kubeconfig) ' +
        '(default: $ECI_VN_STATE_DIR, else ~/.local/state/eci-virtual-node/clusters/<name>)',
    );
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535)
    throw new InvalidArgumentError('expected a port 1-65535');
  return port;
}

export function registerClusterCommand(program: Command): void {
  const cluster = program
    .command('cluster')
    .description(
      'A local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) ' +
        'on 127.0.0.1, for tests and the demo',
    );

  withCommonOptions(
    cluster
      .command('up')
      .description(
        'Start the control plane (building it first if needed) and print the admin kubeconfig path; ' +
          'does nothing when it already runs',
      ),
  )
    .option('--apiserver-port <port>', "pin kube-apiserver's port (default: a free port)", parsePort)
    .option(
      '--node-monitor-grace-period <duration>',
      `how long a node may stop reporting before it is marked NotReady (default: ${DEFAULT_NODE_MONITOR_GRACE_PERIOD})`,
    )
    .action(async (o: CommonOptions & { apiserverPort?: number; nodeMonitorGracePeriod?: string }) => {
      const abort = new AbortController();
      // The processes run detached, so an interrupted `up` must stop what it started itself.
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      try {
        const { clusterUp } = await localControlPlane();
        const info = await clusterUp({
          name: o.name,
          stateDir: o.stateDir,
          apiserverPort: o.apiserverPort,
          nodeMonitorGracePeriod: o.nodeMonitorGracePeriod,
          signal: abort.signal,
        });
        process.stderr.write(
          `[cluster ${info.name}] try: KUBECONFIG=${info.kubeconfig} kubectl get namespaces\n`,
        );
        process.stdout.write(`${info.kubeconfig}\n`);
      } catch (err) {
        if (abort.signal.aborted) {
          throw new ProductError(
            ErrorCodes.START_FAILED,
            'interrupted; stopped the processes it had started',
            {
              cause: err,
            },
          );
        }
        throw err;
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    });

  withCommonOptions(
    cluster
      .command('down')
      .description('Stop every process `cluster up` started for this cluster (and nothing else)'),
  )
    .option('--purge', 'also delete the state directory (etcd data, certificates, logs)')
    .action(async (o: CommonOptions & { purge?: boolean }) => {
      const { clusterDown } = await localControlPlane();
      await clusterDown({ name: o.name, stateDir: o.stateDir, purge: o.purge });
    });

  withCommonOptions(
    cluster
      .command('status')
      .description('Show which components run; exits non-zero unless all run and are healthy'),
  )
    .option('--json', 'print the status as JSON')
    .action(async (o: CommonOptions & { json?: boolean }) => {
      const { clusterStatus } = await localControlPlane();
      const status = await clusterStatus({ name: o.name, stateDir: o.stateDir });
      process.stdout.write(o.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      if (!status.running) {
        const some = status.components.some((c) => c.pid !== undefined);
        throw new ProductError(
          ErrorCodes.NOT_RUNNING,
          some
            ? `cluster '${status.name}' is only partly running; restart it with \`eci-virtual-node cluster up\``
            : `cluster '${status.name}' is not running; start it with \`eci-virtual-node cluster up\``,
        );
      }
    });

  withCommonOptions(cluster.command('kubeconfig').description("Print the admin kubeconfig's path"))
    .option('--print', 'print its content instead (it references key files by path; no key is printed)')
    .action(async (o: CommonOptions & { print?: boolean }) => {
      const { clusterKubeconfig } = await localControlPlane();
      const { path, running } = await clusterKubeconfig({ name: o.name, stateDir: o.stateDir });
      if (!running) process.stderr.write(`[cluster ${o.name}] warning: the cluster is not running\n`);
      process.stdout.write(o.print ? await readFile(path, 'utf8') : `${path}\n`);
    });
}

function formatStatus(status: ClusterStatus): string {
  const lines = [
    `cluster '${status.name}': ${status.running ? 'running' : 'not running'} (${status.stateDir})`,
  ];
  for (const c of status.components) {
    const state = c.pid === undefined ? 'stopped' : c.healthy ? 'healthy' : 'unhealthy';
    const pid = c.pid === undefined ? '' : `pid ${c.pid}`;
    lines.push(
      `  ${c.name.padEnd(24)} ${state.padEnd(10)} ${pid.padEnd(12)} ${c.pid ? (c.endpoint ?? '') : ''}`.trimEnd(),
    );
  }
  if (status.kubeconfig && status.running) lines.push(`kubeconfig: ${status.kubeconfig}`);
  return `${lines.join('\n')}\n`;
}
