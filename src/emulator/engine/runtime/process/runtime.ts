import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cloudErrors } from '../../cloud-errors.ts';
import {
  CONTAINER_EVENTS,
  enterStatus,
  initBackoffMs,
  observeExited,
  observeLost,
  observeReady,
  observeStarted,
  observeWaiting,
  recordEvent,
} from '../../lifecycle.ts';
import { type LogLine, type LogRequest, selectLines } from '../../logs.ts';
import type { ContainerSpec, GroupRecord } from '../../model.ts';
import type {
  ExecHandle,
  ExecRequest,
  GroupSample,
  NetworkSample,
  Runtime,
  RuntimeHost,
  UsageSample,
} from '../types.ts';
import {
  entryPid,
  execHandle,
  execToEnd,
  type ExitInfo,
  logFileOf,
  type Run,
  startRun,
  stopRun,
} from './container.ts';
import { isAlive, processTree } from './host.ts';
import { normalizeImage } from '../../image-caches.ts';
import { type Image, ImageUnavailable, type ImageStore } from './images/store.ts';
import { forgetInstance, type InstanceRecord } from './instance.ts';
import { readRunLog } from './logs.ts';
import { BridgeNetwork } from './network.ts';
import { Prober } from './probes.ts';
import { createSandbox, destroySandbox, groupDir, type RuntimeContext, type Sandbox } from './sandbox.ts';
import { CONTAINER_INIT } from './scripts.ts';

/**
 * The process runtime: container groups run for real (see sandbox.ts and container.ts for how). One
 * worker per group compares the group's record with what runs and acts, one step at a time — like the
 * kubelet's pod workers — and reports what happened through the lifecycle's observe* functions:
 *
 * - Pending: the sandbox is made, the images are pulled (built), the init containers run in order,
 *   then every app container starts and the group is Running;
 * - Running: a container the record wants started is started; one whose process ended is reported
 *   (exit code, OOMKilled); probes run; a container the record says runs but that has no process (the
 *   emulator restarted) is started again with its restart count up and an event saying why;
 * - Restarting/Updating: every run is stopped (SIGTERM, SIGKILL after the grace period), then Pending;
 * - Terminating: every run is stopped, the sandbox removed, the record deleted;
 * - Succeeded/Failed/Expired: runs stopped, sandbox removed (logs kept until the record goes).
 */

const SAMPLE_EVERY_MS = 15_000;
/**
 * Sandboxes and container starts under way at once. Each start forks a handful of host processes
 * (spawning from a large Node process costs the event loop), so a burst of creates is worked off a
 * few at a time, keeping the API responsive.
 */
const START_SLOTS = 6;
const SAMPLES_KEPT = 240;
const DEFAULT_GRACE_SECONDS = 30;
const STOP_GRACE_MS = 2000;

interface GroupState {
  id: string;
  record: GroupRecord;
  working: boolean;
  again: boolean;
  forgotten: boolean;
  sandbox?: Sandbox;
  sandboxFailures: number;
  images: Map<string, Image | ImageUnavailable | 'pulling'>;
  pullFailures: Map<string, number>;
  runs: Map<string, Run>;
  probers: Map<string, Prober[]>;
  retry?: NodeJS.Timeout;
  retryAt?: number;
  initRetryAt?: number;
  samples: GroupSample[];
  lastUsage: Map<string, { t: number; cpuNs: number }>;
}

export interface ProcessRuntimeOptions {
  ctx: RuntimeContext;
  images: ImageStore;
  instance: InstanceRecord;
  ephemeral: boolean;
  logMaxBytes: number;
}

