import type { DescribeContainerGroupsResponseBodyContainerGroups as Group } from '@alicloud/eci20180808';
import { Backoff, fullJitter } from '../../util/backoff.ts';
import type { Clock } from '../../util/clock.ts';
import { describeError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { EciClient } from './eci-client.ts';
import type { GroupIndex, IndexedGroup } from './group-index.ts';

export interface StatusFeedOptions {
  eci: EciClient;
  index: GroupIndex;
  /** Tag filter that selects exactly this node's groups (cluster id + node name). */
  scopeTags: Record<string, string>;
  clock: Clock;
  log: Logger;
  /** Poll period of the change feed. */
  intervalMs?: number;
  /** Period of the full, paginated resync that catches anything the feed missed. */
  resyncMs?: number;
  /** Called for every group whose description changed, and (gone = true) for every one that vanished. */
  onChange: (entry: IndexedGroup, gone: boolean) => void;
  /** [0, 1), for the retry jitter; injected by tests. */
  random?: () => number;
}

/** ECI allows at most this many IDs (and page size) per DescribeContainerGroups call. */
const PAGE = 20;
/** Pages described at once when many groups changed. */
const DESCRIBE_CONCURRENCY = 4;

/**
 * Keeps the group index current at a cost that grows with changes, not with pods: each poll asks
 * DescribeContainerGroupStatus for groups changed in the last few seconds (tag-filtered to this node),
 * then describes only those whose status entry changed, 20 per call. A full paginated list runs at
 * start and every `resyncMs`. Peers instead describe every pod every few seconds.
 */
export class StatusFeed {
  readonly #o: Required<StatusFeedOptions>;
  /** Last status-feed entry per group, so an unchanged entry inside the overlap window costs nothing. */
  readonly #seen = new Map<string, string>();

  constructor(o: StatusFeedOptions) {
    this.#o = {
      ...o,
      intervalMs: o.intervalMs ?? 2000,
      resyncMs: o.resyncMs ?? 300_000,
      random: o.random ?? Math.random,
    };
  }

  /** Lists every group of this node into the index; reports changed and vanished groups. */
  async resync(signal?: AbortSignal): Promise<void> {
    const groups = await this.#o.eci.describeContainerGroups(
      { tags: this.#o.scopeTags, withEvent: true },
      signal,
    );
    const before = new Map([...this.#o.index.all()].map((e) => [e.id, e.group.status]));
    const gone = this.#o.index.replaceAll(groups);
    for (const entry of gone) {
      this.#seen.delete(entry.id);
      this.#o.onChange(entry, true);
    }
    for (const g of groups) {
      const entry = g.containerGroupId ? this.#o.index.get(g.containerGroupId) : undefined;
      if (entry && before.get(entry.id) !== g.status) this.#o.onChange(entry, false);
    }
  }

  /** Polls until `signal` aborts. Call `resync` first. */
  async run(signal: AbortSignal): Promise<void> {
    let lastPoll = this.#o.clock.now();
    let resyncAt = lastPoll + this.#o.resyncMs;
    // A failed full list is retried after a growing, jittered delay, never at every poll: a cloud that
    // keeps failing it must not get the most expensive call every two seconds.
    const resyncBackoff = new Backoff({ baseMs: this.#o.intervalMs * 2, maxMs: this.#o.resyncMs });
    while (!signal.aborted) {
      try {
        await this.#o.clock.sleep(this.#o.intervalMs, signal);
      } catch {
        return;
      }
      const started = this.#o.clock.now();
      try {
        if (started >= resyncAt) {
          try {
            await this.resync(signal);
            resyncBackoff.reset();
            resyncAt = started + this.#o.resyncMs;
          } catch (err) {
            resyncAt =
              started + Math.max(this.#o.intervalMs, fullJitter(resyncBackoff.next(), this.#o.random));
            throw err;
          }
        } else {
          // The window overlaps the previous poll by a few seconds, so a change is never missed
          // between two polls; #seen makes the overlap free.
          const sinceSecond = Math.ceil((started - lastPoll) / 1000) + 5;
          await this.#poll(sinceSecond, signal);
        }
        lastPoll = started;
      } catch (err) {
        if (signal.aborted) return;
        this.#o.log.warn({ err: describeError(err) }, 'ECI status poll failed; will retry');
      }
    }
  }

  async #poll(sinceSecond: number, signal: AbortSignal): Promise<void> {
    const changed = await this.#o.eci.describeContainerGroupStatus(
      { sinceSecond, tags: this.#o.scopeTags },
      signal,
    );
    // An entry counts as seen only once its group was described: a describe that fails (throttled,
    // timed out) must leave the change to be picked up by the next poll, not by the next resync.
    const signatures = new Map<string, string>();
    for (const d of changed) {
      if (!d.containerGroupId) continue;
      const signature = JSON.stringify([d.status, d.podStatus]);
      if (this.#seen.get(d.containerGroupId) === signature) continue;
      signatures.set(d.containerGroupId, signature);
    }
    const ids = [...signatures.keys()];
    // A few pages at once: after a burst, hundreds of groups change in one poll, and describing them
    // one page after another would hold every pod's Running status back until the last page.
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += PAGE) batches.push(ids.slice(i, i + PAGE));
    let next = 0;
    const worker = async () => {
      for (let b = batches[next++]; b; b = batches[next++]) {
        const groups = await this.#o.eci.describeContainerGroups(
          { containerGroupIds: b, withEvent: true },
          signal,
        );
        for (const g of groups) this.#apply(g);
        for (const id of b) this.#seen.set(id, signatures.get(id)!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DESCRIBE_CONCURRENCY, batches.length) }, worker));
  }

  #apply(g: Group): void {
    const entry = this.#o.index.upsert(g);
    if (entry) this.#o.onChange(entry, false);
  }

  /** Forgets a group the provider deleted itself. */
  forget(id: string): void {
    this.#seen.delete(id);
  }
}
