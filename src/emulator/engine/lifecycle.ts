import type { EventTemplate, GroupStatus, Stage } from '../config.ts';
import { planContainerRun } from './convention.ts';
import { normalizeImage } from './image-caches.ts';
import type { ContainerRuntime, ContainerSpec, ContainerStatusSnapshot, GroupRecord } from './model.ts';

/**
 * The container group state machine, KWOK-style: behaviour is the data in `Stage[]` (which timed
 * status leads to which, after how long, with which events) plus the container rules below (run plans
 * from the exit-code convention, the restart policy with back-off, readiness). `advance` is pure over
 * its inputs: it moves one record forward to `now`, applying every due step at the time it fell due,
 * and says when the record next needs attention. The server only calls it when that time comes.
 */

export interface LifecycleSettings {
  stages: readonly Stage[];
  restartBackoffMs: { initial: number; max: number };
  minRunMs: number;
  defaultRunSeconds: number;
  maxEventsPerGroup: number;
  /** Time to pull one image that no image cache holds (added to the Pending stage). */
  imagePullMs: number;
  /**
   * Container runs are observed, not planned (the process runtime): the lifecycle never plans an exit
   * or a readiness time, pulls no image on paper, and of the stage table only `Scheduling` is timed —
   * the runtime reports when a group is up (Pending → Running), stopped (Restarting/Updating → Pending)
   * or gone (Terminating → deleted) through the observe* functions below.
   */
  observed?: boolean;
}

export interface AdvanceResult {
  changed: boolean;
  /** The record reached the `Deleted` stage and must be removed. */
  deleted: boolean;
  /** When `advance` has something to do next; undefined = nothing until an outside change. */
  nextAt: number | undefined;
}

export const TERMINAL_STATUSES: ReadonlySet<GroupStatus> = new Set([
  'Succeeded',
  'Failed',
  'Expired',
  'ScheduleFailed',
]);

/** Events about a container, by what happened to it. */
export const CONTAINER_EVENTS = {
  pulling: { type: 'Normal', reason: 'Pulling', message: 'Pulling image "{image}"' },
  pulled: { type: 'Normal', reason: 'Pulled', message: 'Successfully pulled image "{image}"' },
  present: {
    type: 'Normal',
    reason: 'Pulled',
    message: 'Container image "{image}" already present on machine',
  },
  created: { type: 'Normal', reason: 'Created', message: 'Created container {container}' },
  started: { type: 'Normal', reason: 'Started', message: 'Started container {container}' },
  killing: { type: 'Normal', reason: 'Killing', message: 'Stopping container {container}' },
  backOff: {
    type: 'Warning',
    reason: 'BackOff',
    message: 'Back-off restarting failed container {container}',
  },
  oomKilled: { type: 'Warning', reason: 'OOMKilled', message: 'Out of memory' },
  pullFailed: { type: 'Warning', reason: 'Failed', message: '{message}' },
  pullBackOff: { type: 'Normal', reason: 'BackOff', message: 'Back-off pulling image "{image}"' },
  unhealthy: { type: 'Warning', reason: 'Unhealthy', message: '{message}' },
  killingUnhealthy: {
    type: 'Normal',
    reason: 'Killing',
    message: 'Container {container} failed liveness probe, will be restarted',
  },
  emulatorRestarted: {
    type: 'Warning',
    reason: 'EmulatorRestarted',
    message:
      'Container {container} is started again: the ECI emulator restarted and its processes did not survive',
  },
  initFailed: {
    type: 'Warning',
    reason: 'Failed',
    message: 'Init container {container} exited with code {code}',
  },
  deadline: {
    type: 'Warning',
    reason: 'DeadlineExceeded',
    message: 'Container group was active longer than specified deadline',
  },
} satisfies Record<string, EventTemplate>;

function render(t: string, g: GroupRecord, extra: Record<string, string> = {}): string {
  const vars: Record<string, string> = { id: g.id, name: g.name, zone: g.zoneId, ip: g.ip, ...extra };
  return t.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
}

/** Adds an event, folding it into the last one with the same reason/message (as Kubernetes does). */
export function recordEvent(
  g: GroupRecord,
  t: EventTemplate,
  at: number,
  max: number,
  extra: Record<string, string> = {},
): void {
  const message = render(t.message, g, extra);
  const container = extra.container;
  const same = g.events.find(
    (e) => e.reason === t.reason && e.message === message && e.container === container,
  );
  if (same !== undefined) {
    same.count++;
    same.last = Math.max(same.last, at);
    return;
  }
  g.eventSeq++;
  g.events.push({
    name: `${g.name}.${g.eventSeq.toString(16).padStart(16, '0')}`,
    type: t.type,
    reason: t.reason,
    message,
    count: 1,
    first: at,
    last: at,
    ...(container === undefined ? {} : { container }),
  });
  if (g.events.length > max) g.events.splice(0, g.events.length - max);
}

