/**
 * Typed client of the emulator's admin API (`/_emulator/…`), for tests that drive the emulated cloud:
 * inject faults, exhaust a zone's stock, make containers exit or turn unready, read what the
 * controller did (request counts per action and result code). It talks HTTP with `fetch` and needs
 * nothing from the emulator's code, so tests of other components (controller e2e) can use it against
 * an emulator in another process.
 *
 * Every method takes an optional AbortSignal and has a timeout; a non-2xx answer throws
 * `EmulatorAdminError` with the admin API's stable `code` (NotFound, InvalidInput, IncorrectStatus, ...).
 */

// Types only: erased when the file runs, so the client still loads nothing of the emulator.
import type { EciGroupStatus as GroupStatus } from '../../eci-api/statuses.ts';
import type { TIMED_STATUSES } from '../config.ts';
import type { GroupRecord, ImageCacheRecord } from '../engine/model.ts';

export type { GroupStatus };

export type FaultKind = 'throttle' | 'error' | 'latency';

export interface FaultInput {
  kind: FaultKind;
  /** Actions it applies to (e.g. `['CreateContainerGroup']`); absent = all. */
  actions?: string[];
  /** Number of matching requests it affects before it disappears; absent = until removed. */
  count?: number;
  /** Chance that a matching request is affected (default 1). */
  probability?: number;
  /** For `latency`. */
  latencyMs?: number;
  /** For `error` and `throttle`: override the HTTP status, code and message. */
  status?: number;
  code?: string;
  message?: string;
}

export interface Fault extends FaultInput {
  id: string;
  hits: number;
}

/** The emulator's record of a container group (times are epoch milliseconds). */
export type ContainerGroupRecord = GroupRecord;

/** The emulator's record of an image cache. */
export type ImageCacheState = ImageCacheRecord;

export interface ZoneState {
  id: string;
  /** Most live container groups allowed; null = unlimited. */
  stock: number | null;
  live: number;
  vSwitches: { id: string; cidr: string; used: number; capacity: number }[];
}

export interface ActionStats {
  count: number;
  totalMs: number;
  byCode: Record<string, number>;
}

export interface LifecycleStage {
  from: (typeof TIMED_STATUSES)[number];
  to: GroupStatus | 'Deleted';
  delayMs: number;
  events?: { type?: 'Normal' | 'Warning'; reason: string; message: string }[];
}

export interface LifecycleSettings {
  stages?: LifecycleStage[];
  restartBackoffMs?: { initial: number; max: number };
  minRunMs?: number;
  defaultRunSeconds?: number;
  maxEventsPerGroup?: number;
  imagePullMs?: number;
}

export class EmulatorAdminError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'EmulatorAdminError';
    this.status = status;
    this.code = code;
  }
}

