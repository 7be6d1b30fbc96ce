import type { Command } from 'commander';
import { runController } from '../app/controller.ts';
import {
  defaultEmulatorStateDir,
  resolveRunConfig,
  RUN_DEFAULTS as D,
  type AllRunFlags,
  type Env,
} from '../app/run-config.ts';
import { LEADER_DEFAULTS } from '../app/leader-config.ts';
import { ErrorCodes, hasCode } from '../util/errors.ts';
import { createLogger } from '../util/log.ts';
import { EMULATOR_RUNTIME_HELP } from './emulator-runtime-flag.ts';

/** `run`: flags in, signals to an AbortSignal; the controller itself is src/app/controller.ts. */
export function registerRunCommand(program: Command, env: Env): void {
  program
    .command('run')
    .description(
      'run the virtual node: register it, keep it Ready, and run the pods bound to it as ECI container groups.\n' +
        'ECI settings come from the environment (ECI_REGION, ECI_ACCESS_KEY, ECI_SECRET_KEY, ECI_VSWITCH,\n' +
        'ECI_SECURITY_GROUP, ECI_ENDPOINT); with no AccessKey and no region, an embedded ECI emulator is used.\n' +
        'Precedence for every setting: the flag, then its environment variable, then the default.',
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig of the cluster (env KUBECONFIG; default: in-cluster, then ~/.kube/config)',
    )
    .option('--node-name <name>', `name of the Node object (env VKUBELET_NODE_NAME; default ${D.nodeName})`)
    .option(
      '--node-ip <ip>',
      'InternalIP the API server reaches the kubelet API on (env VKUBELET_POD_IP; default: first non-loopback IPv4)',
    )
    .option(
      '--kubelet-port <port>',
      `port of the kubelet API (logs, exec, attach, port-forward, stats); 0 = any free port (env KUBELET_PORT; default ${D.kubeletPort})`,
    )
    .option(
      '--kubelet-bind-address <ip>',
      `address the kubelet API listens on (default ${D.kubeletBindAddress})`,
    )
    .option(
      '--tls-cert-file <file>',
      'kubelet API serving certificate (PEM, with --tls-private-key-file); default: requested from the cluster by a CSR',
    )
    .option('--tls-private-key-file <file>', 'key of --tls-cert-file (PEM)')
    .option(
      '--cert-dir <dir>',
      'where the cluster-issued kubelet serving certificate is kept across restarts (default: not kept)',
    )
    .option(
      '--approve-own-serving-csr',
      'approve our own kubelet-serving CSR (needs the opt-in RBAC in deploy/optional/)',
    )
    .option(
      '--client-ca-file <file>',
      "CA bundle for client certificates (default: the API server's, from kube-system/extension-apiserver-authentication)",
    )
    .option('--cpu <quantity>', `cpu capacity the node reports (default ${D.cpu})`)
    .option('--memory <quantity>', `memory capacity the node reports (default ${D.memory})`)
    .option('--pods <count>', `pod capacity the node reports (default ${D.pods})`)
    .option(
      '--ephemeral-storage <quantity>',
      `ephemeral-storage capacity the node reports (default ${D.ephemeralStorage})`,
    )
    .option('--zone <zone>', 'topology.kubernetes.io/zone label for the node')
    .option(
      '--cluster-id <id>',
      'cluster identity tagged on every container group (default: UID of kube-system)',
    )
    .option(
      '--emulator-state-dir <dir>',
      `state directory of the embedded ECI emulator (default ${defaultEmulatorStateDir()})`,
    )
    .option('--emulator-runtime <runtime>', `${EMULATOR_RUNTIME_HELP} (default auto)`)
    .option('--eci-profile <namespace/name>', `the hot-reloaded profile ConfigMap (default ${D.eciProfile})`)
    .option(
      '--webhook-port <port>',
      'serve the pod-routing admission webhook on this port (0 = any free port; default: off)',
    )
    .option(
      '--webhook-endpoint <how>',
      'how the API server reaches the webhook: service (kube-system/ack-virtual-node-controller), local ' +
        `(https://127.0.0.1:<port>), or an https URL (default ${D.webhookEndpoint})`,
    )
    .option(
      '--webhook-name <name>',
      `name of the MutatingWebhookConfiguration the controller keeps current (default ${D.webhookName})`,
    )
    .option('--metrics-port <port>', 'serve /metrics, /healthz and /readyz on this port (default: off)')
    .option('--metrics-bind-address <ip>', `address for the metrics port (default ${D.metricsBindAddress})`)
    .option(
      '--kube-api-qps <n>',
      `API server requests per second (sustained), events apart (default ${D.kubeApiQps})`,
    )
    .option('--kube-api-burst <n>', `API server requests allowed at once (default ${D.kubeApiBurst})`)
    .option(
      '--eci-quota-multiplier <n>',
      `scale the client-side ECI per-minute quotas, for raised account quotas (default ${D.eciQuotaMultiplier})`,
    )
    .option('--log-level <level>', `trace, debug, info, warn or error (env LOG_LEVEL; default ${D.logLevel})`)
    .option(
      '--impersonate-node',
      'handle pods and the Node as system:node:<node name> (impersonated): the API server then confines the ' +
        'controller to its own Node and the pods bound to it (needs the impersonation grant in deploy/)',
    )
    .option(
      '--leader-elect',
      'run as one of several replicas: only the holder of a Lease writes (Node, pods, ECI); every replica ' +
        'serves the webhook and the kubelet API and keeps its caches warm',
    )
    .option(
      '--leader-elect-namespace <ns>',
      `namespace of the leader election Lease (default ${LEADER_DEFAULTS.namespace})`,
    )
    .option('--leader-elect-lease-name <name>', 'name of the Lease (default eci-virtual-node-<node name>)')
    .option(
      '--leader-elect-lease-duration <d>',
      `how long a Lease holds unrenewed; a standby takes over this long after the leader died (default ${LEADER_DEFAULTS.leaseDuration})`,
    )
    .option(
      '--leader-elect-renew-deadline <d>',
      `the leader stops writing after failing to renew for this long (default ${LEADER_DEFAULTS.renewDeadline})`,
    )
    .option(
      '--leader-elect-retry-period <d>',
      `how often the leader renews and a standby checks (default ${LEADER_DEFAULTS.retryPeriod})`,
    )
    .action(async (flags: AllRunFlags) => {
      const cfg = resolveRunConfig(flags, env);
      const log = createLogger({ level: cfg.logLevel });
      const stop = new AbortController();
      // SIGTERM stops the loops and leaves the Node and every pod as they are: a restart is a gap in
      // heartbeats, not a node going away.
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        process.once(sig, () => {
          log.info({ signal: sig }, 'stopping');
          stop.abort();
        });
      }
      try {
        await runController(cfg, log, stop.signal);
      } catch (err) {
        // Leadership lost: everything was stopped; should a handle still hold the loop, exit anyway
        // so the Deployment restarts this replica as a standby.
        if (hasCode(err, ErrorCodes.LEADERSHIP_LOST)) setTimeout(() => process.exit(1), 3000).unref();
        throw err;
      }
    });
}