/** At most `n` holders at once; the rest wait in order. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free++;
    }
  }
}

export class ProcessRuntime implements Runtime {
  readonly kind = 'process' as const;
  readonly #ctx: RuntimeContext;
  readonly #images: ImageStore;
  readonly #instance: InstanceRecord;
  readonly #ephemeral: boolean;
  readonly #logMaxBytes: number;
  readonly #groups = new Map<string, GroupState>();
  #host!: RuntimeHost;
  #stopped = false;
  #sampler: NodeJS.Timeout | undefined;
  readonly #slots = new Slots(START_SLOTS);

  constructor(o: ProcessRuntimeOptions) {
    this.#ctx = o.ctx;
    this.#images = o.images;
    this.#instance = o.instance;
    this.#ephemeral = o.ephemeral;
    this.#logMaxBytes = o.logMaxBytes;
  }

  async start(host: RuntimeHost, groups: Iterable<GroupRecord>): Promise<void> {
    this.#host = host;
    await mkdir(path.join(this.#ctx.runtimeDir, 'bin'), { recursive: true });
    await writeFile(path.join(this.#ctx.runtimeDir, 'bin', 'container-init.sh'), CONTAINER_INIT);
    for (const g of groups) this.#state(g);
    this.#sampler = setInterval(() => void this.#sampleAll(), SAMPLE_EVERY_MS);
    this.#sampler.unref();
  }

  sync(g: GroupRecord): void {
    if (this.#stopped) return;
    const s = this.#state(g);
    s.record = g;
    this.#kick(s);
  }

  forget(id: string): void {
    const s = this.#groups.get(id);
    if (s === undefined) {
      void rm(path.join(this.#ctx.runtimeDir, 'logs', id), { recursive: true, force: true });
      return;
    }
    s.forgotten = true;
    this.#kick(s);
  }

  #state(g: GroupRecord): GroupState {
    let s = this.#groups.get(g.id);
    if (s === undefined) {
      s = {
        id: g.id,
        record: g,
        working: false,
        again: false,
        forgotten: false,
        sandboxFailures: 0,
        images: new Map(),
        pullFailures: new Map(),
        runs: new Map(),
        probers: new Map(),
        samples: [],
        lastUsage: new Map(),
      };
      this.#groups.set(g.id, s);
    }
    return s;
  }

  // ---------------------------------------------------------------- the group worker

  #kick(s: GroupState): void {
    if (s.working) {
      s.again = true;
      return;
    }
    s.working = true;
    void (async () => {
      try {
        do {
          s.again = false;
          await this.#reconcile(s);
        } while (s.again && !this.#stopped);
      } catch (err) {
        this.#host.logger.error(
          { err, group: s.id },
          'emulator runtime: a container group step failed; retrying',
        );
        this.#retryIn(s, 2000);
      } finally {
        s.working = false;
      }
    })();
  }

  #retryIn(s: GroupState, ms: number): void {
    const at = Date.now() + ms;
    if (s.retry !== undefined && s.retryAt !== undefined && s.retryAt <= at) return;
    if (s.retry !== undefined) clearTimeout(s.retry);
    s.retryAt = at;
    s.retry = setTimeout(() => {
      s.retry = undefined;
      s.retryAt = undefined;
      this.#kick(s);
    }, ms);
    s.retry.unref();
  }

  #grace(g: GroupRecord): number {
    return (g.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
  }

  async #reconcile(s: GroupState): Promise<void> {
    if (this.#stopped) return;
    if (s.forgotten) {
      await this.#stopAll(s, 0);
      await this.#teardown(s);
      await rm(path.join(this.#ctx.runtimeDir, 'logs', s.id), { recursive: true, force: true });
      if (s.retry !== undefined) clearTimeout(s.retry);
      this.#groups.delete(s.id);
      return;
    }
    const g = s.record;
    switch (g.status) {
      case 'Scheduling':
      case 'ScheduleFailed':
        return;
      case 'Pending':
        return this.#slots.run(() => this.#pending(s, g));
      case 'Running':
        return this.#running(s, g);
      case 'Restarting':
      case 'Updating': {
        const status = g.status;
        await this.#stopAll(s, this.#grace(g));
        // An update may change volumes: the sandbox is made again (the IP stays).
        if (status === 'Updating') await this.#teardown(s);
        this.#host.update(s.id, (r, now) => {
          if (r.status === status) enterStatus(r, 'Pending', now, this.#host.settings);
        });
        return;
      }
      case 'Terminating':
        await this.#stopAll(s, this.#grace(g));
        await this.#teardown(s);
        this.#host.remove(s.id);
        return;
      default:
        await this.#stopAll(s, this.#grace(g));
        await this.#teardown(s);
    }
  }

  async #ensureSandbox(s: GroupState, g: GroupRecord): Promise<Sandbox | undefined> {
    if (s.sandbox !== undefined) return s.sandbox;
    try {
      s.sandbox =
        g.status === 'Pending'
          ? await createSandbox(this.#ctx, g)
          : await this.#slots.run(() => createSandbox(this.#ctx, g));
      s.sandboxFailures = 0;
      return s.sandbox;
    } catch (err) {
      s.sandboxFailures++;
      const message = `Failed to create pod sandbox: ${err instanceof Error ? err.message : String(err)}`;
      this.#host.logger.warn({ group: s.id, err }, 'emulator runtime: cannot create a sandbox');
      this.#host.update(s.id, (r, now) =>
        recordEvent(
          r,
          { type: 'Warning', reason: 'FailedCreatePodSandBox', message },
          now,
          this.#host.settings.maxEventsPerGroup,
        ),
      );
      this.#retryIn(s, Math.min(1000 * 2 ** s.sandboxFailures, 30_000));
      return undefined;
    }
  }

  /** The images of every container, pulling the missing ones; undefined until all are there. */
  #ensureImages(s: GroupState, g: GroupRecord): Map<string, Image> | undefined {
    const specs = [...g.spec.initContainers, ...g.spec.containers];
    const ready = new Map<string, Image>();
    let waiting = false;
    for (const spec of specs) {
      const got = s.images.get(spec.image);
      if (got instanceof ImageUnavailable || got === 'pulling') {
        waiting = true;
        continue;
      }
      if (got !== undefined) {
        ready.set(spec.image, got);
        continue;
      }
      waiting = true;
      s.images.set(spec.image, 'pulling');
      this.#pull(s, spec, g.cachedImages?.includes(normalizeImage(spec.image)) === true);
    }
    return waiting ? undefined : ready;
  }

  /**
   * Gets the image for one instance. An instance whose image cache holds it (a hit at create) uses the
   * root filesystem the cache built and pulls nothing; any other instance pulls it, as a fresh ECI
   * instance does even when this machine has built the image before: `imagePullMs` per image.
   */
  #pull(s: GroupState, spec: ContainerSpec, cached: boolean): void {
    const started = Date.now();
    const max = this.#host.settings.maxEventsPerGroup;
    if (!cached)
      this.#host.update(s.id, (r, now) =>
        recordEvent(r, CONTAINER_EVENTS.pulling, now, max, { container: spec.name, image: spec.image }),
      );
    this.#images.get(spec.image).then(
      async (img) => {
        const pullMs = cached ? 0 : this.#host.settings.imagePullMs;
        if (pullMs > 0) await new Promise((r) => setTimeout(r, pullMs).unref());
        s.images.set(spec.image, img);
        s.pullFailures.delete(spec.image);
        this.#host.update(s.id, (r, now) => {
          recordEvent(
            r,
            cached
              ? CONTAINER_EVENTS.present
              : {
                  type: 'Normal',
                  reason: 'Pulled',
                  message: `Successfully pulled image "{image}" in ${((Date.now() - started) / 1000).toFixed(3)}s`,
                },
            now,
            max,
            { container: spec.name, image: spec.image },
          );
        });
        this.#kick(s);
      },
      (err: unknown) => {
        const failure =
          err instanceof ImageUnavailable ? err : new ImageUnavailable('BuildFailed', String(err), err);
        s.images.set(spec.image, failure);
        const n = (s.pullFailures.get(spec.image) ?? 0) + 1;
        s.pullFailures.set(spec.image, n);
        const message = `Failed to pull image "${spec.image}": ${failure.message}`;
        this.#host.update(s.id, (r, now) => {
          for (const c of [...r.spec.initContainers, ...r.spec.containers]) {
            if (c.image !== spec.image) continue;
            observeWaiting(r, c.name, n === 1 ? 'ErrImagePull' : 'ImagePullBackOff', message, now);
            recordEvent(r, CONTAINER_EVENTS.pullFailed, now, max, {
              container: c.name,
              image: c.image,
              message,
            });
            if (n > 1)
              recordEvent(r, CONTAINER_EVENTS.pullBackOff, now, max, { container: c.name, image: c.image });
          }
        });
        // Pulls are tried again with a back-off, as the kubelet does.
        const backoff = Math.min(this.#host.settings.restartBackoffMs.initial * 2 ** n, 5 * 60_000);
        setTimeout(() => {
          if (s.images.get(spec.image) === failure) s.images.delete(spec.image);
          this.#kick(s);
        }, backoff).unref();
      },
    );
  }

  async #pending(s: GroupState, g: GroupRecord): Promise<void> {
    const sandbox = await this.#ensureSandbox(s, g);
    if (sandbox === undefined) return;
    const images = this.#ensureImages(s, g);
    if (images === undefined) return;
    // Init containers, in order, each to completion.
    for (const [i, spec] of g.spec.initContainers.entries()) {
      const rec = g.initContainers[i];
      if (rec === undefined || (rec.state === 'Terminated' && rec.exitCode === 0)) continue;
      const live = s.runs.get(spec.name);
      // Running, or ended with its exit not told yet: wait for that.
      if (live !== undefined && !live.reported) return;
      if (rec.state === 'Running') {
        // Its process is gone without a word (the emulator restarted): run it again.
        this.#host.update(s.id, (r, now) => observeLost(r, spec.name, now, this.#host.settings));
        return;
      }
      if (rec.state === 'Terminated') {
        const at = s.initRetryAt ?? Date.now() + initBackoffMs(g, spec.name, this.#host.settings);
        s.initRetryAt = at;
        if (Date.now() < at) return this.#retryIn(s, at - Date.now());
      }
      s.initRetryAt = undefined;
      await this.#launch(s, g, spec, true, images.get(spec.image)!, sandbox);
      return;
    }
    // Every app container starts; the group is Running with them.
    const started: { run: Run; at: number }[] = [];
    await Promise.all(
      g.spec.containers.map(async (spec) => {
        const live = s.runs.get(spec.name);
        if (live !== undefined && !live.done) return;
        const at = this.#host.now();
        const run = await this.#spawn(s, g, spec, false, images.get(spec.image)!, sandbox, at);
        if (run !== undefined) started.push({ run, at });
      }),
    );
    this.#host.update(s.id, (r, now) => {
      if (r.status !== 'Pending') return;
      enterStatus(r, 'Running', now, this.#host.settings);
      for (const st of started) observeStarted(r, st.run.container, st.at, this.#host.settings);
    });
    for (const st of started) {
      this.#watch(s, st.run);
      this.#startProbers(s, st.run.container);
    }
  }

  async #running(s: GroupState, g: GroupRecord): Promise<void> {
    const sandbox = await this.#ensureSandbox(s, g);
    if (sandbox === undefined) return;
    for (const [i, spec] of g.spec.containers.entries()) {
      const rec = g.containers[i];
      if (rec === undefined) continue;
      const live = s.runs.get(spec.name);
      const alive = live !== undefined && !live.done;
      if (rec.state === 'Running') {
        // Its run ended and the exit is on its way to the record: nothing to do yet.
        if (live !== undefined && live.startTime === rec.startTime && !live.reported) continue;
        if (!alive || live.startTime !== rec.startTime) {
          if (alive) await this.#stopRunOf(s, spec.name, 0);
          this.#host.update(s.id, (r, now) => observeLost(r, spec.name, now, this.#host.settings));
        }
        continue;
      }
      if (alive) {
        // The record ended this run (an admin exit, a forced status): make it so.
        await this.#stopRunOf(s, spec.name, this.#grace(g));
        continue;
      }
      // A wait ECI does not retry (the admin API's `stuck`): only a restart of the group clears it.
      if (rec.state === 'Waiting' && rec.stuck !== true) {
        const images = this.#ensureImages(s, g);
        if (images === undefined) return;
        await this.#slots.run(() => this.#launch(s, g, spec, false, images.get(spec.image)!, sandbox));
      }
    }
  }

  /** Starts a run and reports its start (an init container's, or an app container's restart). */
  async #launch(
    s: GroupState,
    g: GroupRecord,
    spec: ContainerSpec,
    init: boolean,
    image: Image,
    sandbox: Sandbox,
  ): Promise<void> {
    const at = this.#host.now();
    const run = await this.#spawn(s, g, spec, init, image, sandbox, at);
    if (run === undefined) return;
    this.#host.update(s.id, (r) => {
      const wanted = init ? r.status === 'Pending' : r.status === 'Running';
      if (wanted) observeStarted(r, spec.name, at, this.#host.settings);
    });
    this.#watch(s, run);
    if (!init) this.#startProbers(s, spec.name);
  }

  async #spawn(
    s: GroupState,
    g: GroupRecord,
    spec: ContainerSpec,
    init: boolean,
    image: Image,
    sandbox: Sandbox,
    at: number,
  ): Promise<Run | undefined> {
    let run: Run;
    try {
      run = await startRun(this.#ctx, {
        g,
        spec,
        init,
        image,
        sandbox,
        startTime: at,
        logMaxBytes: this.#logMaxBytes,
        now: () => Date.now(),
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#host.update(s.id, (r, now) => {
        observeStarted(r, spec.name, at, this.#host.settings);
        observeExited(
          r,
          spec.name,
          { exitCode: 128, reason: 'StartError', message, at: now },
          this.#host.settings,
        );
      });
      return undefined;
    }
    s.runs.set(spec.name, run);
    return run;
  }

  /** Reports the run's end once it comes (after its start was reported). */
  #watch(s: GroupState, run: Run): void {
    void run.exited.then((exit) => this.#onExit(s, run, exit));
  }

  async #onExit(s: GroupState, run: Run, exit: ExitInfo): Promise<void> {
    try {
      await this.#reportExit(s, run, exit);
    } finally {
      run.reported = true;
      if (s.runs.get(run.container) === run) s.runs.delete(run.container);
      this.#kick(s);
    }
  }

  async #reportExit(s: GroupState, run: Run, exit: ExitInfo): Promise<void> {
    this.#stopProbers(s, run.container);
    if (this.#stopped || run.stopping) return;
    const oom = (await this.#ctx.cgroups.oomKills(run.cgroup).catch(() => 0)) > run.oomBefore;
    const o = run.override;
    const reason = o?.reason ?? (oom ? 'OOMKilled' : undefined);
    this.#host.update(s.id, (r, now) => {
      const rec = [...r.containers, ...r.initContainers].find((c) => c.name === run.container);
      if (rec?.state !== 'Running' || rec.startTime !== run.startTime) return;
      observeExited(
        r,
        run.container,
        {
          exitCode: o?.exitCode ?? exit.exitCode,
          at: now,
          ...(reason === undefined ? {} : { reason }),
          ...(o?.message === undefined ? {} : { message: o.message }),
          ...(exit.signal === undefined || o !== undefined ? {} : { signal: exit.signal }),
        },
        this.#host.settings,
      );
    });
  }

  #startProbers(s: GroupState, name: string): void {
    const g = s.record;
    const spec = g.spec.containers.find((c) => c.name === name);
    const run = s.runs.get(name);
    if (spec === undefined || run === undefined) return;
    this.#stopProbers(s, name);
    const list: Prober[] = [];
    const target = {
      ip: g.ip,
      exec: async (command: string[], timeoutMs: number) =>
        (await execToEnd(this.#ctx, run, command, timeoutMs)).exitCode,
    };
    const max = this.#host.settings.maxEventsPerGroup;
    const unhealthy = (message: string) =>
      this.#host.update(s.id, (r, now) =>
        recordEvent(r, CONTAINER_EVENTS.unhealthy, now, max, { container: name, message }),
      );
    if (spec.readinessProbe !== undefined) {
      list.push(
        new Prober({
          kind: 'readiness',
          probe: spec.readinessProbe,
          target,
          onAttemptFailed: unhealthy,
          onChange: (ok) => this.#host.update(s.id, (r, now) => observeReady(r, name, ok, now)),
        }),
      );
    }
    if (spec.livenessProbe !== undefined) {
      list.push(
        new Prober({
          kind: 'liveness',
          probe: spec.livenessProbe,
          target,
          onAttemptFailed: unhealthy,
          onChange: (ok) => {
            if (ok || run.done) return;
            this.#host.update(s.id, (r, now) =>
              recordEvent(r, CONTAINER_EVENTS.killingUnhealthy, now, max, { container: name }),
            );
            // Killed like the kubelet does; the exit is reported and the restart policy applies.
            void stopRun(run, this.#grace(s.record));
          },
        }),
      );
    }
    for (const p of list) p.start();
    s.probers.set(name, list);
  }

  #stopProbers(s: GroupState, name: string): void {
    for (const p of s.probers.get(name) ?? []) p.stop();
    s.probers.delete(name);
  }

  async #stopRunOf(s: GroupState, name: string, graceMs: number): Promise<void> {
    const run = s.runs.get(name);
    if (run === undefined) return;
    run.stopping = true;
    this.#stopProbers(s, name);
    await stopRun(run, graceMs);
    run.reported = true;
    if (s.runs.get(name) === run) s.runs.delete(name);
  }

  async #stopAll(s: GroupState, graceMs: number): Promise<void> {
    await Promise.all([...s.runs.keys()].map((name) => this.#stopRunOf(s, name, graceMs)));
    s.initRetryAt = undefined;
  }

  async #teardown(s: GroupState): Promise<void> {
    if (s.sandbox === undefined && (await this.#recordedHolder(s.id)) === undefined) {
      await this.#ctx.cgroups.remove(s.id).catch(() => undefined);
      await rm(groupDir(this.#ctx, s.id), { recursive: true, force: true });
      return;
    }
    await destroySandbox(this.#ctx, s.id, s.sandbox?.holder ?? (await this.#recordedHolder(s.id)));
    s.sandbox = undefined;
    s.lastUsage.clear();
  }

  async #recordedHolder(id: string) {
    try {
      const p = JSON.parse(
        await readFile(path.join(groupDir(this.#ctx, id), 'sandbox.pid.json'), 'utf8'),
      ) as {
        pid: number;
        start: number;
      };
      return (await isAlive(p)) ? p : undefined;
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- logs, exec, metrics

  async logs(g: GroupRecord, container: string, q: LogRequest): Promise<string> {
    const rt = [...g.containers, ...g.initContainers].find((c) => c.name === container);
    const run = q.previous ? rt?.previous : rt;
    if (run?.startTime === undefined) return '';
    const lines: LogLine[] = await readRunLog(logFileOf(this.#ctx, g.id, container, run.startTime));
    return selectLines(lines, q);
  }

  #liveRun(g: GroupRecord, container: string): Run {
    const run = this.#groups.get(g.id)?.runs.get(container);
    if (run === undefined || run.done)
      throw cloudErrors.incorrectStatus(`Container ${container} in container group ${g.id} is not running.`);
    return run;
  }

  exec(g: GroupRecord, container: string, req: ExecRequest): ExecHandle {
    return execHandle(this.#ctx, this.#liveRun(g, container), req);
  }

  async execSync(g: GroupRecord, container: string, command: string[]): Promise<string> {
    const r = await execToEnd(this.#ctx, this.#liveRun(g, container), command, 30_000);
    return r.stdout;
  }

  endRun(
    g: GroupRecord,
    container: string,
    exit: { exitCode: number; reason?: string; message?: string },
  ): boolean {
    const run = this.#groups.get(g.id)?.runs.get(container);
    if (run === undefined || run.done) return false;
    run.override = exit;
    void stopRun(run, 0);
    return true;
  }

  async sample(g: GroupRecord, t: number): Promise<GroupSample | undefined> {
    const s = this.#groups.get(g.id);
    if (s === undefined || g.startedAt === undefined || t < g.startedAt) return undefined;
    if (t >= Date.now() - SAMPLE_EVERY_MS) return (await this.#takeSample(s)) ?? s.samples.at(-1);
    let best: GroupSample | undefined;
    for (const x of s.samples) if (x.t <= t && (best === undefined || x.t > best.t)) best = x;
    return best;
  }

  async #sampleAll(): Promise<void> {
    for (const s of this.#groups.values()) {
      if (s.record.status !== 'Running' || s.sandbox === undefined) continue;
      const x = await this.#takeSample(s).catch(() => undefined);
      if (x === undefined) continue;
      s.samples.push(x);
      if (s.samples.length > SAMPLES_KEPT) s.samples.splice(0, s.samples.length - SAMPLES_KEPT);
    }
  }

  async #usageOf(
    s: GroupState,
    key: string,
    rel: string,
    since: number,
    pids: () => Promise<number[]>,
  ): Promise<UsageSample> {
    const now = Date.now();
    let cpuNs: number;
    let mem: { usage: number; workingSet: number; rss: number; cache: number };
    const cg = await this.#ctx.cgroups.usage(rel).catch(() => undefined);
    if (cg !== undefined) {
      cpuNs = cg.cpuNs;
      mem = { usage: cg.memoryUsage, workingSet: cg.workingSet, rss: cg.rss, cache: cg.cache };
    } else {
      // No cgroup accounting: sum the processes' own counters from /proc.
      cpuNs = 0;
      let rss = 0;
      for (const pid of await pids()) {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpuNs += ((Number(f[11]) || 0) + (Number(f[12]) || 0)) * 1e7;
        const statm = await readFile(`/proc/${pid}/statm`, 'utf8').catch(() => '');
        rss += (Number(statm.split(' ')[1]) || 0) * 4096;
      }
      mem = { usage: rss, workingSet: rss, rss, cache: 0 };
    }
    // CPU use since the previous sample (or since the start): core-ns per ms → nano-cores.
    const last = s.lastUsage.get(key) ?? { t: since, cpuNs: 0 };
    const rate = now <= last.t ? 0 : ((cpuNs - last.cpuNs) / (now - last.t)) * 1e3;
    s.lastUsage.set(key, { t: now, cpuNs });
    return {
      cpuCoreNanoSeconds: cpuNs,
      cpuNanoCores: Math.max(0, Math.round(rate)),
      memoryUsage: mem.usage,
      memoryWorkingSet: mem.workingSet,
      memoryRss: mem.rss,
      memoryCache: mem.cache,
    };
  }

  async #takeSample(s: GroupState): Promise<GroupSample | undefined> {
    if (s.sandbox === undefined) return undefined;
    const containers: Record<string, UsageSample> = {};
    const treeOf = async (pid: number | undefined) => (pid === undefined ? [] : processTree(pid));
    for (const [name, run] of s.runs) {
      if (run.init || run.done) continue;
      containers[name] = await this.#usageOf(s, name, run.cgroup, run.startTime, async () =>
        treeOf(await entryPid(run)),
      );
    }
    const group = await this.#usageOf(s, '', s.id, s.record.startedAt ?? Date.now(), async () => {
      const all: number[] = await treeOf(s.sandbox?.holder.pid);
      for (const run of s.runs.values()) all.push(...(await treeOf(await entryPid(run))));
      return all;
    });
    return { t: Date.now(), group, containers, network: await this.#network(s.id) };
  }

  async #network(id: string): Promise<NetworkSample> {
    const read = async (c: string) =>
      Number(
        (
          await readFile(BridgeNetwork.counterFile(this.#instance.instance, id, c), 'utf8').catch(() => '0')
        ).trim(),
      ) || 0;
    // The host end's receive is the group's transmit.
    return {
      rxBytes: await read('tx_bytes'),
      rxPackets: await read('tx_packets'),
      rxErrors: await read('tx_errors'),
      rxDrops: await read('tx_dropped'),
      txBytes: await read('rx_bytes'),
      txPackets: await read('rx_packets'),
      txErrors: await read('rx_errors'),
      txDrops: await read('rx_dropped'),
    };
  }

  async prepareImage(reference: string): Promise<void> {
    await this.#images.get(reference);
  }

  describe(): Record<string, unknown> {
    let runs = 0;
    let sandboxes = 0;
    for (const s of this.#groups.values()) {
      if (s.sandbox !== undefined) sandboxes++;
      for (const r of s.runs.values()) if (!r.done) runs++;
    }
    return {
      kind: this.kind,
      instance: this.#instance.instance,
      bridge: this.#ctx.network.bridge,
      runtimeDir: this.#ctx.runtimeDir,
      imageCacheDir: this.#images.cacheDir,
      cgroups: this.#ctx.cgroups.mode,
      ...(this.#ctx.cgroups.reason === undefined ? {} : { cgroupsMissing: this.#ctx.cgroups.reason }),
      sandboxes,
      runningContainers: runs,
    };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#sampler !== undefined) clearInterval(this.#sampler);
    const all = [...this.#groups.values()];
    for (const s of all) if (s.retry !== undefined) clearTimeout(s.retry);
    // The records stay as they are; everything real goes (a restart starts the containers again).
    await Promise.all(
      all.map(async (s) => {
        for (const name of s.probers.keys()) this.#stopProbers(s, name);
        await Promise.all(
          [...s.runs.values()].map((r) => {
            r.stopping = true;
            return stopRun(r, Math.min(STOP_GRACE_MS, this.#grace(s.record)));
          }),
        );
        await this.#teardown(s).catch(() => undefined);
      }),
    );
    await this.#ctx.network.down();
    await this.#ctx.cgroups.remove('').catch(() => undefined);
    await rm(path.join(this.#ctx.runtimeDir, 'groups'), { recursive: true, force: true });
    await forgetInstance(this.#instance);
    if (this.#ephemeral) await rm(this.#ctx.runtimeDir, { recursive: true, force: true });
  }
}
