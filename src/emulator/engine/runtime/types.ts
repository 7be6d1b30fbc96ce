import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../../../util/log.ts';
import type { LifecycleSettings } from '../lifecycle.ts';
import type { LogRequest } from '../logs.ts';
import type { GroupRecord } from '../model.ts';

/**
 * What runs behind the emulator's container groups. The lifecycle engine (lifecycle.ts, core.ts) owns
 * the records; a runtime makes them true and reports back:
 *
 * - `simulated`: nothing runs. Container runs are planned by the exit-code convention (convention.ts)
 *   and the lifecycle times them itself; logs, exec and metrics are derived from the record.
 * - `process`: containers are real processes in namespaces on a bridge the emulator owns. The runtime
 *   starts and stops them as the records say, and reports what really happened (started, exited with a
 *   code, OOM-killed, probe results) through the host's `update`.
 */

export type RuntimeKind = 'simulated' | 'process';

/** What a runtime may do to the records: always through the host, so every change is journaled. */
export interface RuntimeHost {
  now(): number;
  readonly settings: LifecycleSettings;
  readonly logger: Logger;
  /**
   * Applies `change` to the group's current record (nothing when it is gone), journals it and lets the
   * lifecycle react. `change` must be synchronous and must only use the lifecycle's observe* functions
   * or plain field updates.
   */
  update(id: string, change: (g: GroupRecord, now: number) => void): void;
  /** The group finished terminating: its record is removed (DeleteContainerGroup's end). */
  remove(id: string): void;
}

export interface ExecRequest {
  command: string[];
  tty: boolean;
  /** The client may send standard input. */
  stdin: boolean;
}

/**
 * A running exec session. `stdout` carries everything when `tty` is set (a terminal merges the
 * streams); `stdin` is absent unless the request asked for it. `exitCode` settles when the command has
 * ended and its output has been read to the end.
 */
export interface ExecHandle {
  stdout: Readable;
  stderr: Readable;
  stdin: Writable | undefined;
  resize(width: number, height: number): void;
  exitCode: Promise<number>;
  /** Ends the session early (the client went away). */
  kill(): void;
}

export interface UsageSample {
  /** CPU used since the container (group) started, in core-nanoseconds. */
  cpuCoreNanoSeconds: number;
  /** Current CPU use in nano-cores. */
  cpuNanoCores: number;
  memoryUsage: number;
  memoryWorkingSet: number;
  memoryRss: number;
  memoryCache: number;
}

export interface NetworkSample {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDrops: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDrops: number;
}

/** Resource use of a group at one time, as DescribeContainerGroupMetric reports it. */
export interface GroupSample {
  t: number;
  group: UsageSample;
  containers: Record<string, UsageSample>;
  network: NetworkSample;
}

export interface Runtime {
  readonly kind: RuntimeKind;
  /**
   * Called once before the emulator serves: `groups` are the journaled records. The runtime removes
   * what an earlier run of this emulator left behind (after a crash) and takes charge of the groups.
   */
  start(host: RuntimeHost, groups: Iterable<GroupRecord>): Promise<void>;
  /**
   * The group's record changed (or is new). Level-triggered: the runtime compares the record with what
   * runs and acts. Called often, after every change; must not block.
   */
  sync(g: GroupRecord): void;
  /** The group's record is gone: everything of it goes, its logs too. May be called more than once. */
  forget(id: string): void;
  /** The log of one container's current or previous run. Throws a CloudError when there is none. */
  logs(g: GroupRecord, container: string, q: LogRequest): Promise<string>;
  /** Starts a command in a running container (ExecContainerCommand's WebSocket). */
  exec(g: GroupRecord, container: string, req: ExecRequest): ExecHandle;
  /** Runs a command to completion and returns its standard output (ExecContainerCommand Sync=true). */
  execSync(g: GroupRecord, container: string, command: string[]): Promise<string>;
  /** Resource use at `t` (epoch ms); undefined when the group was not running then. */
  sample(g: GroupRecord, t: number): Promise<GroupSample | undefined>;
  /**
   * On demand (admin API): the container's current run ends now with `exitCode`. True when the
   * runtime does it itself (process); false when the lifecycle should plan the exit (simulated).
   */
  endRun(
    g: GroupRecord,
    container: string,
    exit: { exitCode: number; reason?: string; message?: string },
  ): boolean;
  /**
   * Builds what an image cache of `reference` holds, so that a group on that cache starts without
   * pulling it (CreateImageCache's build). Rejects when the image cannot be had; absent in a runtime
   * with nothing to build (simulated).
   */
  prepareImage?(reference: string): Promise<void>;
  /** What the admin API's /state shows about the runtime. */
  describe(): Record<string, unknown>;
  /** Stops every container and removes everything the runtime created (the records stay). */
  stop(): Promise<void>;
}
