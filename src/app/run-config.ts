import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseEciSettings, parseKubeProxy, type EciSettings } from '../config/eci-settings.ts';
import { defaultNodeIp, parseNodeOptions, type NodeOptions } from '../config/node-options.ts';
import { RUNTIME_CHOICES, type RuntimeChoice } from '../emulator/config.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { parseLogFormat, type LogFormat } from '../util/log.ts';
import { tracingRequested } from '../tracing/tracing.ts';
import {
  leaderElectionConfig,
  type LeaderElectionConfig,
  type LeaderElectionFlags,
} from './leader-config.ts';

/** The process environment, as the CLI's entry point hands it down. Nothing below it reads `process.env`. */
export type { Env } from './env.ts';
import type { Env } from './env.ts';

/** `run`'s flags as commander parsed them: strings, and absent when not given (no defaults here). */
export interface RunFlags {
  kubeconfig?: string;
  nodeName?: string;
  nodeIp?: string;
  kubeletPort?: string;
  cpu?: string;
  memory?: string;
  pods?: string;
  ephemeralStorage?: string;
  zone?: string;
  clusterId?: string;
  emulatorStateDir?: string;
  emulatorRuntime?: string;
  eciProfile?: string;
  webhookPort?: string;
  webhookEndpoint?: string;
  webhookName?: string;
  metricsPort?: string;
  metricsBindAddress?: string;
  kubeApiQps?: string;
  kubeApiBurst?: string;
  eciQuotaMultiplier?: string;
  logLevel?: string;
  logFormat?: string;
  kubeletBindAddress?: string;
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  certDir?: string;
  approveOwnServingCsr?: boolean;
  clientCaFile?: string;
}

/** Flags of `run` that the sections below parse in their own modules. */
export type AllRunFlags = RunFlags & LeaderElectionFlags & { impersonateNode?: boolean };

/** Everything the controller is configured with, validated; the composition root takes nothing else. */
export interface RunConfig {
  /** Where the cluster is: a kubeconfig file, else in-cluster (a pod's ServiceAccount), else ~/.kube/config. */
  kube: { kubeconfig?: string; inCluster: boolean; qps: number; burst: number };
  node: NodeOptions;
  /** Tagged on every container group; default (undefined) = the kube-system namespace's UID. */
  clusterId?: string;
  eci: EciSettings;
  /** ECI_KUBE_PROXY: ClusterIP access for new pods unless eci-profile's enableClusterIp says otherwise. */
  kubeProxy: boolean;
  eciQuotaMultiplier: number;
  emulatorStateDir: string;
  /** What runs the embedded emulator's containers. */
  emulatorRuntime: RuntimeChoice;
  eciProfile: { namespace: string; name: string };
  webhook?: { port: number; endpoint: string; name: string };
  metrics?: { port: number; bindAddress: string };
  logLevel: string;
  logFormat: LogFormat;
  /** OpenTelemetry export requested (OTEL_EXPORTER_OTLP_ENDPOINT): pods' spans are made. */
  tracing: boolean;
  kubelet: KubeletConfig;
  /** Absent: this process leads from the start (one replica). */
  leaderElection?: LeaderElectionConfig;
  /**
   * Pods and the Node are handled as `system:node:<node name>` (impersonated), so the Node authorizer
   * and NodeRestriction confine those writes and reads to this node; the ServiceAccount keeps only
   * what a node may not do (its configuration, the webhook, the leader Lease).
   */
  impersonateNode: boolean;
}

