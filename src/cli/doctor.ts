import type { Command } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { openEciBackend } from '../app/eci-backend.ts';
import type { Env } from '../app/run-config.ts';
import { checkPermissions, formatChecks, type Check } from '../app/doctor.ts';
import { parseEciSettings, type EciSettings } from '../config/eci-settings.ts';
import { LiveConfig } from '../config/live-config.ts';
import { createKubeClients, type KubeClients } from '../kube/client.ts';
import type { EventTarget, EventType } from '../kube/events.ts';
import { systemClock } from '../util/clock.ts';
import { describeError } from '../util/errors.ts';
import { createLogger } from '../util/log.ts';
import { parseSelectors } from '../webhook/selectors.ts';

interface DoctorFlags {
  kubeconfig?: string;
  eciProfile: string;
}

/** Checks the effective configuration, the credentials and each RAM permission; exit 1 when any fails. */
export function registerDoctorCommand(program: Command, env: Env): void {
  program
    .command('doctor')
    .description(
      'check the configuration (environment, kube-system/eci-profile, kube-system/alibaba-addon-secret), the\n' +
        'AccessKey and the RAM permission of each ECI action the product uses; print what is wrong and how to fix it',
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig of the cluster (default: in-cluster, then $KUBECONFIG)',
      env.KUBECONFIG,
    )
    .option('--eci-profile <namespace/name>', 'the profile ConfigMap', 'kube-system/eci-profile')
    .action(async (flags: DoctorFlags) => {
      const log = createLogger({ level: env.LOG_LEVEL ?? 'error' });
      const checks: Check[] = [];
      const add = (c: Check) => {
        checks.push(c);
        process.stdout.write(`${formatChecks([c])}\n`);
      };
      let settings: EciSettings | undefined;
      try {
        settings = parseEciSettings(env);
        add({
          name: 'environment (ECI_*)',
          ok: true,
          detail:
            settings.mode === 'cloud'
              ? `cloud, region ${settings.regionId}`
              : 'no AccessKey and no region: embedded emulator',
        });
      } catch (err) {
        add({
          name: 'environment (ECI_*)',
          ok: false,
          detail: describeError(err),
          fix: 'correct the named variables in the controller Deployment',
        });
      }
      let kube: KubeClients | undefined;
      try {
        kube = await createKubeClients({
          kubeconfig: flags.kubeconfig,
          inCluster: !flags.kubeconfig && !!env.KUBERNETES_SERVICE_HOST,
        });
        await kube.core.readNamespace({ name: 'kube-system' });
        add({ name: 'Kubernetes API', ok: true, detail: String(kube.kc.getCurrentCluster()?.server) });
      } catch (err) {
        add({
          name: 'Kubernetes API',
          ok: false,
          detail: describeError(err),
          fix: 'pass --kubeconfig or set KUBECONFIG',
        });
      }
      try {
        if (kube && settings) {
          const [namespace, name] = flags.eciProfile.split('/');
          const rejected: string[] = [];
          const live = new LiveConfig({
            kube,
            // A rejected profile is reported here, not as an Event in the cluster.
            events: {
              record: async (_t: EventTarget, _type: EventType, _r: string, message: string) =>
                void rejected.push(message),
            },
            clock: systemClock,
            log,
            parseSelectors,
            envCredentials: settings.mode === 'cloud' ? settings.credentials : undefined,
            profileRef: { namespace: namespace ?? 'kube-system', name: name ?? 'eci-profile' },
          });
          await live.load();
          add(
            rejected.length
              ? {
                  name: `profile ${flags.eciProfile}`,
                  ok: false,
                  detail: rejected.join('; '),
                  fix: 'correct the named key in the ConfigMap',
                }
              : {
                  name: `profile ${flags.eciProfile}`,
                  ok: true,
                  detail: JSON.stringify({ ...live.profile(), selectors: live.profile().selectors.length }),
                },
          );
          const p = live.profile();
          if (settings.mode === 'cloud') {
            const creds = settings.credentials
              ? 'environment'
              : live.credentials()
                ? 'secret kube-system/alibaba-addon-secret'
                : undefined;
            add(
              creds
                ? { name: 'AccessKey', ok: true, detail: `from ${creds}` }
                : {
                    name: 'AccessKey',
                    ok: false,
                    detail: 'none found',
                    fix: 'kubectl -n kube-system create secret generic alibaba-addon-secret --from-literal=access-key-id=... --from-literal=access-key-secret=...',
                  },
            );
            const vsw = p.vSwitchIds ?? settings.vSwitchIds;
            const sg = p.securityGroupId ?? settings.securityGroupId;
            add(
              vsw?.length
                ? { name: 'vSwitches', ok: true, detail: vsw.join(', ') }
                : {
                    name: 'vSwitches',
                    ok: false,
                    detail: 'none',
                    fix: 'set ECI_VSWITCH or eci-profile vSwitchIds',
                  },
            );
            add(
              sg
                ? { name: 'security group', ok: true, detail: sg }
                : {
                    name: 'security group',
                    ok: false,
                    detail: 'none',
                    fix: 'set ECI_SECURITY_GROUP or eci-profile securityGroupId',
                  },
            );
          }
          if (settings.mode === 'cloud' && !settings.credentials && !live.credentials()) {
            // No AccessKey: nothing to probe.
          } else {
            const backend = await openEciBackend({
              settings,
              secretCredentials: live.credentials(),
              emulatorStateDir: path.join(os.tmpdir(), `eci-virtual-node-doctor-${process.pid}`),
              // Checking permissions runs no container.
              emulatorRuntime: 'simulated',
              quotaMultiplier: 1,
              clock: systemClock,
              log,
            });
            try {
              for (const c of await checkPermissions(backend.client)) add(c);
            } finally {
              await backend.close();
            }
          }
        }
      } finally {
        await kube?.close();
      }
      const failed = checks.filter((c) => !c.ok).length;
      process.stdout.write(failed ? `\n${failed} problem(s) found\n` : '\nall checks passed\n');
      process.exitCode = failed ? 1 : 0;
    });
}
