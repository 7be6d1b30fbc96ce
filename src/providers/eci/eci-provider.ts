import {
  DescribeContainerGroupsResponseBodyContainerGroups as Group,
  UpdateContainerGroupRequest,
  UpdateContainerGroupRequestTag as UpdateTag,
  type CreateContainerGroupRequest,
  type DescribeContainerGroupsResponseBodyContainerGroupsTags as GroupTag,
} from '@alicloud/eci20180808';
import type { V1Pod } from '@kubernetes/client-node';
import type { Clock } from '../../util/clock.ts';
import { describeError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { InstanceSweeper, PodInputs, PodProvider, ProviderEvent, SyncOutcome } from '../provider.ts';
import type { EciClient } from './eci-client.ts';
import { EciApiError } from './eci-errors.ts';
import { GroupIndex, type IndexedGroup } from './group-index.ts';
import {
  groupEventsToK8sEvents,
  groupToPodStatus,
  parseContainerId,
  parseEciAnnotations,
  podToCreateRequest,
  podUpdateToRequest,
  TAG_KEYS,
  tagValue,
} from './mapping/index.ts';
import { shortHash } from './mapping/names.ts';
import { hasRestartPending, RESTART_PENDING_TAG, restartDecision, stuckContainer } from './restarts.ts';
import { StatusFeed } from './status-feed.ts';
import { sweepGroups } from './sweep.ts';

export interface EciProviderOptions {
  eci: EciClient;
  clusterId: string;
  nodeName: string;
  /** The node's InternalIP, reported as every pod's hostIP. */
  hostIP: string;
  clock: Clock;
  log: Logger;
  statusIntervalMs?: number;
  resyncMs?: number;
  /** A container stuck in a state ECI does not retry is restarted after this long (default 30 s). */
  stuckGraceMs?: number;
  /** At most one restart of a group for a stuck container per this long (default 5 min). */
  restartIntervalMs?: number;
  /**
   * After a create, how long the pod waits for the status feed's news before its status says Pending
   * (0, the default: at once). A group that starts within it costs one status write, not two.
   */
  pendingWriteDelayMs?: number;
}

const TERMINAL = new Set(['Succeeded', 'Failed']);

/**
 * Runs pods as ECI container groups. Identity is in the group's tags and its ClientToken (the pod
 * UID), so a retried or repeated create never makes a second group; the index of this node's groups
 * is loaded once and kept current by the status feed, so finding a pod's group costs no cloud call.
 */
export class EciProvider implements PodProvider, InstanceSweeper {
  readonly index: GroupIndex;
  readonly #o: EciProviderOptions;
  readonly #feed: StatusFeed;
  /** Group IDs that vanished from ECI while their pod lived, by pod UID. */
  readonly #lost = new Map<string, string>();
  /** ECI events already turned into Kubernetes Events: group ID → event key → count. */
  readonly #emitted = new Map<string, Map<string, number>>();
  /** Group ID → when a stuck container was first seen, and when the group was last restarted for one. */
  readonly #stuckSince = new Map<string, number>();
  readonly #restartedAt = new Map<string, number>();
  #notify: (podKey: string) => void = () => undefined;

  /** When the status feed last brought the group index up to date (ms epoch), for its lag metric. */
  get statusFeedLastSuccessAt(): number | undefined {
    return this.#feed.lastSuccessAt;
  }

  constructor(o: EciProviderOptions) {
    this.#o = o;
    this.index = new GroupIndex({ clusterId: o.clusterId, nodeName: o.nodeName });
    this.#feed = new StatusFeed({
      eci: o.eci,
      index: this.index,
      scopeTags: this.#scopeTags(),
      clock: o.clock,
      log: o.log,
      intervalMs: o.statusIntervalMs,
      resyncMs: o.resyncMs,
      onChange: (entry, gone) => {
        if (gone) {
          this.#lost.set(entry.identity.podUid, entry.id);
          this.#emitted.delete(entry.id);
        }
        this.#notify(`${entry.identity.namespace}/${entry.identity.podName}`);
      },
    });
  }

  /** The tags every group of this node carries: what ECI is asked to filter by. */
  #scopeTags(): Record<string, string> {
    return {
      [TAG_KEYS.CLUSTER_ID]: tagValue(this.#o.clusterId),
      [TAG_KEYS.NODE_NAME]: tagValue(this.#o.nodeName),
    };
  }

  async start(notify: (podKey: string) => void, signal: AbortSignal): Promise<void> {
    await this.#feed.resync(signal);
    this.#notify = notify;
    this.#o.log.info({ groups: this.index.size }, 'ECI container groups of this node loaded');
    void this.#feed.run(signal);
  }

  async syncPod(pod: V1Pod, inputs: PodInputs | undefined, signal: AbortSignal): Promise<SyncOutcome> {
    const uid = pod.metadata?.uid ?? '';
    const timedOut = await this.#pendingTimeout(pod, signal);
    if (timedOut) return timedOut;
    const groups = this.index.forUid(uid);
    if (groups.length === 0) return this.#noGroup(pod, inputs, signal);
    const [group, ...extra] = oldestFirst(groups);
    // More than one group for a pod can only come from a lost group replaced twice; keep the oldest.
    for (const g of extra) await this.#deleteGroup(g, signal);
    return this.#existing(pod, group!, signal);
  }

  async #noGroup(pod: V1Pod, inputs: PodInputs | undefined, signal: AbortSignal): Promise<SyncOutcome> {
    const uid = pod.metadata?.uid ?? '';
    if (TERMINAL.has(pod.status?.phase ?? '')) return { kind: 'terminal' };
    const lostId = this.#lost.get(uid) ?? groupIdFromStatus(pod);
    if (!lostId) return this.#create(pod, uid, inputs, [], signal);
    const message = `ECI container group ${lostId} no longer exists`;
    if ((pod.spec?.restartPolicy ?? 'Always') === 'Always') {
      const events: ProviderEvent[] = [
        {
          type: 'Warning',
          reason: 'ContainerGroupLost',
          message: `${message}; creating a new one (restartPolicy Always)`,
        },
      ];
      // A token derived from the lost group keeps the replacement idempotent across retries and restarts.
      return this.#create(pod, `${uid}-${shortHash(lostId)}`, inputs, events, signal);
    }
    this.#lost.delete(uid);
    const now = new Date(this.#o.clock.now());
    return {
      kind: 'status',
      status: {
        ...pod.status,
        phase: 'Failed',
        reason: 'ContainerGroupLost',
        message: `${message}; restartPolicy ${pod.spec?.restartPolicy} does not recreate it`,
        conditions: (pod.status?.conditions ?? []).map((c) =>
          c.type === 'Ready' || c.type === 'ContainersReady'
            ? { ...c, status: 'False', reason: 'PodFailed', lastTransitionTime: now }
            : c,
        ),
      },
      events: [{ type: 'Warning', reason: 'ContainerGroupLost', message }],
    };
  }

  async #create(
    pod: V1Pod,
    clientToken: string,
    inputs: PodInputs | undefined,
    events: ProviderEvent[],
    signal: AbortSignal,
  ): Promise<SyncOutcome> {
    // Waiting for the create quota inside a worker would stall every other pod's status behind it.
    const wait = this.#o.eci.quotaWaitMs('CreateContainerGroup');
    if (wait > 0) return { kind: 'later', afterMs: wait, events };
    if (!inputs) return { kind: 'needs-inputs' };
    const r = podToCreateRequest(pod, {
      ...inputs.placement,
      regionId: this.#o.eci.regionId,
      clusterId: this.#o.clusterId,
      nodeName: this.#o.nodeName,
      hostIP: this.#o.hostIP,
      refs: inputs.refs,
    });
    if (!r.ok) {
      if ('refusal' in r) {
        return {
          kind: 'refused',
          reason: r.refusal.reason,
          message: `${r.refusal.field}: ${r.refusal.message}`,
          events,
        };
      }
      const what = r.missing
        .map((m) => `${m.kind} ${m.name}${m.key ? ` (key ${m.key})` : ''} at ${m.field}`)
        .join('; ');
      return pendingRetry('CreateContainerConfigError', `waiting for ${what}`, events);
    }
    const request = r.request;
    request.clientToken = clientToken;
    const failFast = r.options.failStrategy === 'fail-fast';
    const retry = (reason: string, message: string) =>
      failFast ? failedToCreate(pod, reason, message, events) : pendingRetry(reason, message, events);
    if (r.options.imageCacheMatch && !request.imageSnapshotId) {
      try {
        await this.#matchImageCache(request, r.options.imageCacheMatch, events, signal);
      } catch (err) {
        if (!(err instanceof EciApiError)) throw err;
        return retry('ProviderCreateFailed', `DescribeImageCaches: ${cloudMessage(err)}`);
      }
    }
    let id: string | undefined;
    const vSwitches = zoneOrder(request, pod.metadata?.uid ?? '');
    const outOfStock: string[] = [];
    for (const vSwitch of vSwitches) {
      // One zone per attempt, so a stock-out is seen, reported and moved past by us, in the order the
      // user chose; the ClientToken stays, so a retried attempt never makes a second group.
      request.vSwitchId = vSwitch || undefined;
      request.scheduleStrategy = undefined;
      try {
        id = await this.#o.eci.createContainerGroup(request, signal);
        if (outOfStock.length > 0) {
          events.push({
            type: 'Normal',
            reason: 'ZoneFailover',
            message: `created in vSwitch ${vSwitch} because ${outOfStock.join(', ')} had no stock`,
          });
        }
        break;
      } catch (err) {
        if (!(err instanceof EciApiError)) throw err;
        if (err.kind === 'stock') {
          outOfStock.push(vSwitch);
          events.push({
            type: 'Warning',
            reason: 'ZoneOutOfStock',
            message: `vSwitch ${vSwitch}: ${cloudMessage(err)}`,
          });
          continue;
        }
        if (err.kind === 'invalid') {
          // ECI says the request itself is wrong (too large, a parameter it rejects): the same pod would
          // get the same answer forever, so the pod is refused with the cloud's words, not retried.
          return {
            kind: 'refused',
            reason: 'ContainerGroupRejected',
            message: `spec: ECI rejected the container group for this pod: ${cloudMessage(err)}`,
            events,
          };
        }
        return retry('ProviderCreateFailed', cloudMessage(err));
      }
    }
    if (id === undefined) {
      const zones = `no ECI stock in any configured zone (vSwitches ${vSwitches.join(', ')})`;
      return retry('ZoneStockOut', failFast ? zones : `${zones}; retrying with backoff`);
    }
    this.#lost.delete(pod.metadata?.uid ?? '');
    // The status feed may have applied the group already (the create answer can arrive after the
    // group started): a placeholder must not overwrite what the feed saw, as the feed does not
    // apply a status twice.
    const seen = this.index.get(id);
    const entry = seen ?? this.index.upsert(pendingGroup(id, request, this.#o.clock.now()));
    events.push({
      type: 'Normal',
      reason: 'ContainerGroupCreated',
      message: `created ECI container group ${id}`,
    });
    for (const w of r.warnings) events.push({ type: 'Warning', reason: 'SpecAdjustedForECI', message: w });
    // A group usually starts within a poll of the status feed: rather than patch the pod Pending now
    // and Running a moment later (two status writes per pod), the pod waits for the feed's news, and
    // says Pending only if its group has not started by then.
    if (!seen && (this.#o.pendingWriteDelayMs ?? 0) > 0) {
      return { kind: 'later', afterMs: this.#o.pendingWriteDelayMs!, events };
    }
    const status = groupToPodStatus(
      pod,
      entry?.group ?? pendingGroup(id, request, this.#o.clock.now()),
      new Date(this.#o.clock.now()),
      {
        hostIP: this.#o.hostIP,
      },
    );
    const limit = pendingDeadline(pod);
    const requeueAfterMs = limit === undefined ? undefined : Math.max(0, limit - this.#o.clock.now());
    return { kind: 'status', status, events, ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }) };
  }

  async #existing(pod: V1Pod, entry: IndexedGroup, signal: AbortSignal): Promise<SyncOutcome> {
    const now = this.#o.clock.now();
    const events = this.#newEvents(entry);
    const deadline = deadlineAt(pod);
    if (deadline !== undefined && now >= deadline && !TERMINAL.has(pod.status?.phase ?? '')) {
      await this.#deleteGroup(entry, signal);
      events.push({
        type: 'Warning',
        reason: 'DeadlineExceeded',
        message: 'Pod was active on the node longer than the specified deadline',
      });
      return {
        kind: 'status',
        status: {
          ...pod.status,
          phase: 'Failed',
          reason: 'DeadlineExceeded',
          message: 'Pod was active on the node longer than the specified deadline',
        },
        events,
      };
    }
    const update = podUpdateToRequest(pod, pod, {
      containerGroupId: entry.id,
      regionId: this.#o.eci.regionId,
      containers: entry.group.containers,
      initContainers: entry.group.initContainers,
    });
    const initOnly =
      update !== null &&
      (update.initContainer?.length ?? 0) > 0 &&
      (update.container ?? []).every(
        (c) => (entry.group.containers ?? []).find((g) => g.name === c.name)?.image === c.image,
      );
    if (update && initOnly && entry.group.status === 'Running') {
      // ECI keeps new init containers for the group's next start: mark it in the same call, so the
      // restart below happens even if this controller stops before it.
      update.tag = [
        ...(entry.group.tags ?? [])
          .filter((t) => t.key !== RESTART_PENDING_TAG)
          .map((t) => ({ key: t.key ?? '', value: t.value ?? '' })),
        { key: RESTART_PENDING_TAG, value: shortHash(update.clientToken ?? '') },
      ].map((t) => new UpdateTag(t));
    }
    if (update && !TERMINAL.has(entry.group.status ?? '')) {
      try {
        await this.#o.eci.updateContainerGroup(update, signal);
        if (update.tag)
          entry.group.tags = update.tag.map((t) => ({ key: t.key, value: t.value }) as GroupTag);
        // Record what was asked so the next look does not send it again before ECI reports it.
        const images = new Map((update.container ?? []).map((c) => [c.name, c.image]));
        for (const c of entry.group.containers ?? []) if (images.get(c.name)) c.image = images.get(c.name);
        events.push({
          type: 'Normal',
          reason: 'ContainerGroupUpdated',
          message: `updated container images of ${entry.id}`,
        });
      } catch (err) {
        events.push({ type: 'Warning', reason: 'ProviderUpdateFailed', message: describeError(err) });
      }
    }
    const lookAgainAt = await this.#restartIfNeeded(pod, entry, events, signal);
    const status = groupToPodStatus(pod, entry.group, new Date(now), { hostIP: this.#o.hostIP });
    const dues = [
      deadline !== undefined && !TERMINAL.has(status.phase ?? '') ? deadline + 100 : undefined,
      lookAgainAt,
      pendingDeadline(pod),
    ].filter((x): x is number => x !== undefined && !TERMINAL.has(status.phase ?? ''));
    const requeueAfterMs = dues.length > 0 ? Math.max(0, Math.min(...dues) - now) : undefined;
    return { kind: 'status', status, requeueAfterMs, events };
  }

  /**
   * Restarts the group when that is the remedy (restarts.ts says when); returns when to look again
   * if a stuck container's grace period is running.
   */
  async #restartIfNeeded(
    pod: V1Pod,
    entry: IndexedGroup,
    events: ProviderEvent[],
    signal: AbortSignal,
  ): Promise<number | undefined> {
    const now = this.#o.clock.now();
    const stuck = stuckContainer(entry.group);
    if (!stuck) this.#stuckSince.delete(entry.id);
    else if (!this.#stuckSince.has(entry.id)) this.#stuckSince.set(entry.id, now);
    const d = restartDecision({
      group: entry.group,
      restartPolicy: pod.spec?.restartPolicy ?? 'Always',
      now,
      stuckSince: this.#stuckSince.get(entry.id),
      lastRestartAt: this.#restartedAt.get(entry.id),
      graceMs: this.#o.stuckGraceMs ?? 30_000,
      minIntervalMs: this.#o.restartIntervalMs ?? 300_000,
    });
    if (d.kind === 'wait') return d.at;
    if (d.kind === 'none') return undefined;
    try {
      await this.#o.eci.restartContainerGroup(entry.id, signal);
    } catch (err) {
      events.push({ type: 'Warning', reason: 'ProviderRestartFailed', message: describeError(err) });
      return now + 5000;
    }
    this.#restartedAt.set(entry.id, now);
    this.#stuckSince.delete(entry.id);
    entry.group.status = 'Restarting';
    events.push({
      type: 'Normal',
      reason: 'ContainerGroupRestarted',
      message: `restarted ECI container group ${entry.id} (RestartContainerGroup): ${d.why}`,
    });
    if (hasRestartPending(entry.group)) {
      const tags = (entry.group.tags ?? []).filter((t) => t.key !== RESTART_PENDING_TAG);
      try {
        await this.#o.eci.updateContainerGroup(
          new UpdateContainerGroupRequest({
            containerGroupId: entry.id,
            updateType: 'IncrementalUpdate',
            tag: tags.map((t) => new UpdateTag({ key: t.key ?? '', value: t.value ?? '' })),
          }),
          signal,
        );
        entry.group.tags = tags;
      } catch (err) {
        // The tag stays: the next look restarts again, which the pod survives; say why.
        events.push({ type: 'Warning', reason: 'ProviderUpdateFailed', message: describeError(err) });
      }
    }
    return undefined;
  }

  /** With eci-max-pending-minute, a pod still Pending past it loses its group and fails. */
  async #pendingTimeout(pod: V1Pod, signal: AbortSignal): Promise<SyncOutcome | undefined> {
    const at = pendingDeadline(pod);
    if (at === undefined || this.#o.clock.now() < at) return undefined;
    for (const g of this.index.forUid(pod.metadata?.uid ?? '')) await this.#deleteGroup(g, signal);
    const minutes = parseEciAnnotations(pod.metadata?.annotations);
    const message = `the pod was still Pending after ${minutes.ok ? minutes.options.maxPendingMinutes : '?'} minutes (k8s.aliyun.com/eci-max-pending-minute)`;
    return {
      kind: 'status',
      status: { ...pod.status, phase: 'Failed', reason: 'PendingTimeout', message },
      events: [{ type: 'Warning', reason: 'PendingTimeout', message }],
    };
  }

  /** Finds a Ready cache holding all (or enough) of the request's images for imc-perfect-match / imc-match-count-request. */
  async #matchImageCache(
    request: CreateContainerGroupRequest,
    match: { full: true } | { count: number },
    events: ProviderEvent[],
    signal: AbortSignal,
  ): Promise<void> {
    const images = [
      ...new Set([...(request.initContainer ?? []), ...(request.container ?? [])].map((c) => c.image ?? '')),
    ].filter(Boolean);
    const found = await this.#o.eci.describeImageCaches(
      'full' in match
        ? { matchImage: images, imageFullMatch: true }
        : { matchImage: images, imageMatchCountRequest: match.count },
      signal,
    );
    const ready = found.find((c) => c.status === 'Ready' && c.imageCacheId);
    // Matched here, so ECI must not fall back to a partial match of its own.
    request.autoMatchImageCache = undefined;
    const what = 'full' in match ? `all ${images.length} images` : `at least ${match.count} of the images`;
    if (ready) {
      request.imageSnapshotId = ready.imageCacheId;
      events.push({
        type: 'Normal',
        reason: 'ImageCacheMatched',
        message: `image cache ${ready.imageCacheId} holds ${what}`,
      });
    } else {
      events.push({
        type: 'Normal',
        reason: 'ImageCacheNotMatched',
        message: `no Ready image cache holds ${what}; the images are pulled`,
      });
    }
  }

  /** ECI events of the group not yet reported (new, or aggregated with a higher count). */
  #newEvents(entry: IndexedGroup): ProviderEvent[] {
    let seen = this.#emitted.get(entry.id);
    if (!seen) this.#emitted.set(entry.id, (seen = new Map()));
    const out: ProviderEvent[] = [];
    for (const e of groupEventsToK8sEvents(entry.group.events)) {
      if ((seen.get(e.key) ?? 0) >= e.count) continue;
      seen.set(e.key, e.count);
      out.push({ type: e.type, reason: e.reason, message: e.message });
    }
    return out;
  }

  async deletePod(pod: V1Pod, signal: AbortSignal): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    for (const g of this.index.forUid(uid)) await this.#deleteGroup(g, signal);
    this.#lost.delete(uid);
  }

  async deleteStale(podKey: string, liveUid: string | undefined, signal: AbortSignal): Promise<void> {
    for (const g of this.index.forKey(podKey)) {
      if (g.identity.podUid !== liveUid) await this.#deleteGroup(g, signal);
    }
  }

  async collectOrphans(liveUids: ReadonlySet<string>, signal: AbortSignal): Promise<void> {
    for (const g of [...this.index.all()]) {
      if (!liveUids.has(g.identity.podUid)) {
        this.#o.log.info(
          { group: g.id, pod: `${g.identity.namespace}/${g.identity.podName}` },
          'deleting orphan group',
        );
        await this.#deleteGroup(g, signal);
      }
    }
  }

  async deleteAllInstances(o: Parameters<InstanceSweeper['deleteAllInstances']>[0]): Promise<number> {
    return sweepGroups({
      eci: this.#o.eci,
      tags: this.#scopeTags(),
      dryRun: o.dryRun ?? false,
      clock: o.clock ?? this.#o.clock,
      say: o.say ?? (() => undefined),
      signal: o.signal,
      concurrency: o.concurrency,
      deletesPerMinute: this.#o.eci.quotaPerMinute('DeleteContainerGroup'),
      timeoutMs: o.timeoutMs,
      onDeleted: (id) => this.index.remove(id),
    });
  }

  async #deleteGroup(g: IndexedGroup, signal: AbortSignal): Promise<void> {
    await this.#o.eci.deleteContainerGroup(g.id, signal);
    this.index.remove(g.id);
    this.#feed.forget(g.id);
    this.#emitted.delete(g.id);
    this.#stuckSince.delete(g.id);
    this.#restartedAt.delete(g.id);
  }
}