/** The kubelet API on --kubelet-port (the port itself is a node setting: the Node advertises it). */
export interface KubeletConfig {
  bindAddress: string;
  /** Both or neither: a serving certificate and key from files (in a cluster, a mounted Secret). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Where a cluster-issued serving certificate is kept across restarts. */
  certDir?: string;
  /** Approve our own kubelet-serving CSR (the RBAC for it is opt-in, see deploy/). */
  approveOwnServingCsr: boolean;
  /** Replaces the API server's published client CA (kube-system/extension-apiserver-authentication). */
  clientCaFile?: string;
  /** DescribeContainerLog calls per minute all `logs -f` pollers share (60 % of ECI's 500 by default). */
  logFollowCallsPerMinute: number;
  /** How long one usage read serves /stats/summary and /metrics/resource. */
  metricsCacheMs: number;
}

/**
 * Defaults of `run`, shown by `--help` and applied by `resolveRunConfig` — one table, so the help text
 * cannot drift from what the controller does.
 */
export const RUN_DEFAULTS = {
  nodeName: 'virtual-kubelet',
  kubeletPort: '10250',
  cpu: '2000',
  memory: '8Ti',
  pods: '10000',
  ephemeralStorage: '40Ti',
  eciProfile: 'kube-system/eci-profile',
  webhookEndpoint: 'service',
  webhookName: 'eci-virtual-node',
  metricsBindAddress: '0.0.0.0',
  kubeApiQps: '200',
  kubeApiBurst: '400',
  eciQuotaMultiplier: '1',
  logLevel: 'info',
  logFormat: 'json',
  kubeletBindAddress: '0.0.0.0',
} as const;

/** The environment variable behind each flag that has one (ack-virtual-node's names, and kubelet's). */
export const RUN_ENV = {
  kubeconfig: 'KUBECONFIG',
  nodeName: 'VKUBELET_NODE_NAME',
  nodeIp: 'VKUBELET_POD_IP',
  kubeletPort: 'KUBELET_PORT',
  logLevel: 'LOG_LEVEL',
  logFormat: 'LOG_FORMAT',
} as const satisfies Partial<Record<keyof RunFlags, string>>;

export function defaultEmulatorStateDir(home = os.homedir()): string {
  return path.join(home, '.local', 'state', 'eci-virtual-node', 'emulator');
}

/**
 * The effective configuration of `run`, in one place. Precedence, for every setting: the flag, then
 * its environment variable, then the default. ECI settings come from the environment only (the names
 * ack-virtual-node users set with `kubectl edit deployment`); at run time the eci-profile ConfigMap
 * wins over them (see LiveConfig). Errors name the flag or variable at fault and never echo a secret.
 */
