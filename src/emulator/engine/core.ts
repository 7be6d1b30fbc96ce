import { randomUUID } from 'node:crypto';
import type { Logger } from '../../util/log.ts';
import { CloudError, cloudErrors } from './cloud-errors.ts';
import {
  DEFAULT_QUOTAS,
  type EmulatorConfig,
  type FaultSpec,
  type GroupStatus,
  quotaFor,
} from '../config.ts';
import { type Fault, type FaultOutcome, FaultInjector } from './faults.ts';
import { FileJournal, type JournalStats, MemoryJournal } from './journal.ts';
import {
  advance,
  driveExit,
  driveReady,
  driveStuck,
  enterStatus,
  type LifecycleSettings,
  recordEvent,
  runtimesFor,
  TERMINAL_STATUSES,
} from './lifecycle.ts';
import { type ExecSession, ExecSessions } from './exec.ts';
import { newId } from './ids.ts';
import { type ImageCacheInput, ImageCaches, normalizeImage } from './image-caches.ts';
import type { GroupRecord, GroupSpec, ImageCacheRecord, ImageCacheStatus, Tag } from './model.ts';
import { QuotaLimiter } from './quota.ts';
import { Scheduler } from './scheduler.ts';
import { SimulatedRuntime } from './runtime/simulated.ts';
import type { ExecHandle, Runtime, RuntimeHost } from './runtime/types.ts';
import { Store } from './store.ts';

/**
 * The emulated cloud: region data, the store, the lifecycle engine, quotas and faults, and the
 * operations the API actions and the admin API perform on them. It is the only writer: the store,
 * faults, quotas, lifecycle settings and zone stock are private, so everything that changes a record
 * goes through a method here, is journaled once, and is scheduled for its next lifecycle step.
 */

export interface CreateGroupInput {
  name: string;
  spec: GroupSpec;
  tags: Tag[];
  clientToken?: string;
  /** Identifies the request's parameters, to tell a retry from a reused ClientToken. */
  requestHash: string;
  /** Candidate vSwitches in the caller's order (one per zone, usually). */
  vSwitchIds: string[];
  securityGroupId?: string;
  zoneId?: string;
  strategy: 'VSwitchOrdered' | 'VSwitchRandom';
  privateIpAddress?: string;
  dryRun: boolean;
}

/** Lifecycle settings that can be changed on demand (the admin API). */
export type LifecycleChange = Partial<Omit<LifecycleSettings, 'observed'>>;

/** Quotas as the admin API shows them: on or off, and every action's calls per minute. */
export interface QuotaState {
  enabled: boolean;
  perMinute: Record<string, number | undefined>;
}

function autoCacheName(groupName: string): string {
  const base = `auto-${groupName}`.slice(0, 110).replace(/-+$/, '');
  return `${base}-${Math.random().toString(16).slice(2, 10)}`;
}

/** An existing EIP's address: stable for its ID (the emulator keeps no EIP inventory). */
function eipAddress(eipId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < eipId.length; i++) h = Math.imul(h ^ eipId.charCodeAt(i), 0x01000193);
  const n = h >>> 0;
  return `47.${100 + (n & 7)}.${(n >>> 8) & 255}.${1 + (((n >>> 16) & 255) % 254)}`;
}

export class EmulatorCore {
  readonly config: EmulatorConfig;
  readonly logger: Logger;
  /** The emulated cloud's clock: the real one plus what `advanceClock` added. */
  readonly now: () => number;
  /** The real clock, for what the caller's clock must agree with (request signatures). */
  readonly wallNow: () => number;
  /** The emulator's own base URL (for exec URIs); set once it listens. */
  baseUrl = 'http://127.0.0.1';
  /** Exec sessions handed out by ExecContainerCommand. */
  readonly exec: ExecSessions;
  /** What runs behind the groups (simulated or real processes). */
  readonly runtime: Runtime;
  readonly #store: Store;
  readonly #faults: FaultInjector;
  readonly #quotas: QuotaLimiter;
  /** Per-action quotas set on demand, over the configured ones. */
  readonly #quotaOverrides: Record<string, number>;
  #clockOffsetMs = 0;
  #settings: LifecycleSettings;
  /** Zone → most live container groups (null = unlimited); starts from the config, changed on demand. */
  readonly #zoneStock = new Map<string, number | null>();
  readonly #scheduler: Scheduler;
  readonly #imageCaches: ImageCaches;
  readonly #random: () => number;

