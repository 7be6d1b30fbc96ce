import type { GroupRecord } from '../model.ts';
import type { GroupSample, UsageSample } from './types.ts';

/**
 * The simulated runtime's resource samples: plausible and deterministic, a function of (group,
 * container, time), so repeated queries agree and graphs look alive. Usage wanders between 5 % and
 * 60 % of the limit; counters (CPU seconds, network bytes) only grow.
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

function simulatedUsage(cores: number, gib: number, seed: string, t: number, startedAt: number): UsageSample {
  const frac = level(`${seed}/cpu`, t);
  const elapsed = Math.max(0, t - startedAt) / 1000;
  const limit = Math.round(gib * GIB);
  const usage = Math.round(limit * level(`${seed}/mem`, t));
  const rss = Math.round(usage * 0.7);
  return {
    cpuNanoCores: Math.round(frac * cores * 1e9),
    cpuCoreNanoSeconds: Math.round(0.3 * cores * 1e9 * elapsed),
    memoryUsage: usage,
    memoryWorkingSet: Math.round(usage * 0.9),
    memoryRss: rss,
    memoryCache: usage - rss,
  };
}

/** The simulated runtime's sample of a running group at `t`. */
export function simulatedSample(g: GroupRecord, t: number): GroupSample {
  const started = g.startedAt ?? t;
  const elapsed = Math.max(0, t - started) / 1000;
  const n = Math.max(1, g.spec.containers.length);
  const rx = Math.round(elapsed * (20_000 + 80_000 * noise(`${g.id}/rx`, 0)));
  const tx = Math.round(elapsed * (10_000 + 40_000 * noise(`${g.id}/tx`, 0)));
  return {
    t,
    group: simulatedUsage(g.spec.cpu, g.spec.memory, g.id, t, started),
    containers: Object.fromEntries(
      g.spec.containers.map((c) => [
        c.name,
        simulatedUsage(
          c.cpu ?? g.spec.cpu / n,
          c.memory ?? g.spec.memory / n,
          `${g.id}/${c.name}`,
          t,
          started,
        ),
      ]),
    ),
    network: {
      rxBytes: rx,
      rxPackets: Math.round(rx / 800),
      rxErrors: 0,
      rxDrops: 0,
      txBytes: tx,
      txPackets: Math.round(tx / 600),
      txErrors: 0,
      txDrops: 0,
    },
  };
}
