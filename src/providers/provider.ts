import type { Duplex } from 'node:stream';
import type { V1Pod, V1PodStatus } from '@kubernetes/client-node';
import type { CloudPrivileges } from './eci/mapping/privileges.ts';
import type { ResolvedRefs } from './eci/mapping/refs.ts';

/**
 * Where a new instance goes and how it reaches cluster Services: the live configuration (eci-profile
 * over the environment) at the moment of the create, so a change applies to new pods only.
 */
export interface Placement {
  /** vSwitches to try, in order (one per zone); the pod's own annotation may override them. */
  readonly vSwitchIds: readonly string[];
  readonly securityGroupId: string;
  /** The cluster DNS; absent when ClusterIP access is off or the cluster has no kube-dns. */
  readonly clusterDNS?: { readonly nameservers: readonly string[]; readonly clusterDomain: string };
  /** The API server's Service env kubelet injects (KUBERNETES_SERVICE_HOST, ...); absent when off. */
  readonly serviceEnv?: Readonly<Record<string, string>>;
  /**
   * The cloud privileges (RAM role, security group, vSwitch, EIP) pods of this namespace may pick by
   * annotation; absent means none beyond the placement above.
   */
  readonly privileges?: CloudPrivileges;
}

/**
 * Everything from Kubernetes a provider needs to create a pod's instance, resolved by the pod side:
 * the provider never reads the cluster itself.
 */
export interface PodInputs {
  /** The ConfigMaps, Secrets and bound ServiceAccount tokens the pod refers to (a missing one is absent). */
  readonly refs: ResolvedRefs;
  readonly placement: Placement;
}

export interface ProviderEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** What the pod controller should do after a provider looked at a pod. */
export type SyncOutcome =
  /** Write this status; look again after `requeueAfterMs` if set (e.g. an activeDeadlineSeconds). */
  | { kind: 'status'; status: V1PodStatus; requeueAfterMs?: number; events?: ProviderEvent[] }
  /** The spec cannot run here; retrying the same spec gives the same answer. */
  | { kind: 'refused'; reason: string; message: string; events?: ProviderEvent[] }
  /** Not possible yet (missing ConfigMap, cloud error); retry with backoff. */
  | { kind: 'retry'; reason: string; message: string; status?: V1PodStatus; events?: ProviderEvent[] }
  /** Nothing can be done before `afterMs` (e.g. the cloud's rate quota); look again then, quietly. */
  | { kind: 'later'; afterMs: number; events?: ProviderEvent[] }
  /** The pod is finished and has no instance: nothing to do. */
  | { kind: 'terminal'; events?: ProviderEvent[] }
  /**
   * An instance must be created and `syncPod` was called without inputs: resolve them and call again.
   * Resolving costs API calls (and mints tokens), so it is done only when an instance is really made.
   */
  | { kind: 'needs-inputs'; events?: undefined };

/**
 * A backend that runs pods (ECI here). The pod controller owns the Kubernetes side; the provider owns
 * its instances and the index of them, and never calls back into Kubernetes: what it needs from there
 * comes in as arguments. Every method may be called again for the same pod at any time (after a
 * crash, a retry, a duplicate event) and must converge, never duplicate.
 */
export interface PodProvider {
  /**
   * Loads every instance this node owns (adopting those from earlier runs), then keeps watching them
   * in the background until `signal` aborts, calling `notify(podKey)` when a pod's instance changed.
   * Resolves after the initial load; rejects if it failed (the caller retries). `notify` must not block.
   */
  start(notify: (podKey: string) => void, signal: AbortSignal): Promise<void>;
  /**
   * Makes the pod's instance exist (at most one per pod UID) and says what status to write. Without
   * `inputs` it answers `needs-inputs` instead of creating; every other answer needs none.
   */
  syncPod(pod: V1Pod, inputs: PodInputs | undefined, signal: AbortSignal): Promise<SyncOutcome>;
  /** Deletes the pod's instances; an instance already gone counts as deleted. */
  deletePod(pod: V1Pod, signal: AbortSignal): Promise<void>;
  /** Deletes instances recorded for pod key `namespace/name` whose pod UID is not `liveUid`. */
  deleteStale(podKey: string, liveUid: string | undefined, signal: AbortSignal): Promise<void>;
  /** Deletes every instance whose pod UID is not in `liveUids` (pods deleted while we were down). */
  collectOrphans(liveUids: ReadonlySet<string>, signal: AbortSignal): Promise<void>;
}