export interface EmulatorAdminClientOptions {
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export class EmulatorAdminClient {
  /** Base URL of the admin API, e.g. `http://127.0.0.1:9440/_emulator`. */
  readonly baseUrl: string;
  readonly #timeoutMs: number;

  /** `baseUrl` may be the emulator's URL or its admin URL. */
  constructor(baseUrl: string, opts: EmulatorAdminClientOptions = {}) {
    const trimmed = baseUrl.replace(/\/+$/, '');
    this.baseUrl = trimmed.endsWith('/_emulator') ? trimmed : `${trimmed}/_emulator`;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async #call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      // The admin API takes changes as JSON only (its CSRF guard), bodiless ones included.
      headers: method === 'GET' ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    });
    const text = await res.text();
    let data: unknown;
    try {
      data = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new EmulatorAdminError(
        res.status,
        'InvalidResponse',
        `emulator admin ${method} ${path}: not JSON`,
      );
    }
    if (!res.ok) {
      const e = (data as { error?: { code?: string; message?: string } }).error;
      throw new EmulatorAdminError(
        res.status,
        e?.code ?? 'Unknown',
        `emulator admin ${method} ${path} failed (${res.status}): ${e?.message ?? text}`,
      );
    }
    return data as T;
  }

  health(signal?: AbortSignal): Promise<{ ok: boolean; regionId: string }> {
    return this.#call('GET', '/health', undefined, signal);
  }

  /** Region data, zones with stock and usage, group counts by status, faults, journal statistics. */
  state(signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.#call('GET', '/state', undefined, signal);
  }

  /** Deletes every container group and image cache (durably), clears faults, stock overrides, quota buckets and stats. */
  async reset(signal?: AbortSignal): Promise<void> {
    await this.#call('POST', '/reset', undefined, signal);
  }

  listContainerGroups(
    opts: { status?: GroupStatus; limit?: number; offset?: number } = {},
    signal?: AbortSignal,
  ): Promise<{ total: number; items: ContainerGroupRecord[] }> {
    const q = new URLSearchParams();
    if (opts.status !== undefined) q.set('status', opts.status);
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.offset !== undefined) q.set('offset', String(opts.offset));
    const qs = q.toString();
    return this.#call('GET', `/container-groups${qs === '' ? '' : `?${qs}`}`, undefined, signal);
  }

  getContainerGroup(id: string, signal?: AbortSignal): Promise<ContainerGroupRecord> {
    return this.#call('GET', `/container-groups/${encodeURIComponent(id)}`, undefined, signal);
  }

  /** Forces a group's status (e.g. `Expired` for a reclaimed spot instance, `Failed`, `ScheduleFailed`). */
  setContainerGroupStatus(
    id: string,
    status: GroupStatus,
    reason?: string,
    signal?: AbortSignal,
  ): Promise<ContainerGroupRecord> {
    return this.#call(
      'POST',
      `/container-groups/${encodeURIComponent(id)}/status`,
      { status, reason },
      signal,
    );
  }

  /** The running container exits now with `exitCode`; the restart policy then applies. */
  exitContainer(
    id: string,
    container: string,
    exitCode: number,
    opts: { reason?: string; message?: string } = {},
    signal?: AbortSignal,
  ): Promise<ContainerGroupRecord> {
    return this.#call(
      'POST',
      `/container-groups/${encodeURIComponent(id)}/containers/${encodeURIComponent(container)}/exit`,
      { exitCode, ...opts },
      signal,
    );
  }

  /** The running container crashes (default exit code 1, reason Error; e.g. `{ exitCode: 137, reason: 'OOMKilled' }`). */
  crashContainer(
    id: string,
    container: string,
    opts: { exitCode?: number; reason?: string; message?: string } = {},
    signal?: AbortSignal,
  ): Promise<ContainerGroupRecord> {
    return this.#call(
      'POST',
      `/container-groups/${encodeURIComponent(id)}/containers/${encodeURIComponent(container)}/crash`,
      opts,
      signal,
    );
  }

  /**
   * The container stops and waits with `reason` (default RunContainerError), and the emulator does
   * not retry it: a state only RestartContainerGroup clears.
   */
  stickContainer(
    id: string,
    container: string,
    opts: { reason?: string; message?: string } = {},
    signal?: AbortSignal,
  ): Promise<ContainerGroupRecord> {
    return this.#call(
      'POST',
      `/container-groups/${encodeURIComponent(id)}/containers/${encodeURIComponent(container)}/stuck`,
      opts,
      signal,
    );
  }

  /** Forces readiness (true/false), or gives it back to the emulator (null). */
  setContainerReady(
    id: string,
    container: string,
    ready: boolean | null,
    signal?: AbortSignal,
  ): Promise<ContainerGroupRecord> {
    return this.#call(
      'POST',
      `/container-groups/${encodeURIComponent(id)}/containers/${encodeURIComponent(container)}/ready`,
      { ready },
      signal,
    );
  }

  listFaults(signal?: AbortSignal): Promise<Fault[]> {
    return this.#call<{ faults: Fault[] }>('GET', '/faults', undefined, signal).then((r) => r.faults);
  }

  addFault(fault: FaultInput, signal?: AbortSignal): Promise<Fault> {
    return this.#call('POST', '/faults', fault, signal);
  }

  /** Shorthand: the next `count` calls of `actions` (all, if absent) get Throttling.User. */
  throttle(opts: { actions?: string[]; count?: number } = {}, signal?: AbortSignal): Promise<Fault> {
    return this.addFault({ kind: 'throttle', ...opts }, signal);
  }

  /** Shorthand: the next `count` calls fail with a 5xx (default 503 ServiceUnavailable). */
  failWith5xx(
    opts: { actions?: string[]; count?: number; status?: number; code?: string } = {},
    signal?: AbortSignal,
  ): Promise<Fault> {
    return this.addFault({ kind: 'error', ...opts }, signal);
  }

  /** Shorthand: calls are delayed by `latencyMs`. */
  addLatency(
    latencyMs: number,
    opts: { actions?: string[]; count?: number } = {},
    signal?: AbortSignal,
  ): Promise<Fault> {
    return this.addFault({ kind: 'latency', latencyMs, ...opts }, signal);
  }

  async removeFault(id: string, signal?: AbortSignal): Promise<void> {
    await this.#call('DELETE', `/faults/${encodeURIComponent(id)}`, undefined, signal);
  }

  async clearFaults(signal?: AbortSignal): Promise<void> {
    await this.#call('DELETE', '/faults', undefined, signal);
  }

  zones(signal?: AbortSignal): Promise<ZoneState[]> {
    return this.#call<{ zones: ZoneState[] }>('GET', '/zones', undefined, signal).then((r) => r.zones);
  }

  /** Sets how many live container groups a zone holds (0 = out of stock, null = unlimited). */
  setZoneStock(zoneId: string, stock: number | null, signal?: AbortSignal): Promise<ZoneState> {
    return this.#call('PUT', `/zones/${encodeURIComponent(zoneId)}/stock`, { stock }, signal);
  }

  getQuotas(signal?: AbortSignal): Promise<{ enabled: boolean; perMinute: Record<string, number> }> {
    return this.#call('GET', '/quotas', undefined, signal);
  }

  /** Turns quotas on or off and/or changes per-action limits (calls per minute). */
  setQuotas(
    change: { enabled?: boolean; perMinute?: Record<string, number> },
    signal?: AbortSignal,
  ): Promise<{ enabled: boolean; perMinute: Record<string, number> }> {
    return this.#call('PUT', '/quotas', change, signal);
  }

  /** Requests per action since start (or the last reset), by result code (`OK` or the error code). */
  stats(
    signal?: AbortSignal,
  ): Promise<{ actions: Record<string, ActionStats>; journal?: Record<string, number> }> {
    return this.#call('GET', '/stats', undefined, signal);
  }

  async resetStats(signal?: AbortSignal): Promise<void> {
    await this.#call('DELETE', '/stats', undefined, signal);
  }

  getLifecycle(signal?: AbortSignal): Promise<Required<LifecycleSettings>> {
    return this.#call('GET', '/lifecycle', undefined, signal);
  }

  /** Changes lifecycle timings at run time (e.g. a slow Pending stage for one test). */
  setLifecycle(change: LifecycleSettings, signal?: AbortSignal): Promise<Required<LifecycleSettings>> {
    return this.#call('PUT', '/lifecycle', change, signal);
  }

  /** Every image cache the emulator holds. */
  async listImageCaches(signal?: AbortSignal): Promise<ImageCacheState[]> {
    const r = await this.#call<{ imageCaches: ImageCacheState[] }>('GET', '/image-caches', undefined, signal);
    return r.imageCaches;
  }

  /**
   * Moves the emulated cloud's clock forward (retention days, deadlines) and catches every record up;
   * request signatures are still checked against the real clock.
   */
  advanceClock(advanceMs: number, signal?: AbortSignal): Promise<{ offsetMs: number; now: number }> {
    return this.#call('POST', '/clock', { advanceMs }, signal);
  }

  setImageCacheStatus(
    id: string,
    status: 'Preparing' | 'Creating' | 'Ready' | 'Failed' | 'Expired',
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    return this.#call('POST', `/image-caches/${encodeURIComponent(id)}/status`, { status }, signal);
  }

  /** Polls `getContainerGroup` until `predicate` holds (default timeout 15 s). */
  async waitForContainerGroup(
    id: string,
    predicate: (g: ContainerGroupRecord) => boolean,
    opts: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {},
  ): Promise<ContainerGroupRecord> {
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    let last: ContainerGroupRecord | undefined;
    for (;;) {
      opts.signal?.throwIfAborted();
      last = await this.getContainerGroup(id, opts.signal);
      if (predicate(last)) return last;
      if (Date.now() > deadline) {
        throw new EmulatorAdminError(
          408,
          'Timeout',
          `container group ${id} did not reach the expected state; last status ${last.status}`,
        );
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
    }
  }
}
