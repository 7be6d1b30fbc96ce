import type { Command } from 'commander';
import { openEciBackend } from '../app/eci-backend.ts';
import { cleanupNode } from '../app/cleanup.ts';
import { parseEciSettings } from '../config/eci-settings.ts';
import { credentialsFromSecret, readCredentialsSecret } from '../config/live-config.ts';
import { defaultEmulatorStateDir } from '../app/run-config.ts';
import { createKubeClients } from '../kube/client.ts';
import { EciProvider } from '../providers/eci/eci-provider.ts';
import { defaultClusterId } from '../app/cluster-id.ts';
import type { Env } from '../app/run-config.ts';
import { systemClock } from '../util/clock.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { createLogger } from '../util/log.ts';
import type { RuntimeChoice } from '../emulator/config.ts';
import { EMULATOR_RUNTIME_HELP, parseRuntimeChoice } from './emulator-runtime-flag.ts';

interface CleanupFlags {
  kubeconfig?: string;
  nodeName: string;
  clusterId?: string;
  emulatorStateDir: string;
  emulatorRuntime: RuntimeChoice;
  force: boolean;
  dryRun: boolean;
  stopController?: string;
  webhookName?: string;
  timeout: string;
  concurrency: string;
  eciQuotaMultiplier: string;
}

function namespaced(flag: string, v: string): { namespace: string; name: string } {
  const [namespace, name, extra] = v.split('/');
  if (!namespace || !name || extra !== undefined) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `${flag}: must be namespace/name (got ${JSON.stringify(v)})`,
    );
  }
  return { namespace, name };
}

function number(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `${flag}: must be a number >= ${min} (got ${JSON.stringify(v)})`,
    );
  }
  return n;
}

export function registerCleanupCommand(program: Command, env: Env): void {
  program
    .command('cleanup')
    .description(
      'uninstall a virtual node without leaving paid instances: delete every pod bound to it, every ECI\n' +
        'container group it owns, then the node. Stop the controller first (or --stop-controller). ECI\n' +
        'settings as for `run`. Safe to interrupt (Ctrl-C) and run again: it resumes with what is left.',
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig of the cluster (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)',
      env.KUBECONFIG,
    )
    .option('--node-name <name>', 'the virtual node to remove', env.VKUBELET_NODE_NAME ?? 'virtual-kubelet')
    .option(
      '--cluster-id <id>',
      'cluster identity on the groups (default: UID of kube-system, as `run` uses)',
    )
    .option(
      '--emulator-state-dir <dir>',
      'state directory of the embedded ECI emulator (when no AccessKey is configured)',
      defaultEmulatorStateDir(),
    )
    .option('--emulator-runtime <runtime>', EMULATOR_RUNTIME_HELP, parseRuntimeChoice, 'auto')
    .option('--dry-run', 'print what would be deleted; delete nothing', false)
    .option(
      '--stop-controller <namespace/name>',
      "first scale this controller Deployment to 0 and wait for its pods to go (the Helm chart's uninstall hook does)",
    )
    .option(
      '--webhook-name <name>',
      'first delete this MutatingWebhookConfiguration, so no new pod is routed to the node',
    )
    .option(
      '--timeout <seconds>',
      "give up after this long; auto = twice the fleet's time at the delete quota plus 3 minutes (at least 5); 0 = never",
      'auto',
    )
    .option('--concurrency <n>', 'container group deletes in flight at once (paced inside the quota)', '32')
    .option(
      '--eci-quota-multiplier <n>',
      'scale the client-side ECI per-minute quotas (for raised account quotas)',
      '1',
    )
    .option('--force', 'proceed even though the controller still heartbeats', false)
    .action(async (flags: CleanupFlags) => {
      const log = createLogger({ level: env.LOG_LEVEL ?? 'warn' });
      const multiplier = number('--eci-quota-multiplier', flags.eciQuotaMultiplier, 0.01);
      const deadline =
        flags.timeout === 'auto'
          ? 'auto'
          : number('--timeout', flags.timeout, 0) === 0
            ? 'none'
            : Number(flags.timeout) * 1000;
      const concurrency = number('--concurrency', flags.concurrency, 1);
      const settings = parseEciSettings(env);
      const kube = await createKubeClients({
        kubeconfig: flags.kubeconfig,
        inCluster: !flags.kubeconfig && !!env.KUBERNETES_SERVICE_HOST,
      });
      // Ctrl-C stops between deletes; a second one exits at once.
      const stop = new AbortController();
      const onSignal = () => {
        if (stop.signal.aborted) process.exit(130);
        process.stderr.write('\ncleanup: stopping after the deletes in flight (Ctrl-C again to quit now)\n');
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const backend = await openEciBackend({
          settings,
          secretCredentials:
            settings.mode === 'cloud' && !settings.credentials
              ? credentialsFromSecret(await readCredentialsSecret(kube.core))
              : undefined,
          emulatorStateDir: flags.emulatorStateDir,
          emulatorRuntime: flags.emulatorRuntime,
          quotaMultiplier: multiplier,
          clock: systemClock,
          log,
        });
        try {
          const provider = new EciProvider({
            eci: backend.client,
            clusterId: flags.clusterId ?? (await defaultClusterId(kube)),
            nodeName: flags.nodeName,
            hostIP: '',
            clock: systemClock,
            log,
          });
          const r = await cleanupNode({
            kube,
            instances: provider,
            nodeName: flags.nodeName,
            force: flags.force,
            dryRun: flags.dryRun,
            stopController: flags.stopController
              ? namespaced('--stop-controller', flags.stopController)
              : undefined,
            webhookName: flags.webhookName,
            concurrency,
            timeoutMs: deadline === 'auto' ? undefined : deadline === 'none' ? Infinity : deadline,
            clock: systemClock,
            say: (line) => process.stdout.write(`${line}\n`),
            signal: stop.signal,
          });
          process.stdout.write(
            r.dryRun
              ? `cleanup dry run: ${r.podsDeleted} pod(s), ${r.groupsDeleted} group(s) would be deleted\n`
              : `cleanup done: ${r.podsDeleted} pod(s), ${r.groupsDeleted} group(s) deleted\n`,
          );
        } finally {
          await backend.close();
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await kube.close();
      }
    });
}
