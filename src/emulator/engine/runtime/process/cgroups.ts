import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Resource limits and accounting for the process runtime, in cgroups: one cgroup per emulator, one per
 * group under it (the group's CPU and memory), one per container under that (the container's own
 * limits) and one for the group's sandbox holder. cgroup v2 is used where its memory and cpu
 * controllers are available; on hybrid hosts whose memory and cpu controllers are still mounted as
 * cgroup v1 hierarchies, those are used the same way. Elsewhere (no writable cgroup) containers run
 * without limits and metrics come from /proc; the runtime says so once at start.
 *
 * Every path is under the emulator's own base, named for its instance, so emulators side by side never
 * touch each other's cgroups.
 */

export interface Limits {
  /** Cores (ECI Cpu); 0 or absent = unlimited. */
  cpu?: number;
  /** GiB (ECI Memory); 0 or absent = unlimited. */
  memory?: number;
}

export interface CgroupUsage {
  cpuNs: number;
  memoryUsage: number;
  workingSet: number;
  rss: number;
  cache: number;
}

export interface Cgroups {
  readonly mode: 'v2' | 'v1' | 'none';
  /** Why limits are not enforced (mode none). */
  readonly reason?: string;
  /** The base directories (for the crash-recovery record). */
  readonly bases: readonly string[];
  /** Creates `rel` (e.g. `<group>/<container>`) with limits; returns the cgroup.procs files to join. */
  create(rel: string, limits: Limits): Promise<string[]>;
  /** OOM kills counted in `rel` (and below). */
  oomKills(rel: string): Promise<number>;
  usage(rel: string): Promise<CgroupUsage | undefined>;
  /** PIDs in `rel` and below. */
  pids(rel: string): Promise<number[]>;
  /** Removes `rel` and everything below (they must hold no process). */
  remove(rel: string): Promise<void>;
}

const GIB = 1024 * 1024 * 1024;
const PERIOD_US = 100_000;

async function readText(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch(() => undefined);
}

function statField(text: string | undefined, key: string): number {
  if (text === undefined) return 0;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** Removes a cgroup directory tree bottom-up (rmdir only: cgroupfs has no files to unlink). */
export async function removeTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (entries === undefined) return;
  for (const e of entries) if (e.isDirectory()) await removeTree(path.join(dir, e.name));
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

async function pidsUnder(dir: string): Promise<number[]> {
  const out: number[] = [];
  const procs = await readText(path.join(dir, 'cgroup.procs'));
  for (const l of (procs ?? '').split('\n')) if (l.trim() !== '') out.push(Number(l));
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) out.push(...(await pidsUnder(path.join(dir, e.name))));
  return out;
}

class CgroupV2 implements Cgroups {
  readonly mode = 'v2' as const;
  readonly bases: readonly string[];
  readonly #base: string;

  constructor(base: string) {
    this.#base = base;
    this.bases = [base];
  }

  async create(rel: string, limits: Limits): Promise<string[]> {
    // Controllers must be enabled in every ancestor's subtree_control, and only leaves hold processes.
    const parts = rel.split('/');
    let dir = this.#base;
    for (const p of parts) {
      await writeFile(path.join(dir, 'cgroup.subtree_control'), '+memory +cpu').catch(() => undefined);
      dir = path.join(dir, p);
      await mkdir(dir, { recursive: true });
    }
    if (limits.memory !== undefined && limits.memory > 0) {
      await writeFile(path.join(dir, 'memory.max'), String(Math.round(limits.memory * GIB)));
      await writeFile(path.join(dir, 'memory.swap.max'), '0').catch(() => undefined);
    }
    if (limits.cpu !== undefined && limits.cpu > 0)
      await writeFile(path.join(dir, 'cpu.max'), `${Math.round(limits.cpu * PERIOD_US)} ${PERIOD_US}`);
    return [path.join(dir, 'cgroup.procs')];
  }

