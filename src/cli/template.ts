import type { Command } from 'commander';
import { openEciBackend } from '../app/eci-backend.ts';
import { defaultEmulatorStateDir, type Env } from '../app/run-config.ts';
import { groupOfPod, renderTemplate } from '../app/template.ts';
import { defaultClusterId } from '../app/cluster-id.ts';
import { parseEciSettings } from '../config/eci-settings.ts';
import { credentialsFromSecret, readCredentialsSecret } from '../config/live-config.ts';
import { createKubeClients } from '../kube/client.ts';
import { systemClock } from '../util/clock.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { createLogger } from '../util/log.ts';

interface ExportFlags {
  kubeconfig?: string;
  clusterId?: string;
  group?: string;
  output: string;
  emulatorStateDir: string;
}

export function registerTemplateCommand(program: Command, env: Env): void {
  const template = program
    .command('template')
    .description('ECI container group templates (ExportContainerGroupTemplate)');
  template
    .command('export')
    .description(
      "print the ECI container group a pod runs in as ECI's template document (ExportContainerGroupTemplate),\n" +
        'which CreateContainerGroupFromTemplate takes back. ECI settings as for `run`.',
    )
    .argument('[pod]', 'the pod, as namespace/name (or name, in namespace default)')
    .option('--group <id>', 'export this container group instead of looking up a pod')
    .option(
      '--kubeconfig <file>',
      'kubeconfig of the cluster (default: in-cluster, then $KUBECONFIG)',
      env.KUBECONFIG,
    )
    .option(
      '--cluster-id <id>',
      'cluster identity on the groups (default: UID of kube-system, as `run` uses)',
    )
    .option('-o, --output <format>', 'json or yaml', 'json')
    .option(
      '--emulator-state-dir <dir>',
      'state directory of the embedded ECI emulator (when no AccessKey is configured; stop `run` first)',
      defaultEmulatorStateDir(),
    )
    .action(async (pod: string | undefined, flags: ExportFlags) => {
      if (flags.output !== 'json' && flags.output !== 'yaml')
        throw new ProductError(
          ErrorCodes.INVALID_INPUT,
          `--output: use json or yaml (got ${JSON.stringify(flags.output)})`,
        );
      if (!pod && !flags.group)
        throw new ProductError(ErrorCodes.INVALID_INPUT, 'name a pod (namespace/name) or pass --group <id>');
      const log = createLogger({ level: env.LOG_LEVEL ?? 'warn' });
      const settings = parseEciSettings(env);
      const kube = flags.group
        ? undefined
        : await createKubeClients({
            kubeconfig: flags.kubeconfig,
            inCluster: !flags.kubeconfig && !!env.KUBERNETES_SERVICE_HOST,
          });
      try {
        const backend = await openEciBackend({
          settings,
          secretCredentials:
            settings.mode === 'cloud' && !settings.credentials && kube
              ? credentialsFromSecret(await readCredentialsSecret(kube.core))
              : undefined,
          emulatorStateDir: flags.emulatorStateDir,
          quotaMultiplier: 1,
          clock: systemClock,
          log,
        });
        try {
          let groupId = flags.group;
          if (!groupId && kube && pod) {
            const [namespace, name] = pod.includes('/') ? pod.split('/', 2) : ['default', pod];
            groupId = await groupOfPod({
              kube,
              eci: backend.client,
              namespace: namespace!,
              name: name!,
              clusterId: flags.clusterId ?? (await defaultClusterId(kube)),
            });
          }
          const doc = await backend.client.exportContainerGroupTemplate(groupId!);
          process.stdout.write(renderTemplate(doc, flags.output));
        } finally {
          await backend.close();
        }
      } finally {
        await kube?.close();
      }
    });
}
