import { advance, stampMillis, type LogCursor } from '../providers/log-cursor.ts';
import type { LogLine } from '../providers/provider.ts';
import type { Clock } from '../util/clock.ts';
import { describeError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';

/** Where a followed container's new lines come from. */
export interface FollowSource {
  /** The current run's lines from about `since` (epoch ms) on, oldest first. */
  read(since: number, signal: AbortSignal): Promise<LogLine[]>;
  /** False once the run can write no more (it exited, restarted, or the pod is gone). */
  live(): boolean;
}

export interface FollowSink {
  lines(lines: readonly LogLine[]): void;
  /** The run ended (or its log can no longer be read): no more lines will come. */
  end(reason: string): void;
}

export interface LogFollowOptions {
  clock: Clock;
  log: Logger;
  /** Calls per minute all pollers together may make (a share of the backend's log quota). */
  callsPerMinute: number;
  /** The fastest one poller polls; bounds the delivery delay when few containers are followed. */
  minIntervalMs?: number;
  /** Lines kept per poller so a follower that joins late misses none that were already polled. */
  replayLines?: number;
}

interface Follower {
  cursor: LogCursor;
  sink: FollowSink;
}

/**
 * `kubectl logs -f` for a backend that cannot stream: one poller per followed container, however
 * many clients follow it, each poll asking only for what came after the last line seen and handing
 * the new lines to every follower after its own position. The pollers share a call budget: with N of
 * them, each polls every max(minInterval, N × 60 s / callsPerMinute), so the total stays inside the
 * backend's quota however many containers are followed.
 */
export class LogFollowHub {
  readonly #o: Required<LogFollowOptions>;
  readonly #pollers = new Map<string, Poller>();
  #calls = 0;

  constructor(o: LogFollowOptions) {
    this.#o = { minIntervalMs: 500, replayLines: 2000, ...o };
  }

  /** Containers being polled now. */
  get pollers(): number {
    return this.#pollers.size;
  }

  /** Backend reads made by pollers since start. */
  get calls(): number {
    return this.#calls;
  }

  intervalMs(): number {
    return Math.max(this.#o.minIntervalMs, (this.#pollers.size * 60_000) / this.#o.callsPerMinute);
  }

  /**
   * Delivers the lines of container `key` written after `cursor` to `sink` until the run ends or the
   * returned function is called. `source` is used only if no poller for `key` runs yet.
   */
  follow(key: string, source: FollowSource, cursor: LogCursor, sink: FollowSink): () => void {
    const existing = this.#pollers.get(key);
    const p = existing ?? new Poller(this, key, source, cursor);
    const leave = p.add({ cursor, sink });
    if (!existing) {
      this.#pollers.set(key, p);
      void p.run();
    }
    return leave;
  }

  // --- for Poller ---
  get options(): Required<LogFollowOptions> {
    return this.#o;
  }
  counted(): void {
    this.#calls++;
  }
  done(key: string, p: Poller): void {
    if (this.#pollers.get(key) === p) this.#pollers.delete(key);
  }
}

class Poller {
  readonly #hub: LogFollowHub;
  readonly #key: string;
  readonly #source: FollowSource;
  readonly #followers = new Set<Follower>();
  readonly #stop = new AbortController();
  /** The newest lines polled, for followers that join behind the poller. */
  #recent: LogLine[] = [];
  #cursor: LogCursor;
  #failures = 0;

  constructor(hub: LogFollowHub, key: string, source: FollowSource, cursor: LogCursor) {
    this.#hub = hub;
    this.#key = key;
    this.#source = source;
    this.#cursor = cursor;
  }

  add(f: Follower): () => void {
    // Lines this poller delivered before the follower came, after the follower's own position.
    const missed = advance(f.cursor, this.#recent);
    if (missed.fresh.length > 0) {
      f.cursor = missed.cursor;
      f.sink.lines(missed.fresh);
    }
    this.#followers.add(f);
    return () => {
      this.#followers.delete(f);
      if (this.#followers.size === 0) this.#finish();
    };
  }

  async run(): Promise<void> {
    const { clock, log } = this.#hub.options;
    const signal = this.#stop.signal;
    try {
      while (!signal.aborted && this.#followers.size > 0) {
        await clock.sleep(this.#hub.intervalMs(), signal).catch(() => undefined);
        if (signal.aborted) break;
        // Whether it could still write is decided before the read, so its last lines are not missed.
        const live = this.#source.live();
        let lines: LogLine[];
        try {
          this.#hub.counted();
          lines = await this.#source.read(this.#cursor.time ? stampMillis(this.#cursor.time) : 0, signal);
          this.#failures = 0;
        } catch (err) {
          if (signal.aborted) break;
          this.#failures++;
          log.debug({ container: this.#key, err: describeError(err) }, 'log poll failed');
          if (this.#failures >= 5 || !live) {
            this.#endAll(`cannot read the log any more: ${describeError(err)}`);
            break;
          }
          continue;
        }
        const r = advance(this.#cursor, lines);
        this.#cursor = r.cursor;
        if (r.fresh.length > 0) {
          this.#recent = [...this.#recent, ...r.fresh].slice(-this.#hub.options.replayLines);
          for (const f of this.#followers) {
            const mine = advance(f.cursor, r.fresh);
            f.cursor = mine.cursor;
            if (mine.fresh.length > 0) f.sink.lines(mine.fresh);
          }
        }
        if (!live) {
          this.#endAll('the container is not running');
          break;
        }
      }
    } finally {
      this.#finish();
    }
  }

  #endAll(reason: string): void {
    for (const f of [...this.#followers]) f.sink.end(reason);
    this.#followers.clear();
  }

  #finish(): void {
    this.#stop.abort();
    this.#hub.done(this.#key, this);
  }
}
