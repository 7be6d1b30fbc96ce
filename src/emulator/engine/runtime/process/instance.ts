import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../../../../util/log.ts';
import { recordedBases } from './cgroups.ts';
import { type HostTools, identify, isAlive, type ProcessId, processTree, signal } from './host.ts';
import { instanceLinks, removeLinks } from './network.ts';

/**
 * Who this emulator is on the machine, and what it created, so that a crashed emulator removes its
 * own leftovers — and only its own — at its next start. The instance name is a hash of the state
 * directory (random for an emulator without one); every link, cgroup and directory the runtime makes
 * carries it. `<runtime dir>/instance.json` records the bridge and cgroup bases; the groups'
 * directories record their processes (PID and start time, so a reused PID is never killed).
 *
 * A host-wide registry (`/run/eci-virtual-node/instances/`) lists running instances, so what an
 * emulator that died left running is removed by the next emulator that starts on the machine, even
 * when its own state directory is never opened again.
 */

export const REGISTRY_DIR = '/run/eci-virtual-node/instances';

export interface InstanceRecord {
  version: 1;
  instance: string;
  runtimeDir: string;
  ephemeral: boolean;
  pid: number;
  pidStart: number;
  bridge: string;
  cgroupBases: string[];
  startedAt: string;
}

export async function instanceFor(
  stateDir: string | undefined,
): Promise<{ instance: string; runtimeDir: string; ephemeral: boolean }> {
  if (stateDir === undefined) {
    const instance = randomBytes(3).toString('hex');
    const runtimeDir = path.join(os.tmpdir(), `eci-virtual-node-runtime-${instance}`);
    return { instance, runtimeDir, ephemeral: true };
  }
  await mkdir(stateDir, { recursive: true });
  const real = await realpath(stateDir);
  return {
    instance: createHash('sha256').update(real).digest('hex').slice(0, 6),
    runtimeDir: path.join(real, 'runtime'),
    ephemeral: false,
  };
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value)}\n`);
  await rename(tmp, file);
}

export function readInstanceRecord(runtimeDir: string): Promise<InstanceRecord | undefined> {
  return readJson<InstanceRecord>(path.join(runtimeDir, 'instance.json'));
}

/** Writes the record of a running instance (in its runtime directory and in the registry). */
export async function recordInstance(rec: InstanceRecord): Promise<void> {
  await writeJson(path.join(rec.runtimeDir, 'instance.json'), rec);
  await writeJson(path.join(REGISTRY_DIR, `${rec.instance}.json`), rec).catch(() => undefined);
}

/** The instance stopped cleanly: nothing of it is left to remove. */
export async function forgetInstance(rec: InstanceRecord): Promise<void> {
  await rm(path.join(rec.runtimeDir, 'instance.json'), { force: true });
  await rm(path.join(REGISTRY_DIR, `${rec.instance}.json`), { force: true });
}

export async function selfIdentity(): Promise<ProcessId> {
  return (await identify(process.pid)) ?? { pid: process.pid, start: 0 };
}

/** Process identities recorded under a runtime directory's groups. */
async function recordedProcesses(runtimeDir: string): Promise<ProcessId[]> {
  const out: ProcessId[] = [];
  const groups = path.join(runtimeDir, 'groups');
  for (const g of await readdir(groups).catch(() => [] as string[])) {
    for (const f of await readdir(path.join(groups, g)).catch(() => [] as string[])) {
      if (!f.endsWith('.pid.json')) continue;
      const p = await readJson<ProcessId>(path.join(groups, g, f));
      if (p !== undefined) out.push(p);
    }
  }
  return out;
}

/**
 * Removes everything a (dead) instance created: its processes, cgroups, links and group directories.
 * Logs stay (a restarted emulator still serves the previous runs' logs). Returns what it removed.
 */
export async function cleanupInstance(rec: InstanceRecord, tools: HostTools): Promise<string[]> {
  const removed: string[] = [];
  const victims = new Set<number>();
  for (const p of await recordedProcesses(rec.runtimeDir)) {
    if (await isAlive(p)) for (const pid of await processTree(p.pid)) victims.add(pid);
  }
  const cg = recordedBases(rec.cgroupBases);
  for (const pid of await cg.pids()) victims.add(pid);
  for (const pid of [...victims].reverse()) signal(pid, 'SIGKILL');
  if (victims.size > 0) removed.push(`${victims.size} processes`);
  // The kernel empties the cgroups once the killed processes are reaped.
  for (let i = 0; i < 50 && (await cg.pids()).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  await cg.remove().catch(() => undefined);
  if (rec.cgroupBases.length > 0) removed.push(`cgroups ${rec.cgroupBases.join(', ')}`);
  const links = await instanceLinks(tools, rec.instance);
  await removeLinks(tools, links);
  if (links.length > 0) removed.push(`links ${links.join(', ')}`);
  await rm(path.join(rec.runtimeDir, 'groups'), { recursive: true, force: true });
  return removed;
}

/**
 * Cleans what dead instances left: any instance in the registry whose process is gone (PID and start
 * time), so a killed emulator whose state directory is never opened again (a test's, a memory-only
 * one) leaves nothing running on the machine. Only real things go — processes, cgroups, links, group
 * directories; a durable instance keeps its state directory (journal, logs), and starting it again
 * runs its containers again, as after any crash. A live instance is never touched.
 */
export async function reapOrphans(tools: HostTools, logger: Logger): Promise<void> {
  for (const f of await readdir(REGISTRY_DIR).catch(() => [] as string[])) {
    if (!f.endsWith('.json')) continue;
    const rec = await readJson<InstanceRecord>(path.join(REGISTRY_DIR, f));
    if (rec === undefined || (await isAlive({ pid: rec.pid, start: rec.pidStart }))) continue;
    const removed = await cleanupInstance(rec, tools).catch((err: unknown) => [`failed: ${String(err)}`]);
    if (rec.ephemeral) await rm(rec.runtimeDir, { recursive: true, force: true });
    await rm(path.join(REGISTRY_DIR, f), { force: true });
    if (removed.length > 0)
      logger.warn(
        { instance: rec.instance, runtimeDir: rec.runtimeDir, removed },
        'emulator runtime: removed what a dead emulator left running',
      );
  }
}
