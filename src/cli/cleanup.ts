import type { Command } from 'commander';
import { openEciBackend } from '../app/eci-backend.ts';
import { defaultEmulatorStateDir, type Env } from '../app/run-config.ts';
import { cleanupNode } from '../app/cleanup.ts';
import { defaultClusterId } from '../app/cluster-id.ts';
import { parseEciSettings } from '../config/eci-settings.ts';
import { credentialsFromSecret, readCredentialsSecret } from '../config/live-config.ts';
import { createKubeClients } from '../kube/client.ts';
import { EciProvider } from '../providers/eci/eci-provider.ts';
import { systemClock } from '../util/clock.ts';
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
}

export function registerCleanupCommand(program: Command, env: Env): void {
  program
    .command('cleanup')
    .description(
      'uninstall a virtual node without leaving paid instances: delete every pod bound to it, every ECI\n' +
        'container group it owns, then the node. Stop the controller first. ECI settings as for `run`.',
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig of the cluster (default: in-cluster, then $KUBECONFIG)',
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
    .option('--force', 'proceed even though the controller still heartbeats', false)
    .action(async (flags: CleanupFlags) => {
      const log = createLogger({ level: env.LOG_LEVEL ?? 'warn' });
      const settings = parseEciSettings(env);
      const kube = await createKubeClients({
        kubeconfig: flags.kubeconfig,
        inCluster: !flags.kubeconfig && !!env.KUBERNETES_SERVICE_HOST,
      });
      try {
        const backend = await openEciBackend({
          settings,
          secretCredentials:
            settings.mode === 'cloud' && !settings.credentials
              ? credentialsFromSecret(await readCredentialsSecret(kube.core))
              : undefined,
          emulatorStateDir: flags.emulatorStateDir,
          emulatorRuntime: flags.emulatorRuntime,
          quotaMultiplier: 1,
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
            now: () => systemClock.now(),
            say: (line) => process.stdout.write(`${line}\n`),
          });
          process.stdout.write(
            `cleanup done: ${r.podsDeleted} pod(s), ${r.groupsDeleted} group(s) deleted\n`,
          );
        } finally {
          await backend.close();
        }
      } finally {
        await kube.close();
      }
    });
}