export function stageFor(stages: readonly Stage[], status: GroupStatus): Stage | undefined {
  return stages.find((s) => s.from === status);
}

function snapshot(c: ContainerRuntime): ContainerStatusSnapshot {
  const s: ContainerStatusSnapshot = { state: c.state };
  if (c.reason !== undefined) s.reason = c.reason;
  if (c.message !== undefined) s.message = c.message;
  if (c.exitCode !== undefined) s.exitCode = c.exitCode;
  if (c.signal !== undefined) s.signal = c.signal;
  if (c.startTime !== undefined) s.startTime = c.startTime;
  if (c.finishTime !== undefined) s.finishTime = c.finishTime;
  return s;
}

function clearRun(c: ContainerRuntime): void {
  delete c.reason;
  delete c.message;
  delete c.exitCode;
  delete c.signal;
  delete c.startTime;
  delete c.finishTime;
  delete c.exitAt;
  delete c.plannedExitCode;
  delete c.exitReason;
  delete c.exitMessage;
  delete c.restartAt;
  delete c.readyAt;
  delete c.stuck;
}

/** Fresh runtime records for a spec, keeping restart counts of containers that keep their name. */
export function runtimesFor(
  specs: readonly ContainerSpec[],
  old: readonly ContainerRuntime[] = [],
): ContainerRuntime[] {
  return specs.map((s) => {
    const prev = old.find((o) => o.name === s.name);
    const c: ContainerRuntime = {
      name: s.name,
      state: 'Waiting',
      reason: 'ContainerCreating',
      restartCount: prev?.restartCount ?? 0,
      ready: false,
    };
    if (prev?.state === 'Terminated' && prev.startTime !== undefined) c.previous = snapshot(prev);
    else if (prev?.previous !== undefined) c.previous = prev.previous;
    return c;
  });
}

function derivedReady(c: ContainerRuntime, at: number): boolean {
  if (c.state !== 'Running') return false;
  if (c.readyOverride !== undefined) return c.readyOverride;
  return c.readyAt === undefined || c.readyAt <= at;
}

function startContainer(
  g: GroupRecord,
  c: ContainerRuntime,
  spec: ContainerSpec,
  at: number,
  s: LifecycleSettings,
): void {
  if (c.state === 'Terminated' && c.startTime !== undefined) c.previous = snapshot(c);
  clearRun(c);
  c.state = 'Running';
  c.startTime = at;
  const plan = planContainerRun(spec, s.defaultRunSeconds);
  if (plan.kind === 'exits') {
    c.exitAt = at + Math.max(plan.runMs, s.minRunMs);
    c.plannedExitCode = plan.exitCode;
  }
  const delay = spec.readinessProbe?.initialDelaySeconds;
  if (delay !== undefined && delay > 0) c.readyAt = at + delay * 1000;
  c.ready = derivedReady(c, at);
  const extra = { container: c.name, image: spec.image };
  recordEvent(g, CONTAINER_EVENTS.created, at, s.maxEventsPerGroup, extra);
  recordEvent(g, CONTAINER_EVENTS.started, at, s.maxEventsPerGroup, extra);
}

function terminate(
  c: ContainerRuntime,
  at: number,
  reason: string,
  exitCode: number,
  message?: string,
): void {
  c.state = 'Terminated';
  c.reason = reason;
  c.exitCode = exitCode;
  c.finishTime = at;
  if (message !== undefined) c.message = message;
  else delete c.message;
  c.ready = false;
  delete c.exitAt;
  delete c.plannedExitCode;
  delete c.exitReason;
  delete c.exitMessage;
  delete c.readyAt;
  delete c.restartAt;
}

function backoffMs(restartCount: number, s: LifecycleSettings): number {
  return Math.min(s.restartBackoffMs.initial * 2 ** Math.min(restartCount, 16), s.restartBackoffMs.max);
}

