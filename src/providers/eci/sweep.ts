import type { Clock } from '../../util/clock.ts';
import { describeError, ErrorCodes, ProductError } from '../../util/errors.ts';
import { formatDuration, interrupted, pool, progress } from '../../util/progress.ts';

/** The two ECI calls a sweep makes; the ECI client, or a fake in tests. */
export interface SweepEci {
  describeContainerGroups(
    filter: { tags?: Record<string, string> },
    signal?: AbortSignal,
  ): Promise<{ containerGroupId?: string; status?: string }[]>;
  /** Deleting a group that is already gone succeeds. */
  deleteContainerGroup(id: string, signal?: AbortSignal): Promise<void>;
}

/** How long deleting `groups` may take: twice their time at the quota, plus time for the last to go. */
export function autoDeadlineMs(groups: number, deletesPerMinute: number): number {
  return Math.max(300_000, Math.ceil((groups / deletesPerMinute) * 60_000 * 2) + 180_000);
}

/**
 * Deletes every group carrying `tags`, `concurrency` at a time (the client's token bucket paces them
 * inside the DeleteContainerGroup quota), then waits until ECI lists none. Returns how many it asked
 * to delete.
 */
export async function sweepGroups(o: {
  eci: SweepEci;
  tags: Record<string, string>;
  dryRun: boolean;
  clock: Clock;
  say: (line: string) => void;
  signal?: AbortSignal;
  concurrency?: number;
  /** DeleteContainerGroup calls per minute the account allows (sizes the deadline and the ETA). */
  deletesPerMinute?: number;
  /** Undefined: scaled to the fleet (autoDeadlineMs); Infinity: none. */
  timeoutMs?: number;
  /** Told of each group asked to go. */
  onDeleted?: (id: string) => void;
}): Promise<number> {
  const perMinute = o.deletesPerMinute ?? 1000;
  const first = await o.eci.describeContainerGroups({ tags: o.tags }, o.signal);
  const ids = first.map((g) => g.containerGroupId).filter((id): id is string => Boolean(id));
  const atQuota = formatDuration((ids.length / perMinute) * 60_000);
  o.say(
    `ECI container groups: ${o.dryRun ? 'would delete' : 'deleting'} ${ids.length}` +
      (ids.length ? ` (about ${atQuota} at ${perMinute} deletes/min)` : ''),
  );
  if (o.dryRun) {
    for (const id of ids.slice(0, 20)) o.say(`  ${id}`);
    if (ids.length > 20) o.say(`  ... and ${ids.length - 20} more`);
    return ids.length;
  }
  const deadlineMs = o.timeoutMs ?? autoDeadlineMs(ids.length, perMinute);
  const started = o.clock.now();
  const asked = new Set<string>();
  const report = progress({
    what: 'groups deleted',
    total: ids.length,
    clock: o.clock,
    say: o.say,
    everyMs: 5000,
  });
  const failures: string[] = [];
  await pool(ids, o.concurrency ?? 32, o.signal, async (id) => {
    try {
      await o.eci.deleteContainerGroup(id, o.signal);
      asked.add(id);
      o.onDeleted?.(id);
      report(asked.size);
    } catch (err) {
      if (o.signal?.aborted) return;
      failures.push(`${id}: ${describeError(err)}`);
    }
  });
  interrupted(o, `${asked.size} of ${ids.length} ECI container groups deleted`);
  if (failures.length) {
    throw new ProductError(
      ErrorCodes.ECI_API,
      `${failures.length} ECI container group(s) could not be deleted (the node was kept; run cleanup again):\n  ${failures.slice(0, 10).join('\n  ')}`,
    );
  }
  // A deleted group may show as Terminating for a while; new ones (a create that was in flight) are
  // deleted too.
  for (;;) {
    const left = await o.eci.describeContainerGroups({ tags: o.tags }, o.signal);
    if (left.length === 0) break;
    for (const g of left) {
      if (g.containerGroupId && !asked.has(g.containerGroupId)) {
        await o.eci.deleteContainerGroup(g.containerGroupId, o.signal);
        asked.add(g.containerGroupId);
        o.onDeleted?.(g.containerGroupId);
      }
    }
    if (o.clock.now() - started > deadlineMs) {
      throw new ProductError(
        ErrorCodes.TIMEOUT,
        `${left.length} ECI container group(s) are still there after ${formatDuration(deadlineMs)}; the node was kept. ` +
          'Run cleanup again (or with --timeout 0 to wait without a deadline)',
      );
    }
    o.say(`waiting for ${left.length} ECI container group(s) to go`);
    try {
      await o.clock.sleep(2000, o.signal);
    } catch {
      interrupted(o, `all ${asked.size} deletes sent, ${left.length} group(s) still going`);
    }
  }
  return asked.size;
}