  private constructor(
    config: EmulatorConfig,
    logger: Logger,
    now: () => number,
    random: () => number,
    runtime: Runtime,
  ) {
    this.config = config;
    this.runtime = runtime;
    this.logger = logger;
    this.wallNow = now;
    this.now = () => now() + this.#clockOffsetMs;
    this.#random = random;
    this.#store = new Store(config.region);
    this.#faults = new FaultInjector(random);
    for (const f of config.faults) this.#faults.add(f);
    this.#quotas = new QuotaLimiter(config.quotas.enabled, (a) => quotaFor(config, a));
    this.#quotaOverrides = { ...config.quotas.perMinute };
    for (const z of config.region.zones) this.#zoneStock.set(z.id, z.stock);
    this.#settings = {
      stages: config.lifecycle.stages,
      restartBackoffMs: config.lifecycle.restartBackoffMs,
      minRunMs: config.lifecycle.minRunMs,
      defaultRunSeconds: config.lifecycle.defaultRunSeconds,
      maxEventsPerGroup: config.lifecycle.maxEventsPerGroup,
      imagePullMs: config.lifecycle.imagePullMs,
      observed: runtime.kind === 'process',
    };
    this.#scheduler = new Scheduler(this.now, (key) => this.#onDue(key));
    this.#imageCaches = new ImageCaches({
      store: this.#store,
      now: this.now,
      readyMs: config.lifecycle.imageCacheReadyMs,
      schedule: (id, at) => this.#scheduler.schedule(`imc:${id}`, at),
      cancel: (id) => this.#scheduler.cancel(`imc:${id}`),
      persist: (p) => this.#persist(p),
      place: (vSwitchIds) => this.#placeBuilder(vSwitchIds),
      maxEvents: config.lifecycle.maxEventsPerGroup,
      ...(runtime.prepareImage === undefined ? {} : { prepare: (image) => runtime.prepareImage!(image) }),
    });
    this.exec = new ExecSessions(now);
  }

  /** Loads the state (from `config.stateDir`, if set) and catches every record up with the clock. */
  static async start(
    config: EmulatorConfig,
    logger: Logger,
    opts: { now?: () => number; random?: () => number; runtime?: Runtime } = {},
  ): Promise<EmulatorCore> {
    const runtime =
      opts.runtime ??
      new SimulatedRuntime({
        heartbeatSeconds: config.lifecycle.heartbeatLogSeconds,
        defaultRunSeconds: config.lifecycle.defaultRunSeconds,
      });
    const core = new EmulatorCore(config, logger, opts.now ?? Date.now, opts.random ?? Math.random, runtime);
    const store = core.#store;
    if (config.stateDir === undefined) {
      store.journal = new MemoryJournal();
    } else {
      store.journal = await FileJournal.open(
        {
          dir: config.stateDir,
          fsync: config.journal.fsync,
          compactBytes: config.journal.compactBytes,
          recovery: config.journal.recovery,
          logger,
          source: () => store.records(),
        },
        (rec) => store.replay(rec),
      );
    }
    store.finishReplay();
    await runtime.start(core.#runtimeHost(), store.groups.values());
    for (const id of [...store.groups.keys()]) core.#touchGroup(id);
    for (const id of [...store.imageCaches.keys()]) core.#imageCaches.touch(id);
    return core;
  }

  async stop(): Promise<void> {
    this.#scheduler.stop();
    // The records stay as they are (a restarted emulator starts their containers again).
    await this.runtime.stop();
    await this.#store.journal?.close();
  }

  /** The runtime's handle on the records: every change is journaled and seen by the lifecycle. */
  #runtimeHost(): RuntimeHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getter below reads the live settings
    const core = this;
    return {
      now: this.now,
      get settings() {
        return core.#settings;
      },
      logger: this.logger,
      update: (id, change) => {
        const g = this.#store.groups.get(id);
        if (g === undefined) return;
        change(g, this.now());
        this.#persist(this.#settle(g, true));
      },
      remove: (id) => {
        if (!this.#store.groups.has(id)) return;
        this.#scheduler.cancel(id);
        this.#persist(this.#store.deleteGroup(id));
        this.runtime.forget(id);
      },
    };
  }

  // ---------------------------------------------------------------- lifecycle engine

  #onDue(key: string): void {
    if (key.startsWith('imc:')) this.#imageCaches.touch(key.slice(4));
    else this.#touchGroup(key);
  }

  #persist(p: Promise<void> | undefined): void {
    p?.catch((err: unknown) =>
      this.logger.error({ err }, 'emulator: a lifecycle change could not be journaled'),
    );
  }

  /** Moves a stored group forward to now, journals any change and schedules its next step. */
  #touchGroup(id: string): void {
    const g = this.#store.groups.get(id);
    if (g !== undefined) this.#persist(this.#settle(g, false));
  }

  /**
   * Moves `g` forward to now and journals it once (when it changed, or `changed` says the caller
   * changed it), schedules its next step and tells the runtime. Returns the journal write, if any.
   */
  #settle(g: GroupRecord, changed: boolean): Promise<void> | undefined {
    const r = advance(g, this.now(), this.#settings);
    if (r.deleted) {
      this.#scheduler.cancel(g.id);
      const p = this.#store.deleteGroup(g.id);
      this.runtime.forget(g.id);
      return p;
    }
    const p = r.changed || changed ? this.#store.putGroup(g) : undefined;
    if (r.nextAt === undefined) this.#scheduler.cancel(g.id);
    else this.#scheduler.schedule(g.id, r.nextAt);
    this.runtime.sync(g);
    return p;
  }

  /** Stores a changed group, lets the lifecycle react at once, and resolves when the change is durable. */
  async #commit(g: GroupRecord): Promise<void> {
    await this.#settle(g, true);
    await this.#store.whenDurable(g.id);
  }

  // ---------------------------------------------------------------- container groups

  getGroup(id: string): GroupRecord {
    const g = this.#store.groups.get(id);
    if (g === undefined) throw cloudErrors.containerGroupNotFound(id);
    return g;
  }

  /** The group, or undefined when there is none by that ID. */
  findGroup(id: string): GroupRecord | undefined {
    return this.#store.groups.get(id);
  }

  /** Every group (the records themselves: read them, change them only through this class). */
  listGroups(): GroupRecord[] {
    return [...this.#store.groups.values()];
  }

  /** All groups in creation order (read-only view; do not keep it across changes). */
  groupsInOrder(): readonly GroupRecord[] {
    return this.#store.groupsInOrder();
  }

  /** Groups with the tag (any value when `value` is undefined), in creation order. */
  groupsWithTag(key: string, value: string | undefined): readonly GroupRecord[] {
    return this.#store.groupsWithTag(key, value);
  }

  async createGroup(input: CreateGroupInput): Promise<GroupRecord> {
    if (input.clientToken !== undefined) {
      const existing = this.#store.groupByToken(input.clientToken);
      if (existing !== undefined) {
        if (existing.requestHash !== input.requestHash) throw cloudErrors.idempotentMismatch();
        await this.#store.whenDurable(existing.id);
        return existing;
      }
    }
    const region = this.config.region;
    const vSwitches = input.vSwitchIds.map((id) => {
      const v = region.vSwitches.find((x) => x.id === id);
      if (v === undefined) throw cloudErrors.vSwitchNotFound(id);
      return v;
    });
    let sgId = input.securityGroupId;
    if (sgId === undefined) {
      const vpc = vSwitches[0]?.vpcId;
      sgId = region.securityGroups.find((s) => s.vpcId === vpc)?.id ?? region.securityGroups[0]!.id;
    }
    const sg = region.securityGroups.find((s) => s.id === sgId);
    if (sg === undefined) throw cloudErrors.securityGroupNotFound(sgId);
    for (const v of vSwitches)
      if (v.vpcId !== sg.vpcId) throw cloudErrors.securityGroupVpcMismatch(sg.id, v.id);
    let candidates = vSwitches;
    if (input.zoneId !== undefined) {
      const zoneId = input.zoneId;
      if (!region.zones.some((z) => z.id === zoneId)) throw cloudErrors.zoneNotFound(zoneId);
      candidates = vSwitches.filter((v) => v.zoneId === zoneId);
      if (candidates.length === 0) throw cloudErrors.zoneVSwitchMismatch(zoneId, vSwitches[0]!.id);
    }
    if (input.privateIpAddress !== undefined) {
      const ip = input.privateIpAddress;
      candidates = candidates.filter((v) => this.#store.pools.get(v.id)!.contains(ip));
      if (candidates.length === 0) throw cloudErrors.privateIpInvalid(ip, input.vSwitchIds.join(','));
    }
    if (input.dryRun) throw cloudErrors.dryRun();
    if (input.strategy === 'VSwitchRandom') candidates = this.#shuffle(candidates);

    // From here to putGroup nothing awaits: stock and address checks and the claim are one step.
    let stockOut = false;
    let ipOut: string | undefined;
    let chosen: { vsw: (typeof candidates)[number]; ip: string } | undefined;
    for (const v of candidates) {
      const stock = this.#zoneStock.get(v.zoneId) ?? null;
      if (stock !== null && this.#store.liveInZone(v.zoneId) >= stock) {
        stockOut = true;
        continue;
      }
      const pool = this.#store.pools.get(v.id)!;
      const ip = input.privateIpAddress;
      if (ip !== undefined) {
        if (!pool.claim(ip)) throw cloudErrors.privateIpInvalid(ip, v.id);
        chosen = { vsw: v, ip };
        break;
      }
      const got = pool.allocate();
      if (got === null) {
        ipOut = v.id;
        continue;
      }
      chosen = { vsw: v, ip: got };
      break;
    }
    if (chosen === undefined) {
      if (stockOut || ipOut === undefined) {
        const so = this.config.stockOut;
        throw new CloudError(so.status, so.code, so.message);
      }
      throw cloudErrors.vSwitchIpNotEnough(ipOut);
    }
    const now = this.now();
    const g: GroupRecord = {
      id: newId('eci'),
      seq: this.#store.nextSeq(),
      uuid: randomUUID(),
      name: input.name,
      regionId: region.id,
      zoneId: chosen.vsw.zoneId,
      vSwitchId: chosen.vsw.id,
      securityGroupId: sg.id,
      vpcId: sg.vpcId,
      ip: chosen.ip,
      tags: input.tags,
      requestHash: input.requestHash,
      spec: input.spec,
      status: 'Scheduling',
      createdAt: now,
      statusSince: now,
      changedAt: now,
      containers: runtimesFor(input.spec.containers),
      initContainers: runtimesFor(input.spec.initContainers),
      events: [],
      eventSeq: 0,
    };
    if (input.clientToken !== undefined) g.clientToken = input.clientToken;
    if (input.spec.autoCreateEip === true)
      g.internetIp = `47.${96 + Math.floor(this.#random() * 8)}.${Math.floor(this.#random() * 256)}.${1 + Math.floor(this.#random() * 254)}`;
    else if (input.spec.eipInstanceId !== undefined) g.internetIp = eipAddress(input.spec.eipInstanceId);
    // Decided before the group is stored, so the runtime never starts pulling what a cache holds.
    const startCache = this.#useImageCache(g, now);
    await this.#commit(g);
    if (startCache) await this.#autoCreateCache(g);
    return g;
  }

  /**
   * The image cache a new group starts from, with the events the cloud records (on the record, before
   * it is stored): ImageSnapshotId names one (used when Ready; ImageCacheNotComplete or
   * ImageCacheNotFound otherwise, and the images are pulled); AutoMatchImageCache takes the best Ready
   * match. True on a miss that should start a cache of the group's images for the next ones (none of
   * them is being built yet).
   */
  #useImageCache(g: GroupRecord, now: number): boolean {
    const spec = g.spec;
    const images = [...spec.initContainers, ...spec.containers].map((c) => c.image);
    const max = this.#settings.maxEventsPerGroup;
    const note = (type: 'Normal' | 'Warning', reason: string, message: string) =>
      recordEvent(g, { type, reason, message }, now, max);
    let hit: ImageCacheRecord | undefined;
    let miss = false;
    if (spec.imageSnapshotId !== undefined) {
      const id = spec.imageSnapshotId;
      const named = [...this.#store.imageCaches.values()].find((r) => r.id === id || r.snapshotId === id);
      if (named?.status === 'Ready') hit = named;
      else if (named !== undefined && named.status !== 'Expired')
        note(
          'Normal',
          'ImageCacheNotComplete',
          `The production for specified image cache ${id} is not yet complete.`,
        );
      else note('Warning', 'ImageCacheNotFound', `The specified image cache ${id} does not exist.`);
    } else if (spec.autoMatchImageCache === true) {
      hit = this.#imageCaches.bestMatch(images);
      if (hit === undefined) {
        note('Warning', 'ImageCacheMissed', 'Missed image cache.');
        miss = this.#imageCaches.building(images) === undefined;
      }
    }
    if (hit !== undefined) {
      g.imageCacheId = hit.id;
      g.cachedImages = hit.images.map(normalizeImage);
      note(
        'Normal',
        'SuccessfulHitImageCache',
        `[eci.imagecache]Successfully hit image cache ${hit.id}, eci will be scheduled with this image cache.`,
      );
      hit.lastMatchedAt = now;
      this.#persist(this.#store.putCache(hit));
    }
    return miss;
  }

  /** On a miss, a cache of the group's images for the next groups (as the cloud does). */
  async #autoCreateCache(g: GroupRecord): Promise<void> {
    const images = [...g.spec.initContainers, ...g.spec.containers].map((c) => c.image);
    try {
      const made = await this.#imageCaches.create({
        name: autoCacheName(g.name),
        images: [...new Set(images)],
        size: 20,
        tags: [],
        vSwitchIds: [g.vSwitchId],
        reuse: true,
        flash: false,
        auto: true,
      });
      recordEvent(
        g,
        {
          type: 'Normal',
          reason: 'ImageCacheAutoCreated',
          message: `[eci.imagecache]No image cache matched; creating image cache ${made.id} for the next instances`,
        },
        this.now(),
        this.#settings.maxEventsPerGroup,
      );
      await this.#store.putGroup(g);
    } catch (err) {
      // No stock for the builder: the group still runs, it only pulls its images.
      if (!(err instanceof CloudError)) throw err;
    }
  }

  #shuffle<T>(items: readonly T[]): T[] {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  async deleteGroup(id: string): Promise<void> {
    const g = this.getGroup(id);
    if (g.status === 'Terminating') return this.#store.whenDurable(id);
    enterStatus(g, 'Terminating', this.now(), this.#settings);
    await this.#commit(g);
  }

  async restartGroup(id: string): Promise<void> {
    const g = this.getGroup(id);
    if (g.status !== 'Running' && g.status !== 'Pending') {
      throw cloudErrors.incorrectStatus(
        `The current status of the container group does not support this operation. Status: ${g.status}`,
      );
    }
    enterStatus(g, 'Restarting', this.now(), this.#settings);
    await this.#commit(g);
  }

  /** Replaces the spec (and tags, if given); a spec change restarts the group through Updating. */
  async updateGroup(id: string, change: { spec?: GroupSpec; tags?: Tag[] }): Promise<void> {
    const g = this.getGroup(id);
    if (TERMINAL_STATUSES.has(g.status) || g.status === 'Terminating') {
      throw cloudErrors.incorrectStatus(
        `The current status of the container group does not support this operation. Status: ${g.status}`,
      );
    }
    const now = this.now();
    if (change.tags !== undefined) {
      g.tags = change.tags;
      g.changedAt = now;
    }
    if (change.spec !== undefined && JSON.stringify(change.spec) !== JSON.stringify(g.spec)) {
      const initOnly =
        JSON.stringify({ ...change.spec, initContainers: [] }) ===
        JSON.stringify({ ...g.spec, initContainers: [] });
      const sameInitNames =
        change.spec.initContainers.map((c) => c.name).join() ===
        g.spec.initContainers.map((c) => c.name).join();
      g.spec = change.spec;
      if (initOnly && g.startedAt !== undefined) {
        // Init containers of a started group have run; the new ones run at its next start
        // (RestartContainerGroup), and nothing running is touched now.
        if (!sameInitNames) g.initContainers = runtimesFor(g.spec.initContainers, g.initContainers);
        g.changedAt = now;
        g.initPending = true;
      } else {
        enterStatus(g, 'Updating', now, this.#settings);
        g.containers = runtimesFor(g.spec.containers, g.containers);
        g.initContainers = runtimesFor(g.spec.initContainers, g.initContainers);
      }
    }
    await this.#commit(g);
  }

  /**
   * Where an image cache's intermediate instance goes: the first of `vSwitchIds` whose zone has stock
   * and whose vSwitch has a free address. Claims the address; throws the stock-out error otherwise.
   */
  #placeBuilder(vSwitchIds: string[]): { zoneId: string; vSwitchId: string; ip: string } {
    const region = this.config.region;
    let ipOut: string | undefined;
    for (const id of vSwitchIds) {
      const v = region.vSwitches.find((x) => x.id === id);
      if (v === undefined) throw cloudErrors.vSwitchNotFound(id);
      const stock = this.#zoneStock.get(v.zoneId) ?? null;
      if (stock !== null && this.#store.liveInZone(v.zoneId) >= stock) continue;
      const ip = this.#store.pools.get(v.id)!.allocate();
      if (ip === null) {
        ipOut = v.id;
        continue;
      }
      return { zoneId: v.zoneId, vSwitchId: v.id, ip };
    }
    if (ipOut !== undefined) throw cloudErrors.vSwitchIpNotEnough(ipOut);
    const so = this.config.stockOut;
    throw new CloudError(so.status, so.code, so.message);
  }

  // ---------------------------------------------------------------- image caches

  /** Creates a cache (or returns the one made with the same ClientToken) once it is durable. */
  createImageCache(input: ImageCacheInput): Promise<ImageCacheRecord> {
    return this.#imageCaches.create(input);
  }

  deleteImageCache(id: string): Promise<void> {
    return this.#imageCaches.delete(id);
  }

  /** Every image cache (the records themselves: read them, change them only through this class). */
  listImageCaches(): ImageCacheRecord[] {
    return [...this.#store.imageCaches.values()];
  }

  // ---------------------------------------------------------------- requests: faults and quotas

  /** What the injected faults do to a request for `action` (a delay, an error, both or neither). */
  evaluateFault(action: string): FaultOutcome {
    return this.#faults.evaluate(action);
  }

  /** Takes one call of the caller's quota for `action`; false when it is used up. */
  takeQuota(accessKeyId: string, action: string, now: number): boolean {
    return this.#quotas.take(accessKeyId, action, now);
  }

  // ---------------------------------------------------------------- on demand (admin)

  listFaults(): readonly Fault[] {
    return this.#faults.list();
  }

  addFault(spec: FaultSpec): Fault {
    return this.#faults.add(spec);
  }

  /** False when there is no such fault. */
  removeFault(id: string): boolean {
    return this.#faults.remove(id);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  quotaState(): QuotaState {
    const actions = new Set([...Object.keys(DEFAULT_QUOTAS), ...Object.keys(this.#quotaOverrides)]);
    return {
      enabled: this.#quotas.enabled,
      perMinute: Object.fromEntries(
        [...actions].map((a) => [a, this.#quotaOverrides[a] ?? quotaFor(this.config, a)]),
      ),
    };
  }

  /** Turns quotas on or off and sets some actions' calls per minute (the others keep theirs). */
  setQuotas(change: { enabled?: boolean; perMinute?: Record<string, number> }): QuotaState {
    if (change.enabled !== undefined) this.#quotas.enabled = change.enabled;
    if (change.perMinute !== undefined) {
      Object.assign(this.#quotaOverrides, change.perMinute);
      const limits = { ...this.#quotaOverrides };
      this.#quotas.setLimits((a) => limits[a] ?? quotaFor(this.config, a));
    }
    return this.quotaState();
  }

  /** Sets a zone's most live container groups (null = unlimited); false when there is no such zone. */
  setZoneStock(zoneId: string, stock: number | null): boolean {
    if (!this.#zoneStock.has(zoneId)) return false;
    this.#zoneStock.set(zoneId, stock);
    return true;
  }

  /** The lifecycle's timings as they are now. */
  get settings(): Readonly<LifecycleSettings> {
    return this.#settings;
  }

  /** Changes the lifecycle's timings and moves every group on under the new ones. */
  setLifecycle(change: LifecycleChange): Readonly<LifecycleSettings> {
    const s = this.#settings;
    this.#settings = {
      stages: change.stages ?? s.stages,
      restartBackoffMs: change.restartBackoffMs ?? s.restartBackoffMs,
      minRunMs: change.minRunMs ?? s.minRunMs,
      defaultRunSeconds: change.defaultRunSeconds ?? s.defaultRunSeconds,
      maxEventsPerGroup: change.maxEventsPerGroup ?? s.maxEventsPerGroup,
      imagePullMs: change.imagePullMs ?? s.imagePullMs,
      observed: s.observed,
    };
    for (const id of [...this.#store.groups.keys()]) this.#touchGroup(id);
    return this.#settings;
  }

  /** On demand: forces an image cache's status. */
  driveImageCache(id: string, status: ImageCacheStatus): Promise<ImageCacheRecord> {
    return this.#imageCaches.drive(id, status);
  }

  journalStats(): JournalStats | undefined {
    return this.#store.journal?.stats;
  }

  /**
   * Moves the emulated cloud's clock forward by `ms` (retention and deadlines come due) and catches
   * every record up. Request signatures are still checked against the real clock.
   */
  advanceClock(ms: number): { offsetMs: number; now: number } {
    this.#clockOffsetMs += ms;
    this.#scheduler.clockMoved();
    for (const id of [...this.#store.groups.keys()]) this.#touchGroup(id);
    for (const id of [...this.#store.imageCaches.keys()]) this.#imageCaches.touch(id);
    return { offsetMs: this.#clockOffsetMs, now: this.now() };
  }

  async driveStatus(id: string, status: GroupStatus, reason?: string): Promise<GroupRecord> {
    const g = this.getGroup(id);
    const now = this.now();
    if (status === 'Running' && g.status !== 'Running') {
      if (g.status !== 'Pending') enterStatus(g, 'Pending', now, this.#settings);
    }
    enterStatus(g, status, now, this.#settings, reason);
    await this.#commit(g);
    return g;
  }

  async driveExit(
    id: string,
    container: string,
    exitCode: number,
    opts: { reason?: string; message?: string },
  ): Promise<GroupRecord> {
    const g = this.getGroup(id);
    if (this.runtime.endRun(g, container, { exitCode, ...opts })) return g;
    const r = driveExit(g, container, exitCode, this.now(), opts);
    if (r === 'no-such-container') throw cloudErrors.containerNotFound(id, container);
    if (r === 'not-running') throw cloudErrors.incorrectStatus(`Container ${container} is not running.`);
    await this.#commit(g);
    return g;
  }

  async driveStuck(id: string, container: string, reason: string, message?: string): Promise<GroupRecord> {
    const g = this.getGroup(id);
    const r = driveStuck(g, container, reason, message, this.now(), this.#settings);
    if (r === 'no-such-container') throw cloudErrors.containerNotFound(id, container);
    if (r === 'not-running') throw cloudErrors.incorrectStatus(`Container group ${id} is not running.`);
    await this.#commit(g);
    return g;
  }

  async driveReady(id: string, container: string, ready: boolean | null): Promise<GroupRecord> {
    const g = this.getGroup(id);
    if (driveReady(g, container, ready, this.now()) === 'no-such-container') {
      throw cloudErrors.containerNotFound(id, container);
    }
    await this.#commit(g);
    return g;
  }

  /** A command in a running container, for an exec session (ExecContainerCommand's WebSocket). */
  startExec(s: ExecSession): ExecHandle {
    const g = this.getGroup(s.groupId);
    const c = g.containers.find((x) => x.name === s.container);
    if (g.status !== 'Running' || c?.state !== 'Running') {
      throw cloudErrors.incorrectStatus(
        `Container ${s.container} in container group ${g.id} is not running.`,
      );
    }
    return this.runtime.exec(g, s.container, { command: s.command, tty: s.tty, stdin: s.stdin });
  }

  async reset(): Promise<void> {
    for (const id of this.#store.groups.keys()) {
      this.#scheduler.cancel(id);
      this.runtime.forget(id);
    }
    for (const id of this.#store.imageCaches.keys()) this.#scheduler.cancel(`imc:${id}`);
    this.exec.clear();
    this.#faults.clear();
    for (const f of this.config.faults) this.#faults.add(f);
    this.#quotas.reset();
    for (const z of this.config.region.zones) this.#zoneStock.set(z.id, z.stock);
    this.#clockOffsetMs = 0;
    await this.#store.reset();
  }

  zones(): {
    id: string;
    stock: number | null;
    live: number;
    vSwitches: { id: string; cidr: string; used: number; capacity: number }[];
  }[] {
    return this.config.region.zones.map((z) => ({
      id: z.id,
      stock: this.#zoneStock.get(z.id) ?? null,
      live: this.#store.liveInZone(z.id),
      vSwitches: this.config.region.vSwitches
        .filter((v) => v.zoneId === z.id)
        .map((v) => {
          const pool = this.#store.pools.get(v.id)!;
          return { id: v.id, cidr: v.cidr, used: pool.inUse, capacity: pool.capacity };
        }),
    }));
  }
}