/** Stops every container (the group is leaving the running world). */
function stopContainers(
  g: GroupRecord,
  at: number,
  reason: string,
  exitCode: number,
  s: LifecycleSettings,
): void {
  for (const c of g.containers) {
    if (c.state === 'Running') {
      recordEvent(g, CONTAINER_EVENTS.killing, at, s.maxEventsPerGroup, { container: c.name });
      terminate(c, at, reason, exitCode);
    } else {
      delete c.restartAt;
      if (c.state === 'Waiting') {
        c.reason = reason;
      }
    }
    c.ready = false;
  }
}

/**
 * Puts the group into `to` at time `at`, with that status's side effects on containers. Used by the
 * stage table, by the API (Restart/Update/Delete) and on demand (the admin API).
 */
export function enterStatus(
  g: GroupRecord,
  to: GroupStatus,
  at: number,
  s: LifecycleSettings,
  reason?: string,
): void {
  const from = g.status;
  g.status = to;
  g.statusSince = at;
  g.changedAt = at;
  if (reason !== undefined) g.statusReason = reason;
  else delete g.statusReason;
  switch (to) {
    case 'Pending': {
      const initializing = g.spec.initContainers.length > 0;
      for (const c of g.initContainers) {
        clearRun(c);
        c.state = 'Waiting';
        c.reason = 'PodInitializing';
        c.ready = false;
      }
      for (const c of g.containers) {
        if (c.state === 'Terminated' && c.startTime !== undefined) c.previous = snapshot(c);
        clearRun(c);
        c.state = 'Waiting';
        c.reason = initializing ? 'PodInitializing' : 'ContainerCreating';
        c.ready = false;
      }
      if (s.observed === true) break;
      for (const spec of [...g.spec.initContainers, ...g.spec.containers]) {
        const extra = { container: spec.name, image: spec.image };
        if (isCached(g, spec.image)) {
          recordEvent(g, CONTAINER_EVENTS.present, at, s.maxEventsPerGroup, extra);
          continue;
        }
        recordEvent(g, CONTAINER_EVENTS.pulling, at, s.maxEventsPerGroup, extra);
        recordEvent(g, CONTAINER_EVENTS.pulled, at, s.maxEventsPerGroup, extra);
      }
      break;
    }
    case 'Running': {
      if (from === 'Running') break;
      const bump = g.bumpRestartCount === true;
      delete g.bumpRestartCount;
      if (s.observed === true) {
        // The runtime reports each container's start (observeStarted) right after this.
        g.startedAt ??= at;
        delete g.initPending;
        for (const c of g.containers) {
          if (bump && c.previous !== undefined) c.restartCount++;
          if (c.state !== 'Running') {
            c.state = 'Waiting';
            c.reason = 'ContainerCreating';
          }
        }
        break;
      }
      for (const [i, spec] of g.spec.initContainers.entries()) {
        const c = g.initContainers[i]!;
        const plan = planContainerRun(spec, s.defaultRunSeconds);
        clearRun(c);
        c.startTime = at;
        if (plan.kind === 'exits' && plan.exitCode !== 0) {
          terminate(c, at, 'Error', plan.exitCode);
          recordEvent(g, CONTAINER_EVENTS.initFailed, at, s.maxEventsPerGroup, {
            container: c.name,
            code: String(plan.exitCode),
          });
          for (const m of g.containers) {
            m.state = 'Waiting';
            m.reason = 'PodInitializing';
          }
          enterStatus(g, 'Failed', at, s, 'InitContainerFailed');
          return;
        }
        terminate(c, at, 'Completed', 0);
      }
      g.startedAt ??= at;
      delete g.initPending;
      for (const [i, spec] of g.spec.containers.entries()) {
        const c = g.containers[i]!;
        if (bump && c.previous !== undefined) c.restartCount++;
        startContainer(g, c, spec, at, s);
      }
      break;
    }
    case 'Restarting':
    case 'Updating':
    case 'Terminating':
      stopContainers(
        g,
        at,
        to === 'Terminating' ? 'Terminated' : 'Restarted',
        to === 'Terminating' ? 0 : 137,
        s,
      );
      if (to !== 'Terminating') g.bumpRestartCount = true;
      break;
    case 'Succeeded':
      g.succeededAt = at;
      stopContainers(g, at, 'Completed', 0, s);
      break;
    case 'Failed':
      g.failedAt = at;
      stopContainers(g, at, reason ?? 'Error', 137, s);
      break;
    case 'Expired':
      g.expiredAt = at;
      stopContainers(g, at, 'Expired', 137, s);
      break;
    case 'ScheduleFailed':
      g.failedAt = at;
      for (const c of g.containers) {
        c.state = 'Waiting';
        c.reason = 'ScheduleFailed';
        c.ready = false;
      }
      break;
    case 'Scheduling':
      break;
  }
}