/** eci-fail-strategy fail-fast: a failed create fails the pod instead of being retried. */
function failedToCreate(pod: V1Pod, reason: string, message: string, events: ProviderEvent[]): SyncOutcome {
  const text = `${message} (k8s.aliyun.com/eci-fail-strategy: fail-fast)`;
  return {
    kind: 'status',
    status: { ...pod.status, phase: 'Failed', reason, message: text },
    events: [...events, { type: 'Warning', reason, message: text }],
  };
}

/** When a Pending pod times out under eci-max-pending-minute, or undefined. */
function pendingDeadline(pod: V1Pod): number | undefined {
  const phase = pod.status?.phase ?? 'Pending';
  if (phase !== 'Pending') return undefined;
  const created = pod.metadata?.creationTimestamp;
  if (!created) return undefined;
  const a = parseEciAnnotations(pod.metadata?.annotations);
  const minutes = a.ok ? a.options.maxPendingMinutes : undefined;
  return minutes === undefined ? undefined : new Date(created).getTime() + minutes * 60_000;
}

/** Not created yet, for a reason that may pass: the pod stays Pending with the reason shown. */
function pendingRetry(reason: string, message: string, events: ProviderEvent[]): SyncOutcome {
  return { kind: 'retry', reason, message, status: { phase: 'Pending', reason, message }, events };
}

