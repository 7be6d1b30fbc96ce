import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmulatorAdminClient } from '../../src/emulator/admin/client.ts';
import type { EmulatorConfigInput, RuntimeChoice } from '../../src/emulator/config.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.ts';
import { createLogger } from '../../src/util/log.ts';

export interface TestEmulator {
  emu: RunningEmulator;
  admin: EmulatorAdminClient;
  /** Environment that points a controller at this emulator as if it were the cloud. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * An ECI emulator for one test file, with its own state directory, reached over the wire. Its
 * containers run as real processes where the process runtime can run (Linux, as root), as the
 * embedded emulator does; elsewhere it says why it simulates them.
 */
export async function startTestEmulator(
  opts: {
    vSwitches?: string[];
    runtime?: RuntimeChoice;
    accessKeys?: { id: string; secret: string }[];
    /** More emulator configuration (timings), merged in. */
    config?: EmulatorConfigInput;
  } = {},
): Promise<TestEmulator> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'evn-emu-'));
  const emu = await startEmulator({
    config: { ...opts.config, ...(opts.accessKeys ? { accessKeys: opts.accessKeys } : {}) },
    port: 0,
    stateDir,
    runtime: opts.runtime ?? 'auto',
    logger: createLogger({ level: 'warn', name: 'test-emulator' }),
  });
  return {
    emu,
    admin: new EmulatorAdminClient(emu.url),
    env: {
      ECI_REGION: emu.regionId,
      ECI_ACCESS_KEY: emu.accessKeyId,
      ECI_SECRET_KEY: emu.accessKeySecret,
      ECI_ENDPOINT: emu.endpoint,
      ECI_PROTOCOL: emu.protocol,
      ECI_VSWITCH: (opts.vSwitches ?? ['vsw-emulator-h']).join(','),
      ECI_SECURITY_GROUP: 'sg-emulator',
    },
    close: async () => {
      await emu.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