type Due =
  | { at: number; kind: 'stage'; stage: Stage }
  | { at: number; kind: 'deadline' }
  | { at: number; kind: 'exit'; c: ContainerRuntime }
  | { at: number; kind: 'restart'; c: ContainerRuntime; spec: ContainerSpec }
  | { at: number; kind: 'ready'; c: ContainerRuntime };

function isCached(g: GroupRecord, image: string): boolean {
  return g.cachedImages?.includes(normalizeImage(image)) === true;
}

/** How long the images take to pull as the group starts: each distinct image no cache holds. */
export function pullMs(g: GroupRecord, s: LifecycleSettings): number {
  if (s.imagePullMs === 0) return 0;
  const images = new Set([...g.spec.initContainers, ...g.spec.containers].map((c) => c.image));
  let n = 0;
  for (const i of images) if (!isCached(g, i)) n++;
  return n * s.imagePullMs;
}

function nextDue(g: GroupRecord, s: LifecycleSettings): Due | undefined {
  const candidates: Due[] = [];
  const stage = stageFor(s.stages, g.status);
  if (stage !== undefined && (s.observed !== true || stage.from === 'Scheduling')) {
    const pull = g.status === 'Pending' ? pullMs(g, s) : 0;
    candidates.push({ at: g.statusSince + stage.delayMs + pull, kind: 'stage', stage });
  }
  if (g.status === 'Running') {
    if (g.spec.activeDeadlineSeconds !== undefined && g.startedAt !== undefined) {
      candidates.push({ at: g.startedAt + g.spec.activeDeadlineSeconds * 1000, kind: 'deadline' });
    }
    for (const [i, c] of g.containers.entries()) {
      const spec = g.spec.containers[i];
      if (spec === undefined) continue;
      if (c.state === 'Running' && c.exitAt !== undefined) candidates.push({ at: c.exitAt, kind: 'exit', c });
      if (c.state === 'Running' && !c.ready && c.readyAt !== undefined && c.readyOverride === undefined) {
        candidates.push({ at: c.readyAt, kind: 'ready', c });
      }
      if (c.state !== 'Running' && c.restartAt !== undefined)
        candidates.push({ at: c.restartAt, kind: 'restart', c, spec });
    }
  }
  let best: Due | undefined;
  for (const d of candidates) if (best === undefined || d.at < best.at) best = d;
  return best;
}

function settleGroup(g: GroupRecord, at: number, s: LifecycleSettings): void {
  if (g.status !== 'Running') return;
  const done = g.containers.every((c) => c.state === 'Terminated' && c.restartAt === undefined);
  if (!done) return;
  const ok = g.containers.every((c) => c.exitCode === 0);
  enterStatus(g, ok ? 'Succeeded' : 'Failed', at, s);
}

function apply(g: GroupRecord, d: Due, s: LifecycleSettings): boolean {
  switch (d.kind) {
    case 'stage':
      for (const t of d.stage.events) recordEvent(g, t, d.at, s.maxEventsPerGroup);
      if (d.stage.to === 'Deleted') return true;
      enterStatus(g, d.stage.to, d.at, s);
      return false;
    case 'deadline':
      recordEvent(g, CONTAINER_EVENTS.deadline, d.at, s.maxEventsPerGroup);
      enterStatus(g, 'Failed', d.at, s, 'DeadlineExceeded');
      return false;
    case 'exit': {
      const c = d.c;
      const code = c.plannedExitCode ?? 0;
      const reason = c.exitReason ?? (code === 0 ? 'Completed' : 'Error');
      terminate(c, d.at, reason, code, c.exitMessage);
      const policy = g.spec.restartPolicy;
      if (policy === 'Always' || (policy === 'OnFailure' && code !== 0)) {
        c.restartAt = d.at + backoffMs(c.restartCount, s);
        if (code !== 0)
          recordEvent(g, CONTAINER_EVENTS.backOff, d.at, s.maxEventsPerGroup, { container: c.name });
      }
      g.changedAt = d.at;
      settleGroup(g, d.at, s);
      return false;
    }
    case 'restart':
      d.c.restartCount++;
      if (s.observed === true) {
        // The back-off is over: the runtime starts the container and reports it (observeStarted).
        if (d.c.state === 'Terminated' && d.c.startTime !== undefined) d.c.previous = snapshot(d.c);
        clearRun(d.c);
        d.c.state = 'Waiting';
        d.c.reason = 'ContainerCreating';
        d.c.ready = false;
      } else {
        startContainer(g, d.c, d.spec, d.at, s);
      }
      g.changedAt = d.at;
      return false;
    case 'ready':
      d.c.ready = true;
      delete d.c.readyAt;
      g.changedAt = d.at;
      return false;
  }
}

