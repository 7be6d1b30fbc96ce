import type { GroupRecord } from './model.ts';
import { iso } from './render.ts';

/**
 * Plausible, deterministic resource metrics: a function of (container group, container, time), so
 * repeated queries agree and graphs look alive. Usage wanders between 5 % and 60 % of the limit;
 * counters (CPU seconds, network bytes) only grow.
 */

const GIB = 1024 * 1024 * 1024;

/** A stable pseudo-random number in [0, 1) for (seed, t). */
export function noise(seed: string, t: number): number {
  let h = 2166136261 ^ t;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  h ^= h >>> 13;
  h = Math.imul(h, 0x5bd1e995);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}

function level(seed: string, t: number): number {
  const minute = Math.floor(t / 60_000);
  const a = noise(seed, minute);
  const b = noise(seed, minute + 1);
  const f = (t % 60_000) / 60_000;
  return 0.05 + 0.55 * (a + (b - a) * f);
}

function cpuOf(cores: number, seed: string, t: number, startedAt: number) {
  const frac = level(`${seed}/cpu`, t);
  const elapsed = Math.max(0, t - startedAt) / 1000;
  return {
    Limit: Math.round(cores * 1000),
    Load: Math.round(frac * cores * 100) / 100,
    UsageNanoCores: Math.round(frac * cores * 1e9),
    UsageCoreNanoSeconds: Math.round(0.3 * cores * 1e9 * elapsed),
  };
}

function memOf(gib: number, seed: string, t: number) {
  const limit = Math.round(gib * GIB);
  const usage = Math.round(limit * level(`${seed}/mem`, t));
  const workingSet = Math.round(usage * 0.9);
  const rss = Math.round(usage * 0.7);
  return {
    UsageBytes: usage,
    WorkingSet: workingSet,
    Rss: rss,
    Cache: usage - rss,
    AvailableBytes: limit - workingSet,
  };
}

export type Flavor = 'single' | 'multi';

/** One metric sample of a running group at time `t` (field spellings differ slightly between the two APIs). */
export function metricRecord(g: GroupRecord, t: number, flavor: Flavor): Record<string, unknown> {
  const started = g.startedAt ?? t;
  const elapsed = Math.max(0, t - started) / 1000;
  const n = Math.max(1, g.spec.containers.length);
  const rx = Math.round(elapsed * (20_000 + 80_000 * noise(`${g.id}/rx`, 0)));
  const tx = Math.round(elapsed * (10_000 + 40_000 * noise(`${g.id}/tx`, 0)));
  const io =
    flavor === 'single' ? { ReadIO: 'ReadIO', WriteIO: 'WriteIO' } : { ReadIO: 'ReadIo', WriteIO: 'WriteIo' };
  const fsUsage = Math.round((1 + 3 * noise(`${g.id}/fs`, 0)) * GIB);
  const capacity = (g.spec.ephemeralStorage ?? 30) * GIB;
  return {
    Timestamp: iso(t),
    CPU: cpuOf(g.spec.cpu, g.id, t, started),
    Memory: memOf(g.spec.memory, g.id, t),
    Containers: g.spec.containers.map((c) => ({
      Name: c.name,
      CPU: cpuOf(c.cpu ?? g.spec.cpu / n, `${g.id}/${c.name}`, t, started),
      Memory: memOf(c.memory ?? g.spec.memory / n, `${g.id}/${c.name}`, t),
    })),
    Network: {
      Interfaces: [
        {
          Name: 'eth0',
          RxBytes: rx,
          RxPackets: Math.round(rx / 800),
          RxErrors: 0,
          RxDrops: 0,
          TxBytes: tx,
          TxPackets: Math.round(tx / 600),
          TxErrors: 0,
          TxDrops: 0,
        },
      ],
    },
    Disk: [
      {
        Device: '/dev/vda',
        ReadBytes: Math.round(elapsed * 4096),
        [io.ReadIO]: Math.round(elapsed),
        WriteBytes: Math.round(elapsed * 8192),
        [io.WriteIO]: Math.round(elapsed * 2),
      },
    ],
    Filesystem: [
      {
        FsName: '/dev/vda1',
        ...(flavor === 'single' ? { Category: 'system' } : {}),
        Capacity: capacity,
        Usage: fsUsage,
        Available: capacity - fsUsage,
      },
    ],
  };
}
