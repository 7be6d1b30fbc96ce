import type { Command } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { openEciBackend } from '../app/eci-backend.ts';
import { cleanupNode } from '../app/cleanup.ts';
import { parseEciSettings } from '../config/eci-settings.ts';
import { credentialsFromSecret, readCredentialsSecret } from '../config/live-config.ts';
import { createKubeClients } from '../kube/client.ts';
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

export function registerCleanupCommand(program: Command): void {
  program
    .command('cleanup')
    .description(
      'uninstall a virtual node without leaving paid instances: delete every pod bound to it, every ECI\n' +
        'container group it owns, then the node. Stop the controller first. ECI settings as for `run`.',
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig of the cluster (default: in-cluster, then $KUBECONFIG)',
      process.env.KUBECONFIG,
    )
    .option(
      '--node-name <name>',
      'the virtual node to remove',
      process.env.VKUBELET_NODE_NAME ?? 'virtual-kubelet',
    )
    .option(
      '--cluster-id <id>',
      'cluster identity on the groups (default: UID of kube-system, as `run` uses)',
    )
    .option(
      '--emulator-state-dir <dir>',
      'state directory of the embedded ECI emulator (when no AccessKey is configured)',
      path.join(os.homedir(), '.local', 'state', 'eci-virtual-node', 'emulator'),
    )
    .option('--emulator-runtime <runtime>', EMULATOR_RUNTIME_HELP, parseRuntimeChoice, 'auto')
    .option('--force', 'proceed even though the controller still heartbeats', false)
    .action(async (flags: CleanupFlags) => {
      const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
      const settings = parseEciSettings(process.env);
      const kube = await createKubeClients({ kubeconfig: flags.kubeconfig });
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
          const clusterId =
            flags.clusterId ?? (await kube.core.readNamespace({ name: 'kube-system' })).metadata?.uid ?? '';
          const r = await cleanupNode({
            kube,
            eci: backend.client,
            clusterId,
            nodeName: flags.nodeName,
            force: flags.force,
            now: () => systemClock.now(),
            sleep: (ms) => systemClock.sleep(ms),
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
