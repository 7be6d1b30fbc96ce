import type { EciSettings } from '../config/eci-settings.ts';
import type { RuntimeChoice } from '../emulator/config.ts';
import type { Credentials } from '../config/live-config.ts';
import { EciClient } from '../providers/eci/eci-client.ts';
import type { Clock } from '../util/clock.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';

/** The ECI endpoint the node talks to, with the defaults its mode brings. */
export interface EciBackend {
  client: EciClient;
  mode: 'cloud' | 'emulator';
  /** vSwitches and security group when neither eci-profile nor the environment names them. */
  defaultVSwitchIds: string[];
  defaultSecurityGroupId?: string;
  description: string;
  close(): Promise<void>;
}

/**
 * Opens the real ECI OpenAPI when a region is configured, else starts the embedded emulator. The
 * AccessKey comes from the environment, else from the secret (passed in as `secretCredentials`).
 */
export async function openEciBackend(o: {
  settings: EciSettings;
  secretCredentials: Credentials | undefined;
  emulatorStateDir: string;
  /** What runs the embedded emulator's containers (default auto: processes where possible). */
  emulatorRuntime?: RuntimeChoice;
  quotaMultiplier: number;
  clock: Clock;
  log: Logger;
}): Promise<EciBackend> {
  const { settings: s, clock, log } = o;
  if (s.mode === 'cloud') {
    const credentials = s.credentials ?? o.secretCredentials;
    if (!credentials) {
      throw new ProductError(
        ErrorCodes.CONFIG_INVALID,
        'no AccessKey: ECI_REGION is set, but neither ECI_ACCESS_KEY/ECI_SECRET_KEY (environment) nor the secret ' +
          'kube-system/alibaba-addon-secret (keys access-key-id, access-key-secret) holds one',
      );
    }
    return {
      client: new EciClient({
        credentials,
        regionId: s.regionId,
        endpoint: s.endpoint,
        protocol: s.protocol,
        quotaMultiplier: o.quotaMultiplier,
        clock,
        log,
      }),
      mode: 'cloud',
      defaultVSwitchIds: [],
      description: `ECI ${s.regionId}${s.endpoint ? ` at ${s.endpoint}` : ''}`,
      close: async () => undefined,
    };
  }
  // Imported here so a controller talking to the cloud never loads the emulator.
  const { startEmulator } = await import('../emulator/server.ts');
  // Its per-request log lines would drown the controller's own at info; they show at debug.
  const emuLog = log.child({ component: 'emulator' }, { level: log.level === 'info' ? 'warn' : log.level });
  const emu = await startEmulator({
    port: 0,
    stateDir: o.emulatorStateDir,
    runtime: o.emulatorRuntime ?? 'auto',
    logger: emuLog,
    // Image builds (first use of an image) take seconds to minutes: their progress shows at info.
    imageLogger: log.child({ component: 'emulator-images' }),
  });
  log.warn(
    { url: emu.url, stateDir: o.emulatorStateDir },
    'no AccessKey and no region configured (ECI_ACCESS_KEY, ECI_REGION): running pods on the embedded ECI emulator, not on Alibaba Cloud',
  );
  if (o.secretCredentials) {
    log.warn(
      'kube-system/alibaba-addon-secret holds an AccessKey, but ECI_REGION is not set: it is not used',
    );
  }
  const vpc = emu.config.region.vSwitches[0]?.vpcId;
  return {
    client: new EciClient({
      credentials: { accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret },
      regionId: emu.regionId,
      endpoint: emu.endpoint,
      protocol: emu.protocol,
      quotaMultiplier: o.quotaMultiplier,
      clock,
      log,
    }),
    mode: 'emulator',
    defaultVSwitchIds: emu.config.region.vSwitches.filter((v) => v.vpcId === vpc).map((v) => v.id),
    defaultSecurityGroupId: emu.config.region.securityGroups.find((g) => g.vpcId === vpc)?.id,
    description: `embedded emulator at ${emu.url} (runtime ${emu.core.runtime.kind})`,
    close: () => emu.close(),
  };
}
