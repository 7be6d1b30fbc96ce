import EciSdk, * as $Eci from '@alicloud/eci20180808';
import * as $OpenApi from '@alicloud/openapi-client';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import * as $Util from '@alicloud/tea-util';
import { Backoff, fullJitter } from '../../util/backoff.ts';
import type { Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import { TokenBucket } from '../../util/token-bucket.ts';
import type CredentialsModule from '@alicloud/credentials';
import { EciApiError, toEciApiError } from './eci-errors.ts';
import { DEFAULT_QUOTAS_PER_MINUTE, type EciAction } from '../../eci-api/quotas.ts';
import { rpcParams } from '../../eci-api/rpc.ts';

const SdkClient = EciSdk.default;
type Sdk = InstanceType<typeof SdkClient>;

/** A credential of @alicloud/credentials: an AccessKey, or STS credentials it renews itself. */
export type SdkCredential = InstanceType<typeof CredentialsModule.default>;

export interface EciCredentials {
  accessKeyId: string;
  accessKeySecret: string;
}

export interface EciClientOptions {
  /** An AccessKey; or, with `credential`, the SDK credential of the default chain (STS, RRSA, RAM role). */
  credentials?: EciCredentials;
  credential?: SdkCredential;
  regionId: string;
  /** Host[:port] of the OpenAPI; default the region's public endpoint. The emulator sets its own. */
  endpoint?: string;
  protocol?: 'http' | 'https';
  quotasPerMinute?: Partial<Record<EciAction, number>>;
  /** Scales every quota, for accounts whose quotas were raised (1 = the documented defaults). */
  quotaMultiplier?: number;
  /** Per-call timeout. */
  timeoutMs?: number;
  /** Attempts for a retryable failure (throttling, 5xx, network) before giving up. */
  maxAttempts?: number;
  clock: Clock;
  log: Logger;
  /** [0, 1), for the retry jitter; injected by tests. */
  random?: () => number;
}

/**
 * The only door to ECI: the official SDK plus what a controller needs around it — a token bucket per
 * action sized to its quota, a timeout on every call, retry with full-jitter backoff for throttling and server
 * errors (safe: creates carry a ClientToken), and cloud errors turned into `EciApiError` at this edge.
 * Counts calls per action so benchmarks can report ECI calls per pod.
 */
export class EciClient {
  readonly regionId: string;
  readonly calls = new Map<string, number>();
  /** Told of every attempt: action, `OK` or the cloud's error code, seconds. Set by the metrics. */
  observe: ((action: string, code: string, seconds: number) => void) | undefined;
  #sdk: Sdk;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #o: EciClientOptions;

  constructor(o: EciClientOptions) {
    this.#o = o;
    this.regionId = o.regionId;
    this.#sdk = this.#makeSdk(o.credentials);
    const quotas = { ...DEFAULT_QUOTAS_PER_MINUTE, ...o.quotasPerMinute };
    for (const [action, base] of Object.entries(quotas)) {
      const perMinute = base * (o.quotaMultiplier ?? 1);
      // A sixth of the minute's quota may go at once; the rest is paced.
      this.#buckets.set(
        action,
        new TokenBucket({
          rate: perMinute / 60,
          burst: Math.max(1, Math.floor(perMinute / 6)),
          clock: o.clock,
        }),
      );
    }
  }

  #makeSdk(c: EciCredentials | undefined): Sdk {
    return new SdkClient(
      new $OpenApi.Config({
        ...(c
          ? { accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret }
          : { credential: this.#o.credential }),
        regionId: this.#o.regionId,
        endpoint: this.#o.endpoint ?? `eci.${this.#o.regionId}.aliyuncs.com`,
        protocol: this.#o.protocol ?? 'https',
      }),
    );
  }

  /**
   * How long a call of `action` would wait for its quota now. Callers that can do other work meanwhile
   * (the pod controller's workers) come back later instead of holding a worker in the queue.
   */
  quotaWaitMs(action: EciAction): number {
    return this.#buckets.get(action)?.msUntilAvailable() ?? 0;
  }

  /** The per-minute quota the client paces `action` to (the documented default times the multiplier). */
  quotaPerMinute(action: EciAction): number {
    return (
      (this.#o.quotasPerMinute?.[action] ?? DEFAULT_QUOTAS_PER_MINUTE[action]) *
      (this.#o.quotaMultiplier ?? 1)
    );
  }

  /** Switches to new credentials (rotated secret); calls in flight finish with the old ones. */
  setCredentials(c: EciCredentials): void {
    this.#sdk = this.#makeSdk(c);
  }

  async #call<T>(
    action: EciAction,
    signal: AbortSignal | undefined,
    fn: (runtime: $Util.RuntimeOptions) => Promise<T>,
  ): Promise<T> {
    const backoff = new Backoff({ baseMs: 500, maxMs: 15_000 });
    const attempts = this.#o.maxAttempts ?? 5;
    const timeout = this.#o.timeoutMs ?? 15_000;
    for (let attempt = 1; ; attempt++) {
      await this.#buckets.get(action)?.take(signal);
      this.calls.set(action, (this.calls.get(action) ?? 0) + 1);
      const started = this.#o.clock.now();
      // A span only inside a pod's trace (the status feed's polls would be noise); none when tracing is off.
      const parent = trace.getSpan(context.active());
      const span = parent?.isRecording()
        ? trace.getTracer('eci-virtual-node').startSpan(`eci.${action}`, {
            kind: SpanKind.CLIENT,
            attributes: {
              'rpc.system': 'alibaba-cloud-openapi',
              'rpc.method': action,
              'eci.attempt': attempt,
            },
          })
        : undefined;
      try {
        const runtime = new $Util.RuntimeOptions({
          readTimeout: timeout,
          connectTimeout: Math.min(timeout, 5000),
          autoretry: false,
        });
        const result = await fn(runtime);
        span?.end();
        this.observe?.(action, 'OK', (this.#o.clock.now() - started) / 1000);
        this.#o.log.debug({ action, ms: this.#o.clock.now() - started }, 'eci call');
        return result;
      } catch (raw) {
        const err = toEciApiError(action, raw);
        span?.setAttribute('eci.error_code', err.cloudCode);
        span?.setStatus({ code: SpanStatusCode.ERROR, message: err.cloudCode });
        span?.end();
        this.observe?.(action, err.cloudCode, (this.#o.clock.now() - started) / 1000);
        const retry = err.retryable && err.kind !== 'stock' && attempt < attempts && !signal?.aborted;
        this.#o.log.warn(
          {
            action,
            code: err.cloudCode,
            requestId: err.requestId,
            attempt,
            ms: this.#o.clock.now() - started,
            retry,
          },
          'eci call failed',
        );
        if (!retry) throw err;
        // Full jitter: every controller throttled in the same second must not come back in the same one.
        const ceiling = err.kind === 'throttled' ? backoff.next() * 2 : backoff.next();
        await this.#o.clock.sleep(fullJitter(ceiling, this.#o.random), signal);
      }
    }
  }

  async createContainerGroup(req: $Eci.CreateContainerGroupRequest, signal?: AbortSignal): Promise<string> {
    req.regionId = this.regionId;
    const res = await this.#call('CreateContainerGroup', signal, (rt) =>
      this.#sdk.createContainerGroupWithOptions(req, rt),
    );
    const id = res.body?.containerGroupId;
    if (!id)
      throw new EciApiError({
        action: 'CreateContainerGroup',
        cloudCode: 'EmptyResponse',
        message: 'no ContainerGroupId in the answer',
      });
    return id;
  }

  /** Deletes a group; a group already gone counts as deleted (callers may call this more than once). */
  async deleteContainerGroup(containerGroupId: string, signal?: AbortSignal): Promise<void> {
    const req = new $Eci.DeleteContainerGroupRequest({ regionId: this.regionId, containerGroupId });
    try {
      await this.#call('DeleteContainerGroup', signal, (rt) =>
        this.#sdk.deleteContainerGroupWithOptions(req, rt),
      );
    } catch (err) {
      if (err instanceof EciApiError && err.kind === 'not-found') return;
      throw err;
    }
  }

  async updateContainerGroup(req: $Eci.UpdateContainerGroupRequest, signal?: AbortSignal): Promise<void> {
    req.regionId = this.regionId;
    await this.#call('UpdateContainerGroup', signal, (rt) =>
      this.#sdk.updateContainerGroupWithOptions(req, rt),
    );
  }

  async restartContainerGroup(containerGroupId: string, signal?: AbortSignal): Promise<void> {
    const req = new $Eci.RestartContainerGroupRequest({ regionId: this.regionId, containerGroupId });
    await this.#call('RestartContainerGroup', signal, (rt) =>
      this.#sdk.restartContainerGroupWithOptions(req, rt),
    );
  }

  async createImageCache(req: $Eci.CreateImageCacheRequest, signal?: AbortSignal): Promise<string> {
    req.regionId = this.regionId;
    const res = await this.#call('CreateImageCache', signal, (rt) =>
      this.#sdk.createImageCacheWithOptions(req, rt),
    );
    const id = res.body?.imageCacheId;
    if (!id)
      throw new EciApiError({
        action: 'CreateImageCache',
        cloudCode: 'EmptyResponse',
        message: 'no ImageCacheId in the answer',
      });
    return id;
  }

  /** Every image cache matching the filter, all pages. */
  async describeImageCaches(
    filter: {
      imageCacheId?: string;
      tags?: Record<string, string>;
      matchImage?: string[];
      imageFullMatch?: boolean;
      imageMatchCountRequest?: number;
      /** Stop after this many (e.g. 1 for "the best match"). */
      max?: number;
    },
    signal?: AbortSignal,
  ): Promise<$Eci.DescribeImageCachesResponseBodyImageCaches[]> {
    const out: $Eci.DescribeImageCachesResponseBodyImageCaches[] = [];
    let nextToken: string | undefined;
    do {
      const req = new $Eci.DescribeImageCachesRequest({
        regionId: this.regionId,
        limit: Math.min(20, filter.max ?? 20),
        nextToken,
        imageCacheId: filter.imageCacheId,
        matchImage: filter.matchImage,
        imageFullMatch: filter.imageFullMatch,
        imageMatchCountRequest: filter.imageMatchCountRequest,
        tag: tagList(filter.tags, $Eci.DescribeImageCachesRequestTag),
      });
      const res = await this.#call('DescribeImageCaches', signal, (rt) =>
        this.#sdk.describeImageCachesWithOptions(req, rt),
      );
      out.push(...(res.body?.imageCaches ?? []));
      nextToken = res.body?.nextToken || undefined;
    } while (nextToken && (filter.max === undefined || out.length < filter.max));
    return filter.max === undefined ? out : out.slice(0, filter.max);
  }

  /** Deletes an image cache; one already gone counts as deleted. */
  async deleteImageCache(imageCacheId: string, signal?: AbortSignal): Promise<void> {
    const req = new $Eci.DeleteImageCacheRequest({ regionId: this.regionId, imageCacheId });
    try {
      await this.#call('DeleteImageCache', signal, (rt) => this.#sdk.deleteImageCacheWithOptions(req, rt));
    } catch (err) {
      if (err instanceof EciApiError && err.kind === 'not-found') return;
      throw err;
    }
  }

  /**
   * The group as a template document (ExportContainerGroupTemplate). SDK 2.0.3 has no method for the
   * template actions, so they go through the generic call, with the same quota, timeout and retries.
   */
  async exportContainerGroupTemplate(
    containerGroupId: string,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const body = await this.#call('ExportContainerGroupTemplate', signal, (rt) =>
      this.#generic('ExportContainerGroupTemplate', { ContainerGroupId: containerGroupId }, rt),
    );
    const t = body.Template;
    if (typeof t !== 'object' || t === null)
      throw new EciApiError({
        action: 'ExportContainerGroupTemplate',
        cloudCode: 'EmptyResponse',
        message: 'no Template in the answer',
      });
    return t as Record<string, unknown>;
  }

  /** Creates a group from a template document; `clientToken` keeps it idempotent like a create. */
  async createContainerGroupFromTemplate(
    template: Record<string, unknown>,
    clientToken: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const body = await this.#call('CreateContainerGroupFromTemplate', signal, (rt) =>
      this.#generic(
        'CreateContainerGroupFromTemplate',
        { Template: JSON.stringify(template), ClientToken: clientToken },
        rt,
      ),
    );
    const id = body.ContainerGroupId;
    if (typeof id !== 'string' || id === '')
      throw new EciApiError({
        action: 'CreateContainerGroupFromTemplate',
        cloudCode: 'EmptyResponse',
        message: 'no ContainerGroupId in the answer',
      });
    return id;
  }

  async updateContainerGroupByTemplate(
    template: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.#call('UpdateContainerGroupByTemplate', signal, (rt) =>
      this.#generic('UpdateContainerGroupByTemplate', { Template: JSON.stringify(template) }, rt),
    );
  }

  async #generic(
    action: string,
    query: Record<string, string>,
    runtime: $Util.RuntimeOptions,
  ): Promise<Record<string, unknown>> {
    const params = rpcParams(action, { protocol: this.#o.protocol ?? 'https' });
    const res = await this.#sdk.callApi(
      params,
      new $OpenApi.OpenApiRequest({ query: { RegionId: this.regionId, ...query } }),
      runtime,
    );
    return (res as { body?: Record<string, unknown> }).body ?? {};
  }

  /**
   * A container's log as ECI keeps it (`Content`: lines, each ending in a newline). `tail` at most 2000,
   * the answer at most 1 MB; `lastTime` = the previous (terminated) run.
   */
  async describeContainerLog(
    q: {
      containerGroupId: string;
      containerName: string;
      tail?: number;
      sinceSeconds?: number;
      startTime?: string;
      limitBytes?: number;
      timestamps?: boolean;
      lastTime?: boolean;
    },
    signal?: AbortSignal,
  ): Promise<string> {
    const req = new $Eci.DescribeContainerLogRequest({ regionId: this.regionId, ...q });
    const res = await this.#call('DescribeContainerLog', signal, (rt) =>
      this.#sdk.describeContainerLogWithOptions(req, rt),
    );
    return res.body?.content ?? '';
  }

  /**
   * Starts a command in a container; the answer's WebSocketUri carries its streams (see exec-wire.ts).
   * `command` is the argv, sent as a JSON array.
   */
  async execContainerCommand(
    q: { containerGroupId: string; containerName: string; command: string[]; tty: boolean; stdin: boolean },
    signal?: AbortSignal,
  ): Promise<{ webSocketUri: string }> {
    const req = new $Eci.ExecContainerCommandRequest({
      regionId: this.regionId,
      containerGroupId: q.containerGroupId,
      containerName: q.containerName,
      command: JSON.stringify(q.command),
      TTY: q.tty,
      stdin: q.stdin,
      sync: false,
    });
    const res = await this.#call('ExecContainerCommand', signal, (rt) =>
      this.#sdk.execContainerCommandWithOptions(req, rt),
    );
    const uri = res.body?.webSocketUri;
    if (!uri) {
      throw new EciApiError({
        action: 'ExecContainerCommand',
        cloudCode: 'EmptyResponse',
        message: 'no WebSocketUri in the answer',
      });
    }
    return { webSocketUri: uri };
  }

  /** The latest resource sample of up to 20 groups in one call. */
  async describeMultiContainerGroupMetric(
    containerGroupIds: string[],
    signal?: AbortSignal,
  ): Promise<$Eci.DescribeMultiContainerGroupMetricResponseBodyMonitorDatas[]> {
    const req = new $Eci.DescribeMultiContainerGroupMetricRequest({
      regionId: this.regionId,
      containerGroupIds: JSON.stringify(containerGroupIds),
      metricType: 'summary',
    });
    const res = await this.#call('DescribeMultiContainerGroupMetric', signal, (rt) =>
      this.#sdk.describeMultiContainerGroupMetricWithOptions(req, rt),
    );
    return res.body?.monitorDatas ?? [];
  }

  /**
   * Calls any action of the 2018-08-08 API by name with flat query parameters — for `doctor`, which
   * probes each action of the RAM policy, including the template actions SDK 2.0.3 has no method for.
   */
  async rawCall(
    action: string,
    query: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const params = rpcParams(action, { protocol: this.#o.protocol ?? 'https' });
    signal?.throwIfAborted();
    try {
      const res = await this.#sdk.callApi(
        params,
        new $OpenApi.OpenApiRequest({ query: { RegionId: this.regionId, ...query } }),
        new $Util.RuntimeOptions({
          readTimeout: this.#o.timeoutMs ?? 15_000,
          connectTimeout: 5000,
          autoretry: false,
        }),
      );
      this.calls.set(action, (this.calls.get(action) ?? 0) + 1);
      return (res as { body?: Record<string, unknown> }).body ?? {};
    } catch (err) {
      throw toEciApiError(action, err);
    }
  }

  /** Every group matching the filter, following NextToken with the largest page ECI allows (20). */
  async describeContainerGroups(
    filter: { tags?: Record<string, string>; containerGroupIds?: string[]; withEvent?: boolean },
    signal?: AbortSignal,
  ): Promise<$Eci.DescribeContainerGroupsResponseBodyContainerGroups[]> {
    const out: $Eci.DescribeContainerGroupsResponseBodyContainerGroups[] = [];
    let nextToken: string | undefined;
    do {
      const req = new $Eci.DescribeContainerGroupsRequest({
        regionId: this.regionId,
        limit: 20,
        nextToken,
        withEvent: filter.withEvent,
        containerGroupIds: filter.containerGroupIds ? JSON.stringify(filter.containerGroupIds) : undefined,
        tag: tagList(filter.tags, $Eci.DescribeContainerGroupsRequestTag),
      });
      const res = await this.#call('DescribeContainerGroups', signal, (rt) =>
        this.#sdk.describeContainerGroupsWithOptions(req, rt),
      );
      out.push(...(res.body?.containerGroups ?? []));
      nextToken = res.body?.nextToken || undefined;
    } while (nextToken);
    return out;
  }

  /** Groups whose status changed in the last `sinceSecond` seconds (all pages): the cheap status feed. */
  async describeContainerGroupStatus(
    filter: { sinceSecond: number; tags?: Record<string, string> },
    signal?: AbortSignal,
  ): Promise<$Eci.DescribeContainerGroupStatusResponseBodyData[]> {
    const out: $Eci.DescribeContainerGroupStatusResponseBodyData[] = [];
    let nextToken: string | undefined;
    do {
      const req = new $Eci.DescribeContainerGroupStatusRequest({
        regionId: this.regionId,
        limit: 20,
        nextToken,
        sinceSecond: filter.sinceSecond,
        tag: tagList(filter.tags, $Eci.DescribeContainerGroupStatusRequestTag),
      });
      const res = await this.#call('DescribeContainerGroupStatus', signal, (rt) =>
        this.#sdk.describeContainerGroupStatusWithOptions(req, rt),
      );
      out.push(...(res.body?.data ?? []));
      nextToken = res.body?.nextToken || undefined;
    } while (nextToken);
    return out;
  }
}

function tagList<T>(
  tags: Record<string, string> | undefined,
  Model: new (m: { key: string; value: string }) => T,
): T[] | undefined {
  if (!tags) return undefined;
  return Object.entries(tags).map(([key, value]) => new Model({ key, value }));
}