  async oomKills(rel: string): Promise<number> {
    return statField(await readText(path.join(this.#base, rel, 'memory.events')), 'oom_kill');
  }

  async usage(rel: string): Promise<CgroupUsage | undefined> {
    const dir = path.join(this.#base, rel);
    const current = await readText(path.join(dir, 'memory.current'));
    if (current === undefined) return undefined;
    const stat = await readText(path.join(dir, 'memory.stat'));
    const cpu = await readText(path.join(dir, 'cpu.stat'));
    const usage = Number(current.trim());
    return {
      cpuNs: statField(cpu, 'usage_usec') * 1000,
      memoryUsage: usage,
      workingSet: Math.max(0, usage - statField(stat, 'inactive_file')),
      rss: statField(stat, 'anon'),
      cache: statField(stat, 'file'),
    };
  }

  pids(rel: string): Promise<number[]> {
    return pidsUnder(path.join(this.#base, rel));
  }

  async remove(rel: string): Promise<void> {
    await removeTree(path.join(this.#base, rel));
  }
}

class CgroupV1 implements Cgroups {
  readonly mode = 'v1' as const;
  readonly bases: readonly string[];
  readonly #memory: string;
  readonly #cpu: string;
  readonly #cpuacct: string;

  constructor(memory: string, cpu: string, cpuacct: string) {
    this.#memory = memory;
    this.#cpu = cpu;
    this.#cpuacct = cpuacct;
    this.bases = [...new Set([memory, cpu, cpuacct])];
  }

  async create(rel: string, limits: Limits): Promise<string[]> {
    const dirs = this.bases.map((b) => path.join(b, rel));
    for (const d of dirs) await mkdir(d, { recursive: true });
    if (limits.memory !== undefined && limits.memory > 0) {
      await writeFile(
        path.join(this.#memory, rel, 'memory.limit_in_bytes'),
        String(Math.round(limits.memory * GIB)),
      );
    }
    if (limits.cpu !== undefined && limits.cpu > 0) {
      await writeFile(path.join(this.#cpu, rel, 'cpu.cfs_period_us'), String(PERIOD_US));
      await writeFile(
        path.join(this.#cpu, rel, 'cpu.cfs_quota_us'),
        String(Math.round(limits.cpu * PERIOD_US)),
      );
    }
    return dirs.map((d) => path.join(d, 'cgroup.procs'));
  }

  async oomKills(rel: string): Promise<number> {
    return statField(await readText(path.join(this.#memory, rel, 'memory.oom_control')), 'oom_kill');
  }

  async usage(rel: string): Promise<CgroupUsage | undefined> {
    const usage = await readText(path.join(this.#memory, rel, 'memory.usage_in_bytes'));
    if (usage === undefined) return undefined;
    const stat = await readText(path.join(this.#memory, rel, 'memory.stat'));
    const cpu = await readText(path.join(this.#cpuacct, rel, 'cpuacct.usage'));
    const u = Number(usage.trim());
    return {
      cpuNs: Number((cpu ?? '0').trim()),
      memoryUsage: u,
      workingSet: Math.max(0, u - statField(stat, 'total_inactive_file')),
      rss: statField(stat, 'total_rss'),
      cache: statField(stat, 'total_cache'),
    };
  }

  pids(rel: string): Promise<number[]> {
    return pidsUnder(path.join(this.#memory, rel));
  }

  async remove(rel: string): Promise<void> {
    for (const b of this.bases) await removeTree(path.join(b, rel));
  }
}

class NoCgroups implements Cgroups {
  readonly mode = 'none' as const;
  readonly reason: string;
  readonly bases: readonly string[] = [];
  constructor(reason: string) {
    this.reason = reason;
  }
  async create(): Promise<string[]> {
    return [];
  }
  async oomKills(): Promise<number> {
    return 0;
  }
  async usage(): Promise<undefined> {
    return undefined;
  }
  async pids(): Promise<number[]> {
    return [];
  }
  async remove(): Promise<void> {}
}

interface Mount {
  point: string;
  type: string;
  options: string[];
  root: string;
}

/** cgroup mounts from /proc/self/mountinfo. */
export function parseCgroupMounts(mountinfo: string): Mount[] {
  const out: Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (pre === undefined || post === undefined) continue;
    const f = pre.split(' ');
    const [type, , superOpts] = post.split(' ');
    if (type !== 'cgroup' && type !== 'cgroup2') continue;
    out.push({ point: f[4]!, root: f[3]!, type, options: (superOpts ?? '').split(',') });
  }
  return out;
}

/** `/proc/self/cgroup` → controller (or '' for v2) → path. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m === null) continue;
    if (m[1] === '') out.set('', m[2]!);
    for (const c of m[1]!.split(',')) if (c !== '') out.set(c, m[2]!);
  }
  return out;
}

async function writable(dir: string): Promise<boolean> {
  const probe = path.join(dir, `.probe-${process.pid}`);
  try {
    await mkdir(probe);
    await rmdir(probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * The cgroups for emulator instance `instance`: v2 when its memory and cpu controllers can be used,
 * else v1 memory+cpu+cpuacct, else none (with the reason).
 */
export async function openCgroups(instance: string): Promise<Cgroups> {
  const name = `eci-virtual-node-${instance}`;
  const mounts = parseCgroupMounts((await readText('/proc/self/mountinfo')) ?? '');
  const own = parseProcCgroup((await readText('/proc/self/cgroup')) ?? '');
  const v2 = mounts.find((m) => m.type === 'cgroup2');
  if (v2 !== undefined) {
    // Our own cgroup holds processes (us), so it cannot have controller-using children: the
    // emulator's cgroup is its sibling (or a child of the root, which may hold processes).
    const ownPath = own.get('') ?? '/';
    const parent = ownPath === '/' ? '/' : path.posix.dirname(ownPath);
    const parentDir = path.join(v2.point, parent);
    const controllers = (await readText(path.join(v2.point, ownPath, 'cgroup.controllers'))) ?? '';
    if (/\bmemory\b/.test(controllers) && /\bcpu\b/.test(controllers) && (await writable(parentDir))) {
      const base = path.join(parentDir, name);
      await mkdir(base, { recursive: true });
      await writeFile(path.join(parentDir, 'cgroup.subtree_control'), '+memory +cpu').catch(() => undefined);
      return new CgroupV2(base);
    }
  }
  const v1 = (controller: string) => {
    const m = mounts.find((x) => x.type === 'cgroup' && x.options.includes(controller));
    if (m === undefined) return undefined;
    const ownPath = own.get(controller) ?? '/';
    // Inside a container the mount's root may be our own path already.
    const rel = m.root !== '/' && ownPath.startsWith(m.root) ? ownPath.slice(m.root.length) : ownPath;
    return path.join(m.point, rel, name);
  };
  const memory = v1('memory');
  const cpu = v1('cpu');
  const cpuacct = v1('cpuacct');
  if (memory !== undefined && cpu !== undefined && cpuacct !== undefined) {
    const dirs = [...new Set([memory, cpu, cpuacct])];
    let ok = true;
    for (const d of dirs) {
      try {
        await mkdir(d, { recursive: true });
      } catch {
        ok = false;
      }
    }
    if (ok && (await writable(memory))) return new CgroupV1(memory, cpu, cpuacct);
  }
  return new NoCgroups(
    v2 !== undefined
      ? 'cgroup v2 has no usable memory and cpu controllers here and no cgroup v1 memory/cpu hierarchy is writable'
      : 'no writable cgroup hierarchy with the memory and cpu controllers',
  );
}

/** Opens the cgroups recorded by an earlier run (crash recovery), whatever the mode. */
export function recordedBases(bases: readonly string[]): {
  remove(): Promise<void>;
  pids(): Promise<number[]>;
} {
  return {
    async remove() {
      for (const b of bases) await removeTree(b);
    },
    async pids() {
      const out: number[] = [];
      for (const b of bases) out.push(...(await pidsUnder(b)));
      return [...new Set(out)];
    },
  };
}