/** The cloud's code and message, without our prefix. */
function cloudMessage(err: EciApiError): string {
  // Without the RequestId (it is in the log): a pod status that changed with every answer would make
  // each status write trigger another reconcile, and another cloud call.
  return `${err.cloudCode}: ${err.message.replace(/^ECI \w+ failed: [^:]+: /, '').replace(/ \(RequestId [^)]*\)$/, '')}`;
}

/**
 * The vSwitches to try, in order: as listed for VSwitchOrdered (the default), shuffled by the pod UID
 * for VSwitchRandom — stable for one pod, so its retries walk the same order, and spread across pods.
 */
export function zoneOrder(req: CreateContainerGroupRequest, uid: string): string[] {
  const list = (req.vSwitchId ?? '').split(',').filter(Boolean);
  if (req.scheduleStrategy !== 'VSwitchRandom' || list.length < 2) return list.length ? list : [''];
  return list
    .map((v) => ({ v, k: shortHash(`${uid}/${v}`) }))
    .sort((a, b) => a.k.localeCompare(b.k))
    .map((x) => x.v);
}

/** What is known of a group the moment create returns: enough to index it and say "creating". */
function pendingGroup(id: string, req: CreateContainerGroupRequest, now: number): Group {
  return new Group({
    containerGroupId: id,
    containerGroupName: req.containerGroupName,
    status: 'Pending',
    creationTime: new Date(now).toISOString(),
    tags: (req.tag ?? []).map((t) => ({ key: t.key, value: t.value })),
    containers: (req.container ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      ready: false,
      restartCount: 0,
    })),
    initContainers: (req.initContainer ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      ready: false,
      restartCount: 0,
    })),
  });
}

function oldestFirst(groups: IndexedGroup[]): IndexedGroup[] {
  return [...groups].sort((a, b) =>
    String(a.group.creationTime ?? '').localeCompare(String(b.group.creationTime ?? '')),
  );
}

/** The group a pod's status says it ran in, if any (its containerIDs are eci://<group>/<name>). */
function groupIdFromStatus(pod: V1Pod): string | undefined {
  for (const s of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
    const id = s.containerID ? parseContainerId(s.containerID) : null;
    if (id) return id.containerGroupId;
  }
  return undefined;
}

function deadlineAt(pod: V1Pod): number | undefined {
  const secs = pod.spec?.activeDeadlineSeconds;
  const start = pod.status?.startTime;
  if (!secs || !start) return undefined;
  return new Date(start).getTime() + secs * 1000;
}