/**
 * Uninstalling: every instance of this node, found in the backend itself (not in an index, which an
 * uninstaller never loaded), deleted and waited for until none is left.
 */
export interface InstanceSweeper {
  /**
   * Resolves with the number of deletions asked for once the backend holds none of this node's
   * instances; rejects (TIMEOUT) when some are still there after `timeoutMs`.
   */
  deleteAllInstances(o: {
    signal?: AbortSignal;
    timeoutMs?: number;
    say?: (line: string) => void;
  }): Promise<number>;
}

/** A container of a pod bound to the node, as the kubelet API found it in the pod cache. */
export interface ContainerRef {
  readonly pod: V1Pod;
  readonly container: string;
}

/** One log line: its timestamp (fixed-width RFC 3339 with nanoseconds, UTC) and text (no newline). */
export interface LogLine {
  readonly time: string;
  readonly text: string;
}

/** What to read of a container's log; the kubelet API applies the exact semantics on what comes back. */
export interface LogRead {
  /** The previous, terminated run instead of the current one. */
  readonly previous: boolean;
  /** At most this many of the newest lines (the backend may cap it; ECI: 2000). */
  readonly tailLines?: number;
  /** Nothing older than this (epoch ms); a backend may return a little more. */
  readonly since?: number;
  /** At most about this many bytes (a backend may return a little more). */
  readonly limitBytes?: number;
}

export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

/**
 * The streams of an exec or attach session, as the client asked for them. The provider reads `stdin`
 * until it ends, writes `stdout`/`stderr` and ends them when the process's output ends, and applies
 * each size `resize` yields.
 */
export interface SessionIO {
  readonly tty: boolean;
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream;
  readonly resize?: AsyncIterable<TerminalSize>;
}

/** How a command ended: its exit code, or a message when it could not run. */
export type SessionResult = { readonly exitCode: number } | { readonly error: string };

/** One container's latest resource sample. */
export interface ContainerUsage {
  readonly name: string;
  /** When the sample was taken (epoch ms). */
  readonly time: number;
  readonly startTime?: number;
  readonly cpu: { readonly usageNanoCores?: number; readonly usageCoreNanoSeconds?: number };
  readonly memory: {
    readonly workingSetBytes?: number;
    readonly usageBytes?: number;
    readonly rssBytes?: number;
    readonly availableBytes?: number;
  };
}

export interface PodUsage {
  readonly uid: string;
  readonly time: number;
  readonly containers: readonly ContainerUsage[];
  readonly cpu: ContainerUsage['cpu'];
  readonly memory: ContainerUsage['memory'];
  readonly network?: {
    readonly rxBytes: number;
    readonly txBytes: number;
    readonly rxErrors: number;
    readonly txErrors: number;
  };
}

/**
 * What the kubelet API asks of a provider: reading, entering and measuring the running pods. Each
 * call names a pod the kubelet API found bound to the node; the provider answers from its own
 * instances. Errors carry a ProductError code the kubelet API maps to HTTP: NOT_FOUND (no instance,
 * no such container), INVALID_INPUT (the request cannot be served as asked, e.g. a container not
 * running); anything else is a backend failure. Follow-mode logs are the kubelet API's: it polls
 * `containerLogs`, shared by every follower of a container (see src/kubelet/log-follow.ts).
 */
export interface PodIOProvider {
  /** The newest lines of a container's log, oldest first, with their timestamps. */
  containerLogs(ref: ContainerRef, read: LogRead, signal: AbortSignal): Promise<LogLine[]>;
  /** Runs `command` in the container with `io` attached; resolves when it ended. */
  exec(
    ref: ContainerRef,
    command: readonly string[],
    io: SessionIO,
    signal: AbortSignal,
  ): Promise<SessionResult>;
  /** Attaches `io` to the container's main process; resolves when the session ended. */
  attach(ref: ContainerRef, io: SessionIO, signal: AbortSignal): Promise<SessionResult>;
  /** A TCP connection to `port` of the pod (its IP in the VPC; the emulator's bridge offline). */
  portForward(pod: V1Pod, port: number, signal: AbortSignal): Promise<Duplex>;
  /** The latest sample of each pod given that has one, by pod UID; all in as few calls as the backend allows. */
  podUsage(pods: readonly V1Pod[], signal: AbortSignal): Promise<Map<string, PodUsage>>;
}