/** Moves `g` (in place) forward to `now`. */
export function advance(g: GroupRecord, now: number, s: LifecycleSettings): AdvanceResult {
  let changed = false;
  // Bounded: a record with a zero-delay loop in its stages must not hang the server.
  for (let i = 0; i < 1000; i++) {
    const d = nextDue(g, s);
    if (d === undefined) return { changed, deleted: false, nextAt: undefined };
    if (d.at > now) return { changed, deleted: false, nextAt: d.at };
    changed = true;
    if (apply(g, d, s)) return { changed, deleted: true, nextAt: undefined };
  }
  return { changed, deleted: false, nextAt: now + 1000 };
}

/** On demand: the named container exits now with `exitCode` (the restart policy then applies). */
export function driveExit(
  g: GroupRecord,
  container: string,
  exitCode: number,
  now: number,
  opts: { reason?: string; message?: string } = {},
): 'ok' | 'no-such-container' | 'not-running' {
  const c = g.containers.find((x) => x.name === container);
  if (c === undefined) return 'no-such-container';
  if (g.status !== 'Running' || c.state !== 'Running') return 'not-running';
  c.exitAt = now;
  c.plannedExitCode = exitCode;
  if (opts.reason !== undefined) c.exitReason = opts.reason;
  if (opts.message !== undefined) c.exitMessage = opts.message;
  return 'ok';
}

/**
 * On demand: the container stops and waits with `reason`, and is not restarted (a state ECI leaves
 * to RestartContainerGroup).
 */
export function driveStuck(
  g: GroupRecord,
  container: string,
  reason: string,
  message: string | undefined,
  now: number,
  s: LifecycleSettings,
): 'ok' | 'no-such-container' | 'not-running' {
  const c = g.containers.find((x) => x.name === container);
  if (c === undefined) return 'no-such-container';
  if (g.status !== 'Running') return 'not-running';
  if (c.state === 'Running') {
    recordEvent(g, CONTAINER_EVENTS.killing, now, s.maxEventsPerGroup, { container: c.name });
    c.previous = snapshot(c);
  }
  clearRun(c);
  c.state = 'Waiting';
  c.reason = reason;
  c.stuck = true;
  if (message !== undefined) c.message = message;
  c.ready = false;
  recordEvent(
    g,
    { type: 'Warning', reason: 'Failed', message: `Error: ${reason}${message ? `: ${message}` : ''}` },
    now,
    s.maxEventsPerGroup,
    { container: c.name },
  );
  g.changedAt = now;
  return 'ok';
}

/** On demand: the container's readiness is forced (true/false) or given back to the emulator (null). */
export function driveReady(
  g: GroupRecord,
  container: string,
  ready: boolean | null,
  now: number,
): 'ok' | 'no-such-container' {
  const c = g.containers.find((x) => x.name === container);
  if (c === undefined) return 'no-such-container';
  if (ready === null) delete c.readyOverride;
  else c.readyOverride = ready;
  c.ready = derivedReady(c, now);
  g.changedAt = now;
  return 'ok';
}

// ---------------------------------------------------------------- observed runs (the process runtime)

function findRun(
  g: GroupRecord,
  name: string,
): { c: ContainerRuntime; spec: ContainerSpec; init: boolean } | undefined {
  const i = g.spec.containers.findIndex((x) => x.name === name);
  if (i >= 0 && g.containers[i] !== undefined)
    return { c: g.containers[i]!, spec: g.spec.containers[i]!, init: false };
  const j = g.spec.initContainers.findIndex((x) => x.name === name);
  if (j >= 0 && g.initContainers[j] !== undefined)
    return { c: g.initContainers[j]!, spec: g.spec.initContainers[j]!, init: true };
  return undefined;
}

/** The container's process started at `at`. An init container that ran before counts a restart. */
export function observeStarted(g: GroupRecord, name: string, at: number, s: LifecycleSettings): void {
  const f = findRun(g, name);
  if (f === undefined) return;
  const { c, spec, init } = f;
  if (c.state === 'Terminated' && c.startTime !== undefined) {
    c.previous = snapshot(c);
    if (init) c.restartCount++;
  }
  clearRun(c);
  c.state = 'Running';
  c.startTime = at;
  // Without a readiness probe a running container is ready; with one, the prober says when.
  c.ready = init ? false : (c.readyOverride ?? spec.readinessProbe === undefined);
  const extra = { container: c.name, image: spec.image };
  recordEvent(g, CONTAINER_EVENTS.created, at, s.maxEventsPerGroup, extra);
  recordEvent(g, CONTAINER_EVENTS.started, at, s.maxEventsPerGroup, extra);
  g.changedAt = at;
}

