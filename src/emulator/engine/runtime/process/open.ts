import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../../../../util/log.ts';
import { type EmulatorConfig, PROCESS_STAGES, type RegionConfig } from '../../../config.ts';
import { parseCidr } from '../../../network.ts';
import { openCgroups } from './cgroups.ts';
import type { HostTools } from './host.ts';
import { ImageCatalogue } from './images/catalogue.ts';
import { ImageStore } from './images/store.ts';
import {
  cleanupInstance,
  type InstanceRecord,
  instanceFor,
  readInstanceRecord,
  reapOrphans,
  recordInstance,
  selfIdentity,
  writeJson,
} from './instance.ts';
import { BridgeNetwork, bridgeName, deriveRegion, hostRoutes } from './network.ts';
import { ProcessRuntime } from './runtime.ts';
import { isAlive } from './host.ts';

/** The image cache every emulator on the machine shares, unless configured otherwise. */
export function defaultImageCacheDir(): string {
  return path.join(os.homedir(), '.cache', 'eci-virtual-node', 'images');
}

/**
 * Opens the process runtime for an emulator: removes what a crashed run of the same emulator left,
 * picks the network range (the configured region's, or a free one of its own kept in the state
 * directory), brings up its bridge, opens its cgroups and image cache, and records what it made.
 * Returns the configuration with the region and stages the runtime uses.
 */
export async function openProcessRuntime(o: {
  config: EmulatorConfig;
  regionGiven: boolean;
  stagesGiven: boolean;
  tools: HostTools;
  logger: Logger;
  /** Where image builds report progress (defaults to `logger`). */
  imageLogger?: Logger;
}): Promise<{ runtime: ProcessRuntime; config: EmulatorConfig }> {
  const { tools, logger } = o;
  const { instance, runtimeDir, ephemeral } = await instanceFor(o.config.stateDir);
  await reapOrphans(tools, logger).catch((err: unknown) =>
    logger.warn({ err }, 'emulator runtime: could not check for leftovers of dead emulators'),
  );
  const me = await selfIdentity();
  const previous = await readInstanceRecord(runtimeDir);
  if (previous !== undefined) {
    if (previous.pid !== me.pid && (await isAlive({ pid: previous.pid, start: previous.pidStart }))) {
      throw new Error(
        `another emulator (pid ${previous.pid}) runs containers from the state directory ${o.config.stateDir}; stop it first`,
      );
    }
    const removed = await cleanupInstance(previous, tools);
    if (removed.length > 0)
      logger.warn(
        { removed },
        'emulator runtime: removed what the previous run of this emulator left behind',
      );
  }

  let region: RegionConfig = o.config.region;
  if (!o.regionGiven) {
    // A range of its own, chosen once and kept: the records' IPs are in it.
    const file = path.join(runtimeDir, 'network.json');
    const saved = JSON.parse(await readFile(file, 'utf8').catch(() => 'null')) as { vpcCidr?: string } | null;
    const savedCidr = saved?.vpcCidr === undefined ? null : parseCidr(saved.vpcCidr);
    if (savedCidr !== null) {
      const block = (savedCidr.base - ((10 << 24) | (64 << 16))) / 4096;
      region = deriveRegion(o.config.region, block, []);
    } else {
      const taken = (await hostRoutes(tools))
        .filter((r) => r.dev !== bridgeName(instance))
        .map((r) => r.cidr);
      region = deriveRegion(o.config.region, parseInt(instance, 16), taken);
      const vpc = region.vpcs.find((v) => v.id === region.vSwitches[0]?.vpcId);
      await writeJson(file, { vpcCidr: vpc?.cidr });
    }
  }

  const cgroups = await openCgroups(instance);
  if (cgroups.reason !== undefined)
    logger.warn({ reason: cgroups.reason }, 'emulator runtime: containers run without CPU and memory limits');
  const images = new ImageStore({
    cacheDir: o.config.process.imageCacheDir ?? defaultImageCacheDir(),
    catalogue: new ImageCatalogue(o.config.process.images),
    tools,
    logger: o.imageLogger ?? logger,
  });
  const busybox = await images.toolbox();
  const network = new BridgeNetwork({
    instance,
    tools,
    subnets: region.vSwitches.map((v) => ({ vSwitchId: v.id, cidr: v.cidr })),
    marker: `eci-virtual-node emulator ${runtimeDir}`,
  });
  await network.up();
  const record: InstanceRecord = {
    version: 1,
    instance,
    runtimeDir,
    ephemeral,
    pid: me.pid,
    pidStart: me.start,
    bridge: network.bridge,
    cgroupBases: [...cgroups.bases],
    startedAt: new Date().toISOString(),
  };
  await recordInstance(record);
  const runtime = new ProcessRuntime({
    ctx: {
      tools,
      busybox,
      runtimeDir,
      nfsDir: o.config.process.nfsDir ?? path.join(o.config.stateDir ?? runtimeDir, 'nfs'),
      cgroups,
      network,
      region,
    },
    images,
    instance: record,
    ephemeral,
    logMaxBytes: o.config.process.logMaxBytes,
  });
  const config: EmulatorConfig = {
    ...o.config,
    region,
    lifecycle: o.stagesGiven ? o.config.lifecycle : { ...o.config.lifecycle, stages: PROCESS_STAGES },
  };
  logger.info(
    {
      instance,
      bridge: network.bridge,
      cgroups: cgroups.mode,
      vSwitches: region.vSwitches.map((v) => v.cidr),
    },
    'emulator runtime: containers run as processes',
  );
  return { runtime, config };
}
