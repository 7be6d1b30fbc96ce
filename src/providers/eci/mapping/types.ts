/**
 * Shapes shared by the Pod ⇄ container group mapping. Everything in this folder is pure: no I/O,
 * no clock reads, no globals; time and fetched objects come in as arguments.
 */

/**
 * Why a pod cannot run on ECI, decided before any cloud call. `field` is the pod field path at fault
 * (as `kubectl explain` spells it), `reason` a stable CamelCase code fit for an Event reason, and
 * `message` says why and what to change. A refusal is permanent for that pod spec: retrying the same
 * spec gives the same answer. Messages name keys and objects, never a Secret's value.
 */
export interface Refusal {
  readonly field: string;
  readonly reason: RefusalReason;
  readonly message: string;
}

/** The refusal codes. Callers and tests match on these, never on message text. */
export const RefusalReasons = {
  WINDOWS: 'WindowsUnsupported',
  HOST_NETWORK: 'HostNetworkUnsupported',
  HOST_PID: 'HostPIDUnsupported',
  HOST_IPC: 'HostIPCUnsupported',
  HOST_PORT: 'HostPortUnsupported',
  DAEMONSET: 'DaemonSetPodUnsupported',
  EPHEMERAL_CONTAINERS: 'EphemeralContainersUnsupported',
  TOO_MANY_CONTAINERS: 'TooManyContainers',
  TOO_MANY_VOLUMES: 'TooManyVolumes',
  PRIVILEGED: 'PrivilegedUnsupported',
  CAPABILITY: 'CapabilityUnsupported',
  SYSCTL: 'SysctlUnsupported',
  HOST_PATH: 'HostPathVolumeUnsupported',
  VOLUME_TYPE: 'VolumeTypeUnsupported',
  VOLUME_DEVICE: 'VolumeDeviceUnsupported',
  EMPTY_DIR_MEDIUM: 'EmptyDirMediumUnsupported',
  PROJECTION: 'ProjectionUnsupported',
  PROTOCOL: 'ProtocolUnsupported',
  PROBE: 'ProbeUnsupported',
  PORT_NAME: 'PortNameUnresolved',
  SIDECAR: 'SidecarContainerUnsupported',
  RESOURCE_CLAIMS: 'ResourceClaimsUnsupported',
  GPU_NEEDS_INSTANCE_TYPE: 'GPUNeedsInstanceType',
  RESOURCES_TOO_LARGE: 'ResourcesTooLarge',
  ANNOTATION: 'InvalidEciAnnotation',
  UNSUPPORTED_ANNOTATION: 'UnsupportedEciAnnotation',
  CONFIG_FILE_TOO_LARGE: 'ConfigFileTooLarge',
  ENV: 'EnvUnsupported',
  SUBPATH_EXPR: 'SubPathExprUnresolved',
  IDENTITY: 'PodIdentityMissing',
  INVALID_SPEC: 'InvalidPodSpec',
  INVALID_QUANTITY: 'InvalidQuantity',
  INVALID_PORT: 'InvalidPort',
  CLOUD_PRIVILEGE: 'CloudPrivilegeNotAllowed',
} as const;

export type RefusalReason = (typeof RefusalReasons)[keyof typeof RefusalReasons];

export function refusal(field: string, reason: RefusalReason, message: string): Refusal {
  return { field, reason, message };
}

/**
 * Init data for an SDK model: the model's own fields, recursively, without its methods or its
 * `[key: string]: any` index signature — so a misspelt field name fails `tsc` instead of silently
 * vanishing from the wire. The SDK constructors turn nested plain objects into nested models.
 */
export type ModelInit<T> = T extends readonly (infer U)[]
  ? ModelInit<U>[]
  : T extends object
    ? {
        [
          K in keyof T as string extends K ? never : T[K] extends (...args: never[]) => unknown ? never : K
        ]?: ModelInit<T[K]>;
      }
    : T;
