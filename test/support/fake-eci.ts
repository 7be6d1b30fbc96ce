import {
  DescribeContainerGroupsResponseBodyContainerGroups as Group,
  DescribeContainerGroupStatusResponseBodyData as StatusEntry,
  type CreateContainerGroupRequest,
  type UpdateContainerGroupRequest,
} from '@alicloud/eci20180808';
import type { EciAction } from '../../src/eci-api/quotas.ts';
import type { EciClient } from '../../src/providers/eci/eci-client.ts';
import { EciApiError } from '../../src/providers/eci/eci-errors.ts';
import { identityTags, type PodIdentity } from '../../src/providers/eci/mapping/index.ts';

/**
 * The ECI OpenAPI as the provider and its status feed see it through EciClient, in memory, for unit
 * tests on a fake clock. It keeps what they rely on: ClientToken idempotency (a repeated create
 * answers the same group), tag filters, the change feed (DescribeContainerGroupStatus answers the
 * groups whose status changed within SinceSecond of now), a delete of a group already gone counting
 * as done, and errors as EciApiError with the cloud's codes. The wire, signing and pagination are
 * the emulator's job (the *.test.ts files that start it).
 */
export class FakeEci {
  readonly regionId = 'cn-hangzhou';
  /** Calls by action, as EciClient counts them. */
  readonly calls = new Map<string, number>();
  /** Every call with its argument in short: `DescribeContainerGroups ids=a,b`, `CreateContainerGroup vsw-a`. */
  readonly log: string[] = [];
  /** ms until an action's quota allows a call (EciClient.quotaWaitMs). */
  readonly quotaWait = new Map<EciAction, number>();
  /** vSwitches without stock: a create there fails with NoStock. */
  readonly outOfStock = new Set<string>();
  /** Create requests as they arrived. */
  readonly created: CreateContainerGroupRequest[] = [];
  readonly updated: UpdateContainerGroupRequest[] = [];
  readonly #groups = new Map<string, { group: Group; changedAt: number }>();
  readonly #byToken = new Map<string, string>();
  readonly #failures = new Map<string, unknown[]>();
  readonly #now: () => number;
  #ids = 0;

  constructor(o: { now: () => number }) {
    this.#now = o.now;
  }

  /** The fake as the provider and the status feed take it. */
  get client(): EciClient {
    return this as unknown as EciClient;
  }

  /** Makes the next call of `action` fail with the cloud's `code` (classified as EciClient would). */
  failNext(action: EciAction, code = 'ServiceUnavailable', message = 'injected', httpStatus?: number): void {
    const list = this.#failures.get(action) ?? [];
    list.push(new EciApiError({ action, cloudCode: code, message, httpStatus }));
    this.#failures.set(action, list);
  }

  // --- What the cloud does on its own -------------------------------------------------------------

