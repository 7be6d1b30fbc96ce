import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../../util/log.ts';
import { ErrorCodes, ProductError } from '../../../util/errors.ts';
import type { EmulatorConfig, EmulatorConfigInput } from '../../config.ts';
import { findHostTools, type HostTools } from './process/host.ts';
import { SimulatedRuntime } from './simulated.ts';
import type { Runtime } from './types.ts';

/**
 * Which runtime an emulator gets. `process` needs Linux, root, the host tools (util-linux, iproute2,
 * apt, dpkg) and overlayfs; `auto` takes it where it can run and otherwise falls back to `simulated`,
 * saying once, at start, why. Asking for `process` where it cannot run is an error naming what is
 * missing — never a silent simulation.
 */

export async function processSupport(): Promise<{ tools: HostTools } | { reason: string }> {
  if (process.platform !== 'linux') return { reason: `it needs Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { reason: 'it needs root (namespaces, mounts, links and cgroups)' };
  const found = await findHostTools();
  if ('missing' in found) return { reason: `host tools are missing: ${found.missing.join(', ')}` };
  const fs = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\boverlay\b/.test(fs)) return { reason: 'the kernel has no overlay filesystem' };
  try {
    await access('/proc/self/ns/net');
  } catch {
    return { reason: 'the kernel has no network namespaces' };
  }
  return found;
}

export async function openRuntime(o: {
  config: EmulatorConfig;
  input: EmulatorConfigInput;
  logger: Logger;
  imageLogger?: Logger;
}): Promise<{ runtime: Runtime; config: EmulatorConfig }> {
  const { config, logger } = o;
  const simulated = () =>
    new SimulatedRuntime({
      heartbeatSeconds: config.lifecycle.heartbeatLogSeconds,
      defaultRunSeconds: config.lifecycle.defaultRunSeconds,
    });
  if (config.runtime === 'simulated') {
    await cleanLeftovers(config, logger);
    return { runtime: simulated(), config };
  }
  const support = await processSupport();
  if ('reason' in support) {
    if (config.runtime === 'process') {
      throw new ProductError(
        ErrorCodes.CONFIG_INVALID,
        `runtime: the process runtime cannot run here: ${support.reason}; use --runtime simulated`,
      );
    }
    logger.warn(
      { reason: support.reason },
      `the ECI emulator simulates containers (runtime simulated): the process runtime cannot run here: ${support.reason}`,
    );
    return { runtime: simulated(), config };
  }
  // Loaded only when used: nothing of it is needed by a simulated emulator.
  const { openProcessRuntime } = await import('./process/open.ts');
  try {
    return await openProcessRuntime({
      config,
      regionGiven: o.input.region !== undefined,
      stagesGiven: o.input.lifecycle?.stages !== undefined,
      tools: support.tools,
      logger,
      ...(o.imageLogger === undefined ? {} : { imageLogger: o.imageLogger }),
    });
  } catch (err) {
    throw new ProductError(
      ErrorCodes.START_FAILED,
      `the ECI emulator's process runtime cannot start: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/**
 * A state directory once used by the process runtime may hold a crashed run's leftovers; a simulated
 * emulator opening it removes them too (where it can), so switching runtimes leaks nothing.
 */
async function cleanLeftovers(config: EmulatorConfig, logger: Logger): Promise<void> {
  if (config.stateDir === undefined) return;
  const runtimeDir = path.join(config.stateDir, 'runtime');
  const { readInstanceRecord, cleanupInstance, forgetInstance } = await import('./process/instance.ts');
  const rec = await readInstanceRecord(runtimeDir).catch(() => undefined);
  if (rec === undefined) return;
  const { isAlive } = await import('./process/host.ts');
  if (await isAlive({ pid: rec.pid, start: rec.pidStart })) {
    throw new ProductError(
      ErrorCodes.START_FAILED,
      `another emulator (pid ${rec.pid}) runs containers from the state directory ${config.stateDir}; stop it first`,
    );
  }
  const support = await processSupport();
  if ('reason' in support) {
    logger.warn(
      { runtimeDir },
      'a process runtime left containers in this state directory; they cannot be removed here',
    );
    return;
  }
  const removed = await cleanupInstance(rec, support.tools);
  const { removeLinks } = await import('./process/network.ts');
  await removeLinks(support.tools, [rec.bridge]).catch(() => undefined);
  await forgetInstance(rec);
  if (removed.length > 0)
    logger.warn({ removed }, 'emulator: removed what a process runtime left in this state directory');
}
