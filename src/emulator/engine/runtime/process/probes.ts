import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Probe } from '../../model.ts';

/**
 * Liveness and readiness probes, run for real as the kubelet runs them: exec in the container,
 * httpGet and tcpSocket against the pod IP from the host (through the bridge). The first probe comes
 * after InitialDelaySeconds, then one every PeriodSeconds (default 10), each with TimeoutSeconds
 * (default 1). SuccessThreshold (default 1) successes or FailureThreshold (default 3) failures in a row
 * change the result. Readiness starts failed, liveness succeeded. (ECI has no startup probe: the
 * controller folds a pod's startup probe into the liveness probe's initial delay.)
 */

export type ProbeKind = 'liveness' | 'readiness';

export interface ProbeState {
  ok: boolean;
  successes: number;
  failures: number;
}

export function initialState(kind: ProbeKind): ProbeState {
  return { ok: kind === 'liveness', successes: 0, failures: 0 };
}

/** The state after one probe result; `changed` when the overall result flipped. */
export function nextState(
  s: ProbeState,
  ok: boolean,
  p: Pick<Probe, 'successThreshold' | 'failureThreshold'>,
): { state: ProbeState; changed: boolean } {
  const successes = ok ? s.successes + 1 : 0;
  const failures = ok ? 0 : s.failures + 1;
  let result = s.ok;
  if (ok && !s.ok && successes >= (p.successThreshold ?? 1)) result = true;
  if (!ok && s.ok && failures >= (p.failureThreshold ?? 3)) result = false;
  return { state: { ok: result, successes, failures }, changed: result !== s.ok };
}

export interface ProbeTarget {
  ip: string;
  /** Runs a command in the container; resolves with its exit code (or rejects on timeout). */
  exec(command: string[], timeoutMs: number): Promise<number>;
}

/** One probe attempt: null when it passed, else what failed (the kubelet's wording). */
export async function probeOnce(p: Probe, target: ProbeTarget): Promise<string | null> {
  const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
  if (p.exec !== undefined && p.exec.length > 0) {
    try {
      const code = await target.exec(p.exec, timeoutMs);
      return code === 0 ? null : `command ${JSON.stringify(p.exec.join(' '))} exited with ${code}`;
    } catch (err) {
      return `command ${JSON.stringify(p.exec.join(' '))} failed: ${(err as Error).message}`;
    }
  }
  if (p.httpGet !== undefined) {
    const scheme = (p.httpGet.scheme ?? 'HTTP').toUpperCase();
    const port = p.httpGet.port ?? 80;
    const path = p.httpGet.path ?? '/';
    return new Promise((resolve) => {
      const mod = scheme === 'HTTPS' ? https : http;
      const req = mod.get(
        {
          host: target.ip,
          port,
          path: path.startsWith('/') ? path : `/${path}`,
          timeout: timeoutMs,
          headers: { 'User-Agent': 'kube-probe/1.34', Accept: '*/*' },
          rejectUnauthorized: false,
          agent: false,
        },
        (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(code >= 200 && code < 400 ? null : `HTTP probe failed with statuscode: ${code}`);
        },
      );
      req.on('timeout', () => req.destroy(new Error('context deadline exceeded (Client.Timeout exceeded)')));
      req.on('error', (err) =>
        resolve(`Get "${scheme.toLowerCase()}://${target.ip}:${port}${path}": ${err.message}`),
      );
    });
  }
  if (p.tcpSocket !== undefined) {
    const port = p.tcpSocket.port ?? 0;
    return new Promise((resolve) => {
      const s = net.connect({ host: target.ip, port, timeout: timeoutMs });
      s.once('connect', () => {
        s.destroy();
        resolve(null);
      });
      s.once('timeout', () => {
        s.destroy();
        resolve(`dial tcp ${target.ip}:${port}: i/o timeout`);
      });
      s.once('error', (err) => resolve(`dial tcp ${target.ip}:${port}: ${err.message}`));
    });
  }
  return null;
}

/** Runs one probe of one container run until stopped. */
export class Prober {
  #state: ProbeState;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #kind: ProbeKind;
  readonly #probe: Probe;
  readonly #target: ProbeTarget;
  readonly #onAttemptFailed: (message: string) => void;
  readonly #onChange: (ok: boolean) => void;

  constructor(o: {
    kind: ProbeKind;
    probe: Probe;
    target: ProbeTarget;
    /** Every failed attempt (an Unhealthy event). */
    onAttemptFailed: (message: string) => void;
    /** The result flipped (readiness: ready or not; liveness: false = kill the container). */
    onChange: (ok: boolean) => void;
  }) {
    this.#kind = o.kind;
    this.#probe = o.probe;
    this.#target = o.target;
    this.#onAttemptFailed = o.onAttemptFailed;
    this.#onChange = o.onChange;
    this.#state = initialState(o.kind);
  }

  start(): void {
    this.#schedule((this.#probe.initialDelaySeconds ?? 0) * 1000);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), ms);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const failure = await probeOnce(this.#probe, this.#target);
    if (this.#stopped) return;
    if (failure !== null)
      this.#onAttemptFailed(
        `${this.#kind === 'liveness' ? 'Liveness' : 'Readiness'} probe failed: ${failure}`,
      );
    const { state, changed } = nextState(this.#state, failure === null, this.#probe);
    this.#state = state;
    if (changed) this.#onChange(state.ok);
    // A failed liveness probe ends the run; the next run gets a new prober.
    if (this.#kind === 'liveness' && !state.ok) return;
    this.#schedule((this.#probe.periodSeconds ?? 10) * 1000);
  }
}
