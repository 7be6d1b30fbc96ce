import { mkdir, readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { ErrorCodes, ProductError } from '../../src/util/errors.ts';
import { writeFileAtomic } from './fs.ts';

/** The control-plane processes, in start order; they are stopped in reverse. */
export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'metrics-server',
] as const;
export type ComponentName = (typeof COMPONENTS)[number];

const portSchema = z.number().int().min(1).max(65535);

const stateSchema = z.object({
  name: z.string(),
  binDir: z.string(),
  ports: z.object({
    etcdClient: portSchema,
    etcdPeer: portSchema,
    apiserver: portSchema,
    controllerManager: portSchema,
    scheduler: portSchema,
    // Absent in state files written before metrics-server was part of the cluster.
    metricsServer: portSchema.optional(),
  }),
  nodeMonitorGracePeriod: z.string(),
  startedAt: z.string(),
});

/** What `cluster up` records so that later commands find the cluster it started. */
export type ClusterState = z.infer<typeof stateSchema>;
export type ClusterPorts = ClusterState['ports'];

export interface ClusterPaths {
  stateDir: string;
  stateFile: string;
  /** The admin kubeconfig handed to users and tests. */
  kubeconfig: string;
  pki: string;
  logs: string;
  /** PID files, one per component. */
  run: string;
  etcdData: string;
  lock: string;
}

export function clusterPaths(stateDir: string): ClusterPaths {
  return {
    stateDir,
    stateFile: join(stateDir, 'state.json'),
    kubeconfig: join(stateDir, 'kubeconfig'),
    pki: join(stateDir, 'pki'),
    logs: join(stateDir, 'logs'),
    run: join(stateDir, 'run'),
    etcdData: join(stateDir, 'etcd'),
    lock: join(stateDir, 'lock'),
  };
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Cluster names end up in file names and kubeconfig entries, so they are DNS labels. */
export function validateClusterName(name: string): string {
  if (!NAME.test(name)) {
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `invalid cluster name ${JSON.stringify(name)}: use lower-case letters, digits and '-' (at most 63)`,
    );
  }
  return name;
}

/**
 * `ECI_VN_STATE_DIR` replaces the whole default (it names this cluster's state directory, like
 * `--state-dir`); otherwise the XDG state home is used, `~/.local/state` when unset.
 */
export function defaultStateDir(name: string, env: Record<string, string | undefined>): string {
  if (env.ECI_VN_STATE_DIR) return env.ECI_VN_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'eci-virtual-node', 'clusters', validateClusterName(name));
}

/** The recorded state, or undefined when this directory never held a started cluster. */
export async function readState(paths: ClusterPaths): Promise<ClusterState | undefined> {
  let text: string;
  try {
    text = await readFile(paths.stateFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = stateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `${paths.stateFile} is not a cluster state file written by this version; run \`cluster down\` and remove it`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

export async function writeState(paths: ClusterPaths, state: ClusterState): Promise<void> {
  await writeFileAtomic(paths.stateFile, JSON.stringify(state, null, 2) + '\n');
}

export async function ensureStateDirs(paths: ClusterPaths): Promise<void> {
  // 0700: the directory holds the cluster CA key and admin credentials.
  await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
  for (const dir of [paths.pki, paths.logs, paths.run, paths.etcdData]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
}

/**
 * True when everything in the state directory is something `cluster up` creates, so that deleting the
 * directory loses nothing else (a mistaken `--state-dir ~` must not wipe a home directory).
 */
export async function holdsOnlyClusterState(paths: ClusterPaths): Promise<boolean> {
  const ours = new Set(
    [paths.stateFile, paths.kubeconfig, paths.pki, paths.logs, paths.run, paths.etcdData, paths.lock].map(
      (p) => basename(p),
    ),
  );
  const entries = await readdir(paths.stateDir);
  return entries.every(
    (e) => ours.has(e) || e.endsWith('.kubeconfig') || e.startsWith('lock.') || /\.tmp-\d+$/.test(e),
  );
}
