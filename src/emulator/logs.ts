import type { ContainerStatusSnapshot } from './model.ts';

/**
 * Deterministic container logs. A run's log is derived from its state, so it needs no storage: a
 * start line, the run's `echo` output, a heartbeat line every `heartbeatSeconds` while it runs, and an
 * exit line when it ends. The same query gives the same answer on every call and after a restart.
 */

export interface LogRun {
  container: string;
  image: string;
  restartCount: number;
  state: ContainerStatusSnapshot;
  output: readonly string[];
}

export interface LogQuery {
  now: number;
  heartbeatSeconds: number;
  tail?: number;
  sinceSeconds?: number;
  sinceTime?: number;
  limitBytes?: number;
  timestamps?: boolean;
}

interface Line {
  t: number;
  text: string;
}

/** RFC 3339 with nanoseconds, as the container runtime stamps log lines. */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

const MAX_LINES = 5000;

export function renderLog(run: LogRun, q: LogQuery): string {
  const start = run.state.startTime;
  if (start === undefined) return '';
  const end = run.state.state === 'Terminated' ? (run.state.finishTime ?? q.now) : q.now;
  const lines: Line[] = [
    {
      t: start,
      text: `[eci-emulator] starting container ${run.container} (image ${run.image}, restart ${run.restartCount})`,
    },
    ...run.output.map((text) => ({ t: start, text })),
  ];
  const period = q.heartbeatSeconds * 1000;
  const beats = Math.max(0, Math.floor((end - start) / period));
  const from = Math.max(1, beats - MAX_LINES + 1);
  for (let k = from; k <= beats; k++) {
    lines.push({ t: start + k * period, text: `[eci-emulator] ${run.container} heartbeat ${k}` });
  }
  if (run.state.state === 'Terminated') {
    lines.push({
      t: end,
      text: `[eci-emulator] container ${run.container} exited with code ${run.state.exitCode ?? 0} (${run.state.reason ?? 'Completed'})`,
    });
  }
  let selected = lines;
  const since =
    q.sinceSeconds !== undefined
      ? q.now - q.sinceSeconds * 1000
      : q.sinceTime !== undefined
        ? q.sinceTime
        : undefined;
  if (since !== undefined) selected = selected.filter((l) => l.t >= since);
  if (q.tail !== undefined && q.tail >= 0) selected = selected.slice(Math.max(0, selected.length - q.tail));
  let text = selected.map((l) => `${q.timestamps === true ? `${stamp(l.t)} ` : ''}${l.text}\n`).join('');
  if (q.limitBytes !== undefined && Buffer.byteLength(text) > q.limitBytes) {
    text = Buffer.from(text).subarray(0, q.limitBytes).toString('utf8');
  }
  return text;
}
