import type { GroupStatus } from '../config.ts';

/**
 * The emulator's records. Plain JSON (they are journaled as they are); times are epoch milliseconds.
 * A record is replaced as a whole on every change, which makes journal replay idempotent.
 */

export interface Tag {
  key: string;
  value: string;
}

export interface EnvVar {
  key: string;
  value?: string;
  fieldPath?: string;
}

export interface Probe {
  exec?: string[];
  httpGet?: { path?: string; port?: number; scheme?: string };
  tcpSocket?: { port?: number; host?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  timeoutSeconds?: number;
}

export interface VolumeMount {
  name?: string;
  mountPath?: string;
  subPath?: string;
  readOnly?: boolean;
  mountPropagation?: string;
}

export interface ContainerSpec {
  name: string;
  image: string;
  imagePullPolicy?: string;
  command: string[];
  args: string[];
  cpu?: number;
  memory?: number;
  gpu?: number;
  workingDir?: string;
  env: EnvVar[];
  ports: { port: number; protocol?: string }[];
  volumeMounts: VolumeMount[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext?: { capabilityAdd?: string[]; readOnlyRootFilesystem?: boolean; runAsUser?: number };
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
}

export interface VolumeSpec {
  name: string;
  type?: string;
  nfs?: { server?: string; path?: string; readOnly?: boolean };
  emptyDir?: { medium?: string; sizeLimit?: string };
  configFiles?: { path?: string; content?: string; mode?: number }[];
  /** ConfigFileVolume.DefaultMode: the mode of files that set none. */
  configDefaultMode?: number;
  disk?: { diskId?: string; fsType?: string; diskSize?: number };
  flex?: { driver?: string; fsType?: string; options?: string };
  hostPath?: { path?: string; type?: string };
}

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export interface GroupSpec {
  containers: ContainerSpec[];
  initContainers: ContainerSpec[];
  volumes: VolumeSpec[];
  restartPolicy: RestartPolicy;
  cpu: number;
  memory: number;
  instanceType?: string;
  ephemeralStorage?: number;
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
  dnsPolicy?: string;
  dnsConfig?: { nameServers: string[]; searches: string[]; options: { name: string; value?: string }[] };
  hostAliases: { ip: string; hostnames: string[] }[];
  sysctls: { name: string; value: string }[];
  ntpServers: string[];
  hostName?: string;
  spotStrategy?: string;
  spotPriceLimit?: number;
  ramRoleName?: string;
  resourceGroupId?: string;
  autoCreateEip?: boolean;
  eipBandwidth?: number;
  autoMatchImageCache?: boolean;
  imageSnapshotId?: string;
  spotDuration?: number;
  eipInstanceId?: string;
  eipISP?: string;
  eipCommonBandwidthPackage?: string;
  corePattern?: string;
  ipv6AddressCount?: number;
  privateIpAddress?: string;
  fixedIp?: boolean;
  ingressBandwidth?: number;
  egressBandwidth?: number;
}

export type ContainerStateName = 'Waiting' | 'Running' | 'Terminated';

export interface ContainerStatusSnapshot {
  state: ContainerStateName;
  reason?: string;
  message?: string;
  exitCode?: number;
  signal?: number;
  startTime?: number;
  finishTime?: number;
}

export interface ContainerRuntime extends ContainerStatusSnapshot {
  name: string;
  restartCount: number;
  ready: boolean;
  /** Set on demand (admin API); overrides the readiness the emulator derives. */
  readyOverride?: boolean;
  /** When the container becomes ready (readiness probe initial delay). */
  readyAt?: number;
  /** Planned termination of the current run. */
  exitAt?: number;
  plannedExitCode?: number;
  /** Reason and message of a termination driven on demand (the admin API), instead of Completed/Error. */
  exitReason?: string;
  exitMessage?: string;
  /** When a terminated container starts again (restart policy back-off). */
  restartAt?: number;
  /** Waiting in a state that is not retried (the admin API's `stuck`): only a group restart clears it. */
  stuck?: boolean;
  previous?: ContainerStatusSnapshot;
}

export interface GroupEvent {
  name: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  count: number;
  first: number;
  last: number;
  /** The container the event is about, when it is about one. */
  container?: string;
}

export interface GroupRecord {
  id: string;
  /** Creation order; pages are cut by it. */
  seq: number;
  uuid: string;
  name: string;
  regionId: string;
  zoneId: string;
  vSwitchId: string;
  securityGroupId: string;
  vpcId: string;
  ip: string;
  internetIp?: string;
  tags: Tag[];
  clientToken?: string;
  /** Hash of the create request's parameters, to detect a reused ClientToken with other parameters. */
  requestHash?: string;
  spec: GroupSpec;
  status: GroupStatus;
  statusReason?: string;
  createdAt: number;
  /** When `status` last changed (stage delays count from here). */
  statusSince: number;
  /** When anything observable last changed (the SinceSecond feed). */
  changedAt: number;
  startedAt?: number;
  succeededAt?: number;
  failedAt?: number;
  expiredAt?: number;
  containers: ContainerRuntime[];
  initContainers: ContainerRuntime[];
  events: GroupEvent[];
  /** Containers' restart counts go up at the next start (after RestartContainerGroup or an update). */
  bumpRestartCount?: boolean;
  /** Init containers changed since the group started: they run at its next start. */
  initPending?: boolean;
  /** The image cache the group was created from (a hit), whose images need no pull. */
  imageCacheId?: string;
  /** The hit cache's images (normalized): these start without a pull. */
  cachedImages?: string[];
  eventSeq: number;
}

export type ImageCacheStatus = 'Preparing' | 'Creating' | 'Ready' | 'Failed' | 'Expired' | 'Deleting';

export interface ImageCacheRecord {
  id: string;
  seq: number;
  name: string;
  images: string[];
  size: number;
  status: ImageCacheStatus;
  progress: string;
  createdAt: number;
  statusSince: number;
  retentionDays?: number;
  eliminationStrategy?: string;
  tags: Tag[];
  containerGroupId: string;
  snapshotId?: string;
  resourceGroupId?: string;
  clientToken?: string;
  events: GroupEvent[];
  lastMatchedAt?: number;
  /**
   * While it builds, a cache holds what the cloud spends on it: an intermediate instance in a zone
   * (one unit of that zone's stock) with an address from one of its vSwitches.
   */
  zoneId?: string;
  vSwitchId?: string;
  ip?: string;
  /** How long this cache takes to build (absent in records of older emulators: the configured time). */
  buildMs?: number;
  /** When it expires: its retention, or a day after it failed. */
  expireAt?: number;
  /** Made by AutoMatchImageCache when a create matched no cache. */
  auto?: boolean;
  /** The runtime has built what the cache holds (a runtime with nothing to build: always). */
  prepared?: boolean;
}