  /** A group as an earlier run (or another node) created it. */
  seed(identity: PodIdentity, status = 'Running', id = `eci-seed-${++this.#ids}`): string {
    this.#groups.set(id, {
      group: new Group({
        containerGroupId: id,
        containerGroupName: identity.podName,
        status,
        creationTime: new Date(this.#now()).toISOString(),
        tags: identityTags(identity),
        containers: [{ name: 'app', image: 'nginx', ready: status === 'Running', restartCount: 0 }],
      }),
      changedAt: this.#now(),
    });
    return id;
  }

  /** The group's status changes (it started, exited): the change feed reports it from now on. */
  setStatus(id: string, status: string): void {
    const g = this.#must(id);
    g.group.status = status;
    g.changedAt = this.#now();
  }

  /** The group vanishes without being asked (released by the cloud, deleted in the console). */
  vanish(id: string): void {
    this.#must(id);
    this.#groups.delete(id);
  }

  has(id: string): boolean {
    return this.#groups.has(id);
  }

  status(id: string): string | undefined {
    return this.#groups.get(id)?.group.status;
  }

  get size(): number {
    return this.#groups.size;
  }

  // --- The EciClient surface ---------------------------------------------------------------------

  quotaWaitMs(action: EciAction): number {
    return this.quotaWait.get(action) ?? 0;
  }

  quotaPerMinute(): number {
    return 300;
  }

  async createContainerGroup(req: CreateContainerGroupRequest): Promise<string> {
    this.#call('CreateContainerGroup', req.vSwitchId ?? '');
    this.created.push(req);
    if (req.vSwitchId && this.outOfStock.has(req.vSwitchId)) {
      throw new EciApiError({
        action: 'CreateContainerGroup',
        cloudCode: 'RecommendEmpty.InstanceTypeNoStock',
        message: `no stock in ${req.vSwitchId}`,
        httpStatus: 403,
      });
    }
    const token = req.clientToken;
    const same = token ? this.#byToken.get(token) : undefined;
    if (same && this.#groups.has(same)) return same;
    const id = `eci-${++this.#ids}`;
    if (token) this.#byToken.set(token, id);
    this.#groups.set(id, {
      group: new Group({
        containerGroupId: id,
        containerGroupName: req.containerGroupName,
        status: 'Pending',
        creationTime: new Date(this.#now()).toISOString(),
        tags: (req.tag ?? []).map((t) => ({ key: t.key, value: t.value })),
        containers: (req.container ?? []).map((c) => ({ name: c.name, image: c.image, ready: false })),
      }),
      changedAt: this.#now(),
    });
    return id;
  }

  async deleteContainerGroup(id: string): Promise<void> {
    this.#call('DeleteContainerGroup', id);
    this.#groups.delete(id); // already gone counts as deleted, as EciClient makes it
  }

  async updateContainerGroup(req: UpdateContainerGroupRequest): Promise<void> {
    this.#call('UpdateContainerGroup', req.containerGroupId ?? '');
    this.updated.push(req);
  }

  async restartContainerGroup(id: string): Promise<void> {
    this.#call('RestartContainerGroup', id);
    this.setStatus(id, 'Restarting');
  }

  async describeImageCaches(): Promise<never[]> {
    this.#call('DescribeImageCaches', '');
    return [];
  }

  async describeContainerGroups(filter: {
    tags?: Record<string, string>;
    containerGroupIds?: string[];
  }): Promise<Group[]> {
    this.#call(
      'DescribeContainerGroups',
      filter.containerGroupIds ? `ids=${filter.containerGroupIds.join(',')}` : 'tags',
    );
    return [...this.#groups.values()]
      .filter(
        ({ group }) =>
          !filter.containerGroupIds || filter.containerGroupIds.includes(group.containerGroupId!),
      )
      .filter(({ group }) => tagged(group, filter.tags))
      .map(({ group }) => new Group(structuredClone({ ...group })));
  }

  async describeContainerGroupStatus(filter: {
    sinceSecond: number;
    tags?: Record<string, string>;
  }): Promise<StatusEntry[]> {
    this.#call('DescribeContainerGroupStatus', `since=${filter.sinceSecond}`);
    const since = this.#now() - filter.sinceSecond * 1000;
    return [...this.#groups.values()]
      .filter(({ group, changedAt }) => changedAt >= since && tagged(group, filter.tags))
      .map(
        ({ group }) => new StatusEntry({ containerGroupId: group.containerGroupId, status: group.status }),
      );
  }

  #call(action: string, what: string): void {
    this.calls.set(action, (this.calls.get(action) ?? 0) + 1);
    this.log.push(`${action} ${what}`);
    const queued = this.#failures.get(action);
    if (queued && queued.length > 0) throw queued.shift();
  }

  #must(id: string) {
    const g = this.#groups.get(id);
    if (!g) throw new Error(`no group ${id}`);
    return g;
  }
}

function tagged(group: Group, tags: Record<string, string> | undefined): boolean {
  return Object.entries(tags ?? {}).every(([k, v]) => group.tags?.some((t) => t.key === k && t.value === v));
}