export function resolveRunConfig(flags: AllRunFlags, env: Env): RunConfig {
  const pick = (key: Exclude<keyof RunFlags, 'approveOwnServingCsr'>): string | undefined => {
    const fromFlag = flags[key];
    if (fromFlag !== undefined) return fromFlag;
    const name = (RUN_ENV as Partial<Record<keyof RunFlags, string>>)[key];
    const fromEnv = name === undefined ? undefined : env[name];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const withDefault = (key: keyof typeof RUN_DEFAULTS): string => pick(key) ?? RUN_DEFAULTS[key];
  const pickString = (key: 'tlsCertFile' | 'tlsPrivateKeyFile' | 'clientCaFile' | 'kubeletBindAddress') => {
    const v = flags[key];
    return v === undefined || v === '' ? undefined : v;
  };

  const node = parseNodeOptions({
    nodeName: withDefault('nodeName'),
    nodeIp: pick('nodeIp') ?? defaultNodeIp(),
    kubeletPort: withDefault('kubeletPort'),
    cpu: withDefault('cpu'),
    memory: withDefault('memory'),
    pods: withDefault('pods'),
    ephemeralStorage: withDefault('ephemeralStorage'),
    zone: pick('zone'),
  });
  const kubeconfig = pick('kubeconfig');
  const webhookPort = pick('webhookPort');
  const metricsPort = pick('metricsPort');
  return {
    kube: {
      kubeconfig,
      inCluster: kubeconfig === undefined && (env.KUBERNETES_SERVICE_HOST ?? '') !== '',
      qps: number('--kube-api-qps', withDefault('kubeApiQps'), 1),
      burst: number('--kube-api-burst', withDefault('kubeApiBurst'), 1),
    },
    node,
    clusterId: pick('clusterId'),
    eci: parseEciSettings(env),
    kubeProxy: parseKubeProxy(env),
    eciQuotaMultiplier: number('--eci-quota-multiplier', withDefault('eciQuotaMultiplier'), 0.01),
    emulatorStateDir: pick('emulatorStateDir') ?? defaultEmulatorStateDir(),
    emulatorRuntime: runtimeChoice(pick('emulatorRuntime') ?? 'auto'),
    eciProfile: namespacedName('--eci-profile', withDefault('eciProfile')),
    webhook:
      webhookPort === undefined
        ? undefined
        : {
            port: port('--webhook-port', webhookPort),
            endpoint: withDefault('webhookEndpoint'),
            name: withDefault('webhookName'),
          },
    metrics:
      metricsPort === undefined
        ? undefined
        : { port: port('--metrics-port', metricsPort), bindAddress: withDefault('metricsBindAddress') },
    logLevel: logLevel(withDefault('logLevel')),
    logFormat: parseLogFormat(withDefault('logFormat'), '--log-format (or env LOG_FORMAT)'),
    tracing: tracingRequested(env),
    kubelet: kubeletConfig(),
    leaderElection: leaderElectionConfig(flags, env, node.nodeName),
    impersonateNode: flags.impersonateNode === true,
  };

  function kubeletConfig(): KubeletConfig {
    const tlsCertFile = pickString('tlsCertFile');
    const tlsKeyFile = pickString('tlsPrivateKeyFile');
    if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
      throw new ProductError(
        ErrorCodes.CONFIG_INVALID,
        `${tlsCertFile === undefined ? '--tls-cert-file' : '--tls-private-key-file'}: must be given together with ` +
          `${tlsCertFile === undefined ? '--tls-private-key-file' : '--tls-cert-file'}`,
      );
    }
    const bindAddress = pickString('kubeletBindAddress') ?? RUN_DEFAULTS.kubeletBindAddress;
    if (isIP(bindAddress) === 0) {
      throw new ProductError(
        ErrorCodes.CONFIG_INVALID,
        `--kubelet-bind-address: must be an IP address (got ${JSON.stringify(bindAddress)})`,
      );
    }
    const multiplier = number('--eci-quota-multiplier', withDefault('eciQuotaMultiplier'), 0.01);
    return {
      bindAddress,
      tlsCertFile,
      tlsKeyFile,
      certDir: pick('certDir'),
      approveOwnServingCsr: flags.approveOwnServingCsr === true,
      clientCaFile: pickString('clientCaFile'),
      logFollowCallsPerMinute: Math.max(1, Math.floor(300 * multiplier)),
      metricsCacheMs: 10_000,
    };
  }
}

function runtimeChoice(value: string): RuntimeChoice {
  if (!(RUNTIME_CHOICES as readonly string[]).includes(value)) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `--emulator-runtime: must be one of ${RUNTIME_CHOICES.join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
  return value as RuntimeChoice;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function logLevel(value: string): string {
  if (!LEVELS.includes(value)) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `--log-level (or env LOG_LEVEL): must be one of ${LEVELS.join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

function namespacedName(flag: string, value: string): { namespace: string; name: string } {
  const [namespace, name, extra] = value.split('/');
  if (!namespace || !name || extra !== undefined) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `${flag}: must be namespace/name (got ${JSON.stringify(value)})`,
    );
  }
  return { namespace, name };
}

/** A number flag, validated; the error names the flag. */
function number(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `${flag}: must be a number >= ${min} (got ${JSON.stringify(value)})`,
    );
  }
  return n;
}

/** A port flag: 0 (any free port) to 65535. */
function port(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `${flag}: must be a port 0-65535 (got ${JSON.stringify(value)})`,
    );
  }
  return n;
}
