import { randomUUID } from 'node:crypto';
import type { Logger } from '../util/log.ts';
import { CloudError, cloudErrors } from './cloud-errors.ts';
import { type EmulatorConfig, type GroupStatus, quotaFor } from './config.ts';
import { FaultInjector } from './faults.ts';
import { FileJournal, MemoryJournal } from './journal.ts';
import {
  advance,
  driveExit,
  driveReady,
  driveStuck,
  enterStatus,
  type LifecycleSettings,
  runtimesFor,
  TERMINAL_STATUSES,
} from './lifecycle.ts';
import { type ExecSession, ExecSessions } from './exec.ts';
import { newId } from './ids.ts';
import { ImageCaches } from './image-caches.ts';
import type { GroupRecord, GroupSpec, Tag } from './model.ts';
import { QuotaLimiter } from './quota.ts';
import { Scheduler } from './scheduler.ts';
import { SimulatedRuntime } from './runtime/simulated.ts';
import type { ExecHandle, Runtime, RuntimeHost } from './runtime/types.ts';
import { Store } from './store.ts';

/**
 * The emulated cloud: region data, the store, the lifecycle engine, quotas and faults, and the
 * operations the API actions and the admin API perform on them. Everything that changes a record goes
 * through here, is journaled, and is scheduled for its next lifecycle step.
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
  /**
   * Finishes a new record before it is stored and the runtime first sees it (e.g. the image cache it
   * starts from); not called when the ClientToken returns an existing group.
   */
  prepare?: (g: GroupRecord) => void;
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
  readonly store: Store;
  readonly faults: FaultInjector;
  readonly quotas: QuotaLimiter;
  readonly logger: Logger;
  /** The emulated cloud's clock: the real one plus what `advanceClock` added. */
  readonly now: () => number;
  /** The real clock, for what the caller's clock must agree with (request signatures). */
  readonly wallNow: () => number;
  private clockOffsetMs = 0;
  settings: LifecycleSettings;
  /** Zone → most live container groups (null = unlimited); starts from the config, changed on demand. */
  readonly zoneStock = new Map<string, number | null>();
  /** The emulator's own base URL (for exec URIs); set once it listens. */
  baseUrl = 'http://127.0.0.1';
  private readonly scheduler: Scheduler;
  readonly imageCaches: ImageCaches;
  /** Exec sessions handed out by ExecContainerCommand. */
  readonly exec: ExecSessions;
  /** What runs behind the groups (simulated or real processes). */
  readonly runtime: Runtime;
  private readonly random: () => number;

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
    this.now = () => now() + this.clockOffsetMs;
    this.random = random;
    this.store = new Store(config.region);
    this.faults = new FaultInjector(random);
    for (const f of config.faults) this.faults.add(f);
    this.quotas = new QuotaLimiter(config.quotas.enabled, (a) => quotaFor(config, a));
    for (const z of config.region.zones) this.zoneStock.set(z.id, z.stock);
    this.settings = {
      stages: config.lifecycle.stages,
      restartBackoffMs: config.lifecycle.restartBackoffMs,
      minRunMs: config.lifecycle.minRunMs,
      defaultRunSeconds: config.lifecycle.defaultRunSeconds,
      maxEventsPerGroup: config.lifecycle.maxEventsPerGroup,
      imagePullMs: config.lifecycle.imagePullMs,
      observed: runtime.kind === 'process',
    };
    this.scheduler = new Scheduler(this.now, (key) => this.onDue(key));
    this.imageCaches = new ImageCaches({
      store: this.store,
      now: this.now,
      readyMs: config.lifecycle.imageCacheReadyMs,
      schedule: (id, at) => this.scheduler.schedule(`imc:${id}`, at),
      cancel: (id) => this.scheduler.cancel(`imc:${id}`),
      persist: (p) => this.persist(p),
      place: (vSwitchIds) => this.placeBuilder(vSwitchIds),
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
    if (config.stateDir === undefined) {
      core.store.journal = new MemoryJournal();
    } else {
      core.store.journal = await FileJournal.open(
        {
          dir: config.stateDir,
          fsync: config.journal.fsync,
          compactBytes: config.journal.compactBytes,
          recovery: config.journal.recovery,
          logger,
          source: () => core.store.records(),
        },
        (rec) => core.store.replay(rec),
      );
    }
    core.store.finishReplay();
    await runtime.start(core.runtimeHost(), core.store.groups.values());
    for (const id of [...core.store.groups.keys()]) core.touchGroup(id);
    for (const id of [...core.store.imageCaches.keys()]) core.imageCaches.touch(id);
    return core;
  }

  async stop(): Promise<void> {
    this.scheduler.stop();
    // The records stay as they are (a restarted emulator starts their containers again).
    await this.runtime.stop();
    await this.store.journal?.close();
  }

  /** The runtime's handle on the records: every change is journaled and seen by the lifecycle. */
  private runtimeHost(): RuntimeHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getter below reads the live settings
    const core = this;
    return {
      now: this.now,
      get settings() {
        return core.settings;
      },
      logger: this.logger,
      update: (id, change) => {
        const g = this.store.groups.get(id);
        if (g === undefined) return;
        change(g, this.now());
        this.persist(this.store.putGroup(g));
        this.touchGroup(id);
      },
      remove: (id) => {
        if (!this.store.groups.has(id)) return;
        this.scheduler.cancel(id);
        this.persist(this.store.deleteGroup(id));
        this.runtime.forget(id);
      },
    };
  }

  // ---------------------------------------------------------------- lifecycle engine

  private onDue(key: string): void {
    if (key.startsWith('imc:')) this.imageCaches.touch(key.slice(4));
    else this.touchGroup(key);
  }

  persist(p: Promise<void>): void {
    p.catch((err: unknown) =>
      this.logger.error({ err }, 'emulator: a lifecycle change could not be journaled'),
    );
  }

  /** Moves a group forward to now, journals any change and schedules its next step. */
  touchGroup(id: string): void {
    const g = this.store.groups.get(id);
    if (g === undefined) return;
    const r = advance(g, this.now(), this.settings);
    if (r.deleted) {
      this.scheduler.cancel(id);
      this.persist(this.store.deleteGroup(id));
      this.runtime.forget(id);
      return;
    }
    if (r.changed) this.persist(this.store.putGroup(g));
    if (r.nextAt === undefined) this.scheduler.cancel(id);
    else this.scheduler.schedule(id, r.nextAt);
    this.runtime.sync(g);
  }

  /** Stores a changed group, lets the lifecycle react at once, and resolves when the change is durable. */
  private commit(g: GroupRecord): Promise<void> {
    const p = this.store.putGroup(g);
    this.touchGroup(g.id);
    return p.then(() => this.store.whenDurable(g.id));
  }

  // ---------------------------------------------------------------- container groups

  getGroup(id: string): GroupRecord {
    const g = this.store.groups.get(id);
    if (g === undefined) throw cloudErrors.containerGroupNotFound(id);
    return g;
  }

  async createGroup(input: CreateGroupInput): Promise<GroupRecord> {
    if (input.clientToken !== undefined) {
      const existing = this.store.groupByToken(input.clientToken);
      if (existing !== undefined) {
        if (existing.requestHash !== input.requestHash) throw cloudErrors.idempotentMismatch();
        await this.store.whenDurable(existing.id);
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
      candidates = candidates.filter((v) => this.store.pools.get(v.id)!.contains(ip));
      if (candidates.length === 0) throw cloudErrors.privateIpInvalid(ip, input.vSwitchIds.join(','));
    }
    if (input.dryRun) throw cloudErrors.dryRun();
    if (input.strategy === 'VSwitchRandom') candidates = this.shuffle(candidates);

    // From here to putGroup nothing awaits: stock and address checks and the claim are one step.
    let stockOut = false;
    let ipOut: string | undefined;
    let chosen: { vsw: (typeof candidates)[number]; ip: string } | undefined;
    for (const v of candidates) {
      const stock = this.zoneStock.get(v.zoneId) ?? null;
      if (stock !== null && this.store.liveInZone(v.zoneId) >= stock) {
        stockOut = true;
        continue;
      }
      const pool = this.store.pools.get(v.id)!;
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
      seq: this.store.nextSeq(),
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
      g.internetIp = `47.${96 + Math.floor(this.random() * 8)}.${Math.floor(this.random() * 256)}.${1 + Math.floor(this.random() * 254)}`;
    else if (input.spec.eipInstanceId !== undefined) g.internetIp = eipAddress(input.spec.eipInstanceId);
    input.prepare?.(g);
    await this.commit(g);
    return g;
  }

  private shuffle<T>(items: readonly T[]): T[] {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  async deleteGroup(id: string): Promise<void> {
    const g = this.getGroup(id);
    if (g.status === 'Terminating') return this.store.whenDurable(id);
    enterStatus(g, 'Terminating', this.now(), this.settings);
    await this.commit(g);
  }

  async restartGroup(id: string): Promise<void> {
    const g = this.getGroup(id);
    if (g.status !== 'Running' && g.status !== 'Pending') {
      throw cloudErrors.incorrectStatus(
        `The current status of the container group does not support this operation. Status: ${g.status}`,
      );
    }
    enterStatus(g, 'Restarting', this.now(), this.settings);
    await this.commit(g);
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
        enterStatus(g, 'Updating', now, this.settings);
        g.containers = runtimesFor(g.spec.containers, g.containers);
        g.initContainers = runtimesFor(g.spec.initContainers, g.initContainers);
      }
    }
    await this.commit(g);
  }

  /**
   * Where an image cache's intermediate instance goes: the first of `vSwitchIds` whose zone has stock
   * and whose vSwitch has a free address. Claims the address; throws the stock-out error otherwise.
   */
  private placeBuilder(vSwitchIds: string[]): { zoneId: string; vSwitchId: string; ip: string } {
    const region = this.config.region;
    let ipOut: string | undefined;
    for (const id of vSwitchIds) {
      const v = region.vSwitches.find((x) => x.id === id);
      if (v === undefined) throw cloudErrors.vSwitchNotFound(id);
      const stock = this.zoneStock.get(v.zoneId) ?? null;
      if (stock !== null && this.store.liveInZone(v.zoneId) >= stock) continue;
      const ip = this.store.pools.get(v.id)!.allocate();
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

  // ---------------------------------------------------------------- on demand (admin)

  /**
   * Moves the emulated cloud's clock forward by `ms` (retention and deadlines come due) and catches
   * every record up. Request signatures are still checked against the real clock.
   */
  advanceClock(ms: number): { offsetMs: number; now: number } {
    this.clockOffsetMs += ms;
    this.scheduler.clockMoved();
    for (const id of [...this.store.groups.keys()]) this.touchGroup(id);
    for (const id of [...this.store.imageCaches.keys()]) this.imageCaches.touch(id);
    return { offsetMs: this.clockOffsetMs, now: this.now() };
  }

  async driveStatus(id: string, status: GroupStatus, reason?: string): Promise<GroupRecord> {
    const g = this.getGroup(id);
    const now = this.now();
    if (status === 'Running' && g.status !== 'Running') {
      if (g.status !== 'Pending') enterStatus(g, 'Pending', now, this.settings);
    }
    enterStatus(g, status, now, this.settings, reason);
    await this.commit(g);
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
    await this.commit(g);
    return g;
  }

  async driveStuck(id: string, container: string, reason: string, message?: string): Promise<GroupRecord> {
    const g = this.getGroup(id);
    const r = driveStuck(g, container, reason, message, this.now(), this.settings);
    if (r === 'no-such-container') throw cloudErrors.containerNotFound(id, container);
    if (r === 'not-running') throw cloudErrors.incorrectStatus(`Container group ${id} is not running.`);
    await this.commit(g);
    return g;
  }

  async driveReady(id: string, container: string, ready: boolean | null): Promise<GroupRecord> {
    const g = this.getGroup(id);
    if (driveReady(g, container, ready, this.now()) === 'no-such-container') {
      throw cloudErrors.containerNotFound(id, container);
    }
    await this.commit(g);
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
    for (const id of this.store.groups.keys()) {
      this.scheduler.cancel(id);
      this.runtime.forget(id);
    }
    for (const id of this.store.imageCaches.keys()) this.scheduler.cancel(`imc:${id}`);
    this.exec.clear();
    this.faults.clear();
    for (const f of this.config.faults) this.faults.add(f);
    this.quotas.reset();
    for (const z of this.config.region.zones) this.zoneStock.set(z.id, z.stock);
    this.clockOffsetMs = 0;
    await this.store.reset();
  }

  zones(): {
    id: string;
    stock: number | null;
    live: number;
    vSwitches: { id: string; cidr: string; used: number; capacity: number }[];
  }[] {
    return this.config.region.zones.map((z) => ({
      id: z.id,
      stock: this.zoneStock.get(z.id) ?? null,
      live: this.store.liveInZone(z.id),
      vSwitches: this.config.region.vSwitches
        .filter((v) => v.zoneId === z.id)
        .map((v) => {
          const pool = this.store.pools.get(v.id)!;
          return { id: v.id, cidr: v.cidr, used: pool.inUse, capacity: pool.capacity };
        }),
    }));
  }
}
