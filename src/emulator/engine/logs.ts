import type { ContainerStatusSnapshot } from './model.ts';

/**
 * Container logs as DescribeContainerLog serves them. `selectLines` applies the query (SinceSeconds /
 * StartTime, Tail, Timestamps, LimitBytes) to timestamped lines, whichever runtime produced them, within
 * the documented limits: Tail defaults to 500 lines and is at most 2000, and an answer is at most 1 MiB.
 *
 * `simulatedLines` is the simulated runtime's log: derived from the run's state, so it needs no
 * storage — a start line, the run's `echo` output, a heartbeat every `heartbeatSeconds` while it runs
 * and an exit line when it ends. The same query gives the same answer on every call and after a restart.
 */

export const LOG_TAIL_DEFAULT = 500;
export const LOG_TAIL_MAX = 2000;
export const LOG_BYTES_MAX = 1024 * 1024;

/** What a caller asks of a container's log (DescribeContainerLog, the console). */
export interface LogRequest {
  /** The previous (terminated) run instead of the current one (DescribeContainerLog's LastTime). */
  previous: boolean;
  /** Last lines to return; already bounded by the API's limits. */
  tail: number;
  /** Lines stamped before this time (epoch ms) are left out. */
  since?: number;
  /** Byte limit of the answer; already bounded by the API's limits. */
  limitBytes: number;
  timestamps: boolean;
  now: number;
}

export interface LogLine {
  /** When the line was written (epoch ms). */
  t: number;
  /** RFC 3339 with nanoseconds, when the writer knew better than milliseconds. */
  stamp?: string;
  text: string;
}

export interface SimulatedRun {
  container: string;
  image: string;
  restartCount: number;
  state: ContainerStatusSnapshot;
  output: readonly string[];
}

/** RFC 3339 with nanoseconds, as container runtimes stamp log lines. */
export function stampOf(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

const MAX_HEARTBEATS = 5000;

export function simulatedLines(run: SimulatedRun, now: number, heartbeatSeconds: number): LogLine[] {
  const start = run.state.startTime;
  if (start === undefined) return [];
  const end = run.state.state === 'Terminated' ? (run.state.finishTime ?? now) : now;
  const lines: LogLine[] = [
    {
      t: start,
      text: `[eci-emulator] starting container ${run.container} (image ${run.image}, restart ${run.restartCount})`,
    },
    ...run.output.map((text) => ({ t: start, text })),
  ];
  const period = heartbeatSeconds * 1000;
  const beats = Math.max(0, Math.floor((end - start) / period));
  const from = Math.max(1, beats - MAX_HEARTBEATS + 1);
  for (let k = from; k <= beats; k++) {
    lines.push({ t: start + k * period, text: `[eci-emulator] ${run.container} heartbeat ${k}` });
  }
  if (run.state.state === 'Terminated') {
    lines.push({
      t: end,
      text: `[eci-emulator] container ${run.container} exited with code ${run.state.exitCode ?? 0} (${run.state.reason ?? 'Completed'})`,
    });
  }
  return lines;
}

/** The answer's text: the selected lines, optionally stamped, cut at the byte limit. */
export function selectLines(lines: readonly LogLine[], q: LogRequest): string {
  let selected = lines;
  if (q.since !== undefined) {
    const since = q.since;
    selected = selected.filter((l) => l.t >= since);
  }
  selected = selected.slice(Math.max(0, selected.length - q.tail));
  let text = selected.map((l) => `${q.timestamps ? `${l.stamp ?? stampOf(l.t)} ` : ''}${l.text}\n`).join('');
  const limit = Math.min(q.limitBytes, LOG_BYTES_MAX);
  if (Buffer.byteLength(text) > limit) text = Buffer.from(text).subarray(0, limit).toString('utf8');
  return text;
}