export interface ObservedExit {
  exitCode: number;
  at: number;
  /** Completed / Error when absent; OOMKilled when the kernel killed it for memory. */
  reason?: string;
  message?: string;
  signal?: number;
}

/**
 * The container's process ended. App containers: the restart policy applies (with back-off), and the
 * group settles when nothing will run again. Init containers: a failure under `Never` fails the
 * group; otherwise the runtime runs it again after a back-off.
 */
export function observeExited(g: GroupRecord, name: string, e: ObservedExit, s: LifecycleSettings): void {
  const f = findRun(g, name);
  if (f === undefined || f.c.state !== 'Running') return;
  const { c, init } = f;
  const reason = e.reason ?? (e.exitCode === 0 ? 'Completed' : 'Error');
  terminate(c, e.at, reason, e.exitCode, e.message);
  if (e.signal !== undefined) c.signal = e.signal;
  if (reason === 'OOMKilled')
    recordEvent(g, CONTAINER_EVENTS.oomKilled, e.at, s.maxEventsPerGroup, { container: name });
  g.changedAt = e.at;
  if (init) {
    if (e.exitCode !== 0 && g.spec.restartPolicy === 'Never') {
      recordEvent(g, CONTAINER_EVENTS.initFailed, e.at, s.maxEventsPerGroup, {
        container: name,
        code: String(e.exitCode),
      });
      for (const m of g.containers) {
        m.state = 'Waiting';
        m.reason = 'PodInitializing';
      }
      enterStatus(g, 'Failed', e.at, s, 'InitContainerFailed');
    }
    return;
  }
  const policy = g.spec.restartPolicy;
  if (policy === 'Always' || (policy === 'OnFailure' && e.exitCode !== 0)) {
    c.restartAt = e.at + backoffMs(c.restartCount, s);
    if (e.exitCode !== 0)
      recordEvent(g, CONTAINER_EVENTS.backOff, e.at, s.maxEventsPerGroup, { container: name });
  }
  settleGroup(g, e.at, s);
}

/** The back-off before the runtime runs a failed init container again. */
export function initBackoffMs(g: GroupRecord, name: string, s: LifecycleSettings): number {
  return backoffMs(findRun(g, name)?.c.restartCount ?? 0, s);
}

/** Readiness as the readiness probe sees it (an admin override wins). */
export function observeReady(g: GroupRecord, name: string, ready: boolean, at: number): void {
  const f = findRun(g, name);
  if (f === undefined || f.c.state !== 'Running') return;
  const next = f.c.readyOverride ?? ready;
  if (f.c.ready === next) return;
  f.c.ready = next;
  g.changedAt = at;
}

/** The container cannot start yet (ErrImagePull, ImagePullBackOff ...). */
export function observeWaiting(
  g: GroupRecord,
  name: string,
  reason: string,
  message: string,
  at: number,
): void {
  const f = findRun(g, name);
  if (f === undefined || f.c.state === 'Running') return;
  if (f.c.state === 'Waiting' && f.c.reason === reason && f.c.message === message) return;
  f.c.state = 'Waiting';
  f.c.reason = reason;
  f.c.message = message;
  g.changedAt = at;
}

/**
 * The record says the container runs, but its process is gone: the emulator itself restarted. It is
 * started again with its restart count up by one, and an event says why.
 */
export function observeLost(g: GroupRecord, name: string, at: number, s: LifecycleSettings): void {
  const f = findRun(g, name);
  if (f === undefined || f.c.state !== 'Running') return;
  const { c } = f;
  c.previous = {
    state: 'Terminated',
    reason: 'Unknown',
    exitCode: 255,
    ...(c.startTime === undefined ? {} : { startTime: c.startTime }),
    finishTime: at,
  };
  clearRun(c);
  if (!f.init) c.restartCount++;
  c.state = 'Waiting';
  c.reason = 'ContainerCreating';
  c.ready = false;
  recordEvent(g, CONTAINER_EVENTS.emulatorRestarted, at, s.maxEventsPerGroup, { container: name });
  g.changedAt = at;
}
