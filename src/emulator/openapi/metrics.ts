import type { GroupRecord } from '../engine/model.ts';
import { iso } from './render.ts';
import { noise } from '../engine/runtime/simulated-usage.ts';
import type { GroupSample, UsageSample } from '../engine/runtime/types.ts';

/**
 * Metric records of DescribeContainerGroupMetric / DescribeMultiContainerGroupMetric, rendered from a
 * resource sample (the process runtime samples the real processes; the simulated one makes them up).
 */

const GIB = 1024 * 1024 * 1024;

function cpuOf(cores: number, u: UsageSample) {
  return {
    Limit: Math.round(cores * 1000),
    Load: Math.round((u.cpuNanoCores / 1e9) * 100) / 100,
    UsageNanoCores: Math.round(u.cpuNanoCores),
    UsageCoreNanoSeconds: Math.round(u.cpuCoreNanoSeconds),
  };
}

function memOf(gib: number, u: UsageSample) {
  const limit = Math.round(gib * GIB);
  return {
    UsageBytes: u.memoryUsage,
    WorkingSet: u.memoryWorkingSet,
    Rss: u.memoryRss,
    Cache: u.memoryCache,
    AvailableBytes: Math.max(0, limit - u.memoryWorkingSet),
  };
}

export type Flavor = 'single' | 'multi';

/** One metric record (field spellings differ slightly between the two APIs). */
export function metricRecord(g: GroupRecord, s: GroupSample, flavor: Flavor): Record<string, unknown> {
  const started = g.startedAt ?? s.t;
  const elapsed = Math.max(0, s.t - started) / 1000;
  const n = Math.max(1, g.spec.containers.length);
  const io =
    flavor === 'single' ? { ReadIO: 'ReadIO', WriteIO: 'WriteIO' } : { ReadIO: 'ReadIo', WriteIO: 'WriteIo' };
  const fsUsage = Math.round((1 + 3 * noise(`${g.id}/fs`, 0)) * GIB);
  const capacity = (g.spec.ephemeralStorage ?? 30) * GIB;
  const zero: UsageSample = {
    cpuCoreNanoSeconds: 0,
    cpuNanoCores: 0,
    memoryUsage: 0,
    memoryWorkingSet: 0,
    memoryRss: 0,
    memoryCache: 0,
  };
  return {
    Timestamp: iso(s.t),
    CPU: cpuOf(g.spec.cpu, s.group),
    Memory: memOf(g.spec.memory, s.group),
    Containers: g.spec.containers.map((c) => ({
      Name: c.name,
      CPU: cpuOf(c.cpu ?? g.spec.cpu / n, s.containers[c.name] ?? zero),
      Memory: memOf(c.memory ?? g.spec.memory / n, s.containers[c.name] ?? zero),
    })),
    Network: {
      Interfaces: [
        {
          Name: 'eth0',
          RxBytes: s.network.rxBytes,
          RxPackets: s.network.rxPackets,
          RxErrors: s.network.rxErrors,
          RxDrops: s.network.rxDrops,
          TxBytes: s.network.txBytes,
          TxPackets: s.network.txPackets,
          TxErrors: s.network.txErrors,
          TxDrops: s.network.txDrops,
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
