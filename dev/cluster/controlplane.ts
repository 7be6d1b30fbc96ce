// The local control plane's lifecycle: `up`, `down`, `status`. The processes outlive the caller; all
// that ties later calls to them is the state directory (state.json, PID files, logs, certificates).
import { requirePrerequisites } from './prerequisites.ts';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, ProductError } from '../../src/util/errors.ts';
import { binaryPath, controlPlaneBinDir, ensureControlPlaneBinaries } from './binaries.ts';
import { apiServiceAvailable, apply, METRICS_APISERVICE, metricsApiObjects } from './metrics-api.ts';
import {
  apiserverUrl,
  componentArgs,
  metricsServerPort,
  componentEndpoint,
  healthCheck,
  kubeconfigFiles,
  type ComponentContext,
} from './components.ts';
import { pathExists, writeFileAtomic } from './fs.ts';
import { withLock } from './lock.ts';
import { clusterPkiFiles, ensureClusterPki, type CertFiles } from './pki.ts';
import { assertPortFree, isPortFree, pickFreePorts } from './ports.ts';
import { probe, type ProbeResult, type ProbeTls } from './probe.ts';
import {
  isAlive,
  readOwnedPid,
  removePidFile,
  startDetached,
  stopProcess,
  tailLog,
  type Ownership,
  type StartedProcess,
} from './processes.ts';
import {
  clusterPaths,
  COMPONENTS,
  defaultStateDir,
  ensureStateDirs,
  holdsOnlyClusterState,
  readState,
  validateClusterName,
  writeState,
  type ClusterPaths,
  type ClusterPorts,
  type ClusterState,
  type ComponentName,
} from './state.ts';

export { issueServingCert, type ServingCert } from './pki.ts';
export type { ClusterPorts, ComponentName } from './state.ts';

type Env = Record<string, string | undefined>;

export const DEFAULT_CLUSTER_NAME = 'default';
export const DEFAULT_NODE_MONITOR_GRACE_PERIOD = '40s';

export interface ClusterOptions {
  /** Default `default`. Clusters with different names (and state dirs) run side by side. */
  name?: string;
  /** Default: `ECI_VN_STATE_DIR`, else `~/.local/state/eci-virtual-node/clusters/<name>`. */
  stateDir?: string;
  /** Where ECI_VN_STATE_DIR, ECI_VN_CACHE, PATH and HOME are read from; default `process.env`. */
  env?: Env;
  /** Receives human-readable progress lines; default: written to stderr. */
  progress?: (line: string) => void;
}

export interface ClusterUpOptions extends ClusterOptions {
  /** Pin the API server's port (fails with PORT_IN_USE when taken); default: a free port. */
  apiserverPort?: number;
  /** kube-controller-manager's --node-monitor-grace-period; default 40s. */
  nodeMonitorGracePeriod?: string;
  /** Per wait (each component's health, then the default ServiceAccount); default 120 s. */
  readyTimeoutMs?: number;
  /** Aborting stops whatever this call started. */
  signal?: AbortSignal;
  /** Extra flags per component, for tests and debugging. */
  extraArgs?: Partial<Record<ComponentName, readonly string[]>>;
}

export interface ClusterInfo {
  name: string;
  stateDir: string;
  /** Admin kubeconfig (CN=admin, O=system:masters), referencing certificate files by path. */
  kubeconfig: string;
  apiserverUrl: string;
  /** The cluster CA: it signs all certificates, including those from `issueServingCert`. */
  caFile: string;
  ports: ClusterPorts;
  pids: Record<ComponentName, number>;
  nodeMonitorGracePeriod: string;
  logsDir: string;
  /** True when `clusterUp` found the cluster running and started nothing. */
  alreadyRunning: boolean;
}

export interface ComponentStatus {
  name: ComponentName;
  /** Set when a process we started for this component is alive. */
  pid?: number;
  healthy: boolean;
  endpoint?: string;
  logFile: string;
}

export interface ClusterStatus {
  name: string;
  stateDir: string;
  /** Every component alive and healthy. */
  running: boolean;
  components: ComponentStatus[];
  apiserverUrl?: string;
  kubeconfig?: string;
}

interface Resolved {
  name: string;
  env: Env;
  paths: ClusterPaths;
  /** Prints a line as it is (e.g. the build script's, which carry their own prefix). */
  progress: (line: string) => void;
  /** Prints a line prefixed with the cluster's name. */
  say: (line: string) => void;
}

function resolveCluster(opts: ClusterOptions): Resolved {
  const name = validateClusterName(opts.name ?? DEFAULT_CLUSTER_NAME);
  const env = opts.env ?? process.env;
  const progress = opts.progress ?? ((line: string) => void process.stderr.write(`${line}\n`));
  return {
    name,
    env,
    // Absolute, because the processes run with the state dir as their working directory.
    paths: clusterPaths(resolvePath(opts.stateDir ?? defaultStateDir(name, env))),
    progress,
    say: (line) => progress(`[cluster ${name}] ${line}`),
  };
}

const LOCK_TIMEOUT_MS = 5 * 60_000;
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/**
 * Starts the cluster unless it already runs, and returns once the API server is ready and the
 * `default` ServiceAccount exists (so pods can be created at once). On any failure or abort, every
 * process this call started is stopped again.
 */
export async function clusterUp(opts: ClusterUpOptions = {}): Promise<ClusterInfo> {
  const r = resolveCluster(opts);
  const { name, paths, say } = r;
  if (opts.nodeMonitorGracePeriod !== undefined && !GO_DURATION.test(opts.nodeMonitorGracePeriod)) {
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `--node-monitor-grace-period must be a duration such as 40s or 1m30s, not ${JSON.stringify(opts.nodeMonitorGracePeriod)}`,
    );
  }
  const port = opts.apiserverPort;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new ProductError(ErrorCodes.INVALID_INPUT, `--apiserver-port must be 1-65535, not ${port}`);
  }
  // Everything the build and the start need, checked before either begins.
  await requirePrerequisites({ env: r.env, needCluster: true });
  const binDir = await ensureControlPlaneBinaries({ env: r.env, progress: r.progress, signal: opts.signal });
  await ensureStateDirs(paths);
  const lockOpts = {
    timeoutMs: LOCK_TIMEOUT_MS,
    signal: opts.signal,
    onWait: (pid: number) => say(`waiting for another cluster command (pid ${pid}) to finish`),
  };
  return withLock(paths.lock, lockOpts, async () => {
    const previous = await readState(paths);
    if (previous && previous.name !== name) {
      throw new ProductError(
        ErrorCodes.INVALID_INPUT,
        `${paths.stateDir} holds cluster '${previous.name}', not '${name}'; use another --state-dir`,
      );
    }
    if (previous) {
      const status = await inspect(r, previous);
      if (status.running) return reuseRunning(r, previous, status, opts);
      await stopComponents(r, previous, 'stopping the leftovers of an earlier run');
    }
    return start(r, binDir, previous, opts);
  });
}

function reuseRunning(
  r: Resolved,
  state: ClusterState,
  status: ClusterStatus,
  opts: ClusterUpOptions,
): ClusterInfo {
  const conflicts: string[] = [];
  if (opts.apiserverPort !== undefined && opts.apiserverPort !== state.ports.apiserver) {
    conflicts.push(`--apiserver-port ${state.ports.apiserver}`);
  }
  if (
    opts.nodeMonitorGracePeriod !== undefined &&
    opts.nodeMonitorGracePeriod !== state.nodeMonitorGracePeriod
  ) {
    conflicts.push(`--node-monitor-grace-period ${state.nodeMonitorGracePeriod}`);
  }
  if (conflicts.length > 0) {
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `cluster '${r.name}' already runs with ${conflicts.join(' and ')}; run \`cluster down\` first to change that`,
    );
  }
  r.say(`already running at ${apiserverUrl(state.ports)}`);
  const pids = Object.fromEntries(status.components.map((c) => [c.name, c.pid ?? 0]));
  return info(r, state, pids as Record<ComponentName, number>, true);
}

function info(
  r: Resolved,
  state: ClusterState,
  pids: Record<ComponentName, number>,
  alreadyRunning: boolean,
): ClusterInfo {
  return {
    name: r.name,
    stateDir: r.paths.stateDir,
    kubeconfig: r.paths.kubeconfig,
    apiserverUrl: apiserverUrl(state.ports),
    caFile: clusterPkiFiles(r.paths.pki).ca.cert,
    ports: state.ports,
    pids,
    nodeMonitorGracePeriod: state.nodeMonitorGracePeriod,
    logsDir: r.paths.logs,
    alreadyRunning,
  };
}

async function start(
  r: Resolved,
  binDir: string,
  previous: ClusterState | undefined,
  opts: ClusterUpOptions,
): Promise<ClusterInfo> {
  const { name, paths, say } = r;
  const t0 = Date.now();
  const ports = await choosePorts(previous?.ports, opts.apiserverPort);
  const pki = await ensureClusterPki(paths.pki, name);
  const state: ClusterState = {
    name,
    binDir,
    ports,
    nodeMonitorGracePeriod: opts.nodeMonitorGracePeriod ?? DEFAULT_NODE_MONITOR_GRACE_PERIOD,
    startedAt: new Date().toISOString(),
  };
  const ctx: ComponentContext = {
    clusterName: name,
    paths,
    pki,
    ports,
    nodeMonitorGracePeriod: state.nodeMonitorGracePeriod,
  };
  for (const file of kubeconfigFiles(ctx)) await writeFileAtomic(file.path, file.content);
  // Recorded before anything starts, so `down` can find processes from an `up` that crashed midway.
  await writeState(paths, state);

  const tls = tlsLoader(pki.ca.cert);
  const timeoutMs = opts.readyTimeoutMs ?? 120_000;
  const started: StartedProcess<ComponentName>[] = [];
  const launch = async (component: ComponentName): Promise<StartedProcess<ComponentName>> => {
    const proc = await startDetached({
      name: component,
      binary: binaryPath(binDir, component),
      args: [...componentArgs(component, ctx), ...(opts.extraArgs?.[component] ?? [])],
      cwd: paths.stateDir,
      logFile: logFile(paths, component),
      pidFile: pidFile(paths, component),
    });
    started.push(proc);
    return proc;
  };
  const bringUp = async (component: ComponentName): Promise<StartedProcess<ComponentName>> => {
    const t = Date.now();
    say(`starting ${component} on ${componentEndpoint(component, ports)}`);
    const proc = await launch(component);
    const check = healthCheck(component, pki, ports);
    if (component === 'kube-apiserver') say('waiting for kube-apiserver /readyz');
    await waitUntil(`${component} ${new URL(check.url).pathname}`, proc, timeoutMs, opts.signal, async () =>
      probe(check.url, await tls(check.client)),
    );
    say(`${component} ready (${seconds(Date.now() - t)})`);
    return proc;
  };

  try {
    await bringUp('etcd');
    await bringUp('kube-apiserver');
    // allSettled: on a failure the other start must have finished too, or cleanup could miss it.
    const both = await Promise.allSettled([bringUp('kube-controller-manager'), bringUp('kube-scheduler')]);
    const failed = both.find((b) => b.status === 'rejected');
    if (failed) throw failed.reason;
    const kcm = (both[0] as PromiseFulfilledResult<StartedProcess<ComponentName>>).value;
    const t = Date.now();
    say('waiting for the default ServiceAccount and kube-root-ca.crt');
    const admin = await tls(pki.certs.admin);
    const base = apiserverUrl(ports);
    await waitUntil('default ServiceAccount', kcm, timeoutMs, opts.signal, async () => {
      const answers = await Promise.all([
        probe(`${base}/api/v1/namespaces/default/serviceaccounts/default`, admin),
        probe(`${base}/api/v1/namespaces/default/configmaps/kube-root-ca.crt`, admin),
      ]);
      return answers.find((a) => a.status !== 200) ?? { status: 200, body: '' };
    });
    say(`default ServiceAccount present (${seconds(Date.now() - t)})`);
    // metrics.k8s.io for `kubectl top` and HPAs: metrics-server, registered through the aggregation layer.
    // Its RBAC first: metrics-server reads the front proxy's CA from kube-system when it starts.
    const tm = Date.now();
    const caPem = (await readFile(pki.ca.cert)).toString();
    for (const o of metricsApiObjects(metricsServerPort(ports), caPem))
      await apply(base, admin, o.path, o.body);
    const ms = await bringUp('metrics-server');
    say(`waiting for the aggregation layer to reach metrics-server (APIService ${METRICS_APISERVICE})`);
    await waitUntil(`APIService ${METRICS_APISERVICE} Available`, ms, timeoutMs, opts.signal, async () => {
      const a = await probe(
        `${base}/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_APISERVICE}`,
        admin,
      );
      return a.status === 200 && !apiServiceAvailable(a.body)
        ? { status: 503, body: a.body.slice(0, 500) }
        : a;
    });
    say(`metrics.k8s.io available (${seconds(Date.now() - tm)})`);
  } catch (err) {
    say(`start failed; stopping ${started.map((p) => p.name).join(', ') || 'nothing'}`);
    for (const proc of [...started].reverse()) {
      // A process that will not die is reported, but must not hide why the start failed.
      await stopProcess(proc.pid).catch((stopErr: unknown) =>
        say(`could not stop ${proc.name}: ${String(stopErr)}`),
      );
      await removePidFile(pidFile(paths, proc.name));
    }
    throw err;
  }
  say(`ready in ${seconds(Date.now() - t0)} at ${apiserverUrl(ports)}`);
  const pids = Object.fromEntries(started.map((p) => [p.name, p.pid])) as Record<ComponentName, number>;
  return info(r, state, pids, false);
}

/**
 * Polls `check` until it answers 200; fails early, with the process's log, if the process exits, and
 * on timeout shows the last answer too (e.g. which /readyz check is still failing).
 */
async function waitUntil(
  what: string,
  proc: StartedProcess,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  check: () => Promise<ProbeResult>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    const answer = await check();
    if (answer.status === 200) return;
    if (!(await isAlive(proc.pid))) {
      throw await startFailed(`${proc.name} exited during start-up`, proc);
    }
    if (Date.now() >= deadline) {
      const last = answer.status === 0 ? answer.body : `HTTP ${answer.status}: ${answer.body.trim()}`;
      throw await startFailed(`${what} not ready within ${seconds(timeoutMs)} (last answer: ${last})`, proc);
    }
    await sleep(100, undefined, { signal });
  }
}

async function startFailed(message: string, proc: StartedProcess): Promise<ProductError> {
  const tail = await tailLog(proc.logFile, proc.logOffset);
  const shown = tail ? `; last lines of ${proc.logFile}:\n${indent(tail)}` : ` (${proc.logFile} is empty)`;
  return new ProductError(ErrorCodes.START_FAILED, `${message}${shown}`);
}

async function choosePorts(
  previous: ClusterPorts | undefined,
  pinnedApiserver?: number,
): Promise<ClusterPorts> {
  if (pinnedApiserver !== undefined) await assertPortFree(pinnedApiserver, 'kube-apiserver');
  const keys = [
    'etcdClient',
    'etcdPeer',
    'apiserver',
    'controllerManager',
    'scheduler',
    'metricsServer',
  ] as const;
  // Earlier ports are kept when free: etcd remembers its peer URL, and users their API server URL.
  const chosen: Partial<ClusterPorts> = {};
  if (pinnedApiserver !== undefined) chosen.apiserver = pinnedApiserver;
  for (const key of keys) {
    const old = previous?.[key];
    if (chosen[key] === undefined && old !== undefined && !Object.values(chosen).includes(old)) {
      if (await isPortFree(old)) chosen[key] = old;
    }
  }
  const fresh = (await pickFreePorts(keys.length * 2)).filter((p) => !Object.values(chosen).includes(p));
  for (const key of keys) chosen[key] ??= fresh.shift();
  return chosen as ClusterPorts;
}

/**
 * Stops every component process this state directory started (verified by /proc cmdline), leaving
 * any other process alone, and clears the PID files.
 */
async function stopComponents(
  r: Resolved,
  state: ClusterState | undefined,
  why: string,
): Promise<StoppedProcess[]> {
  const owners = ownership(r, state);
  const stopped: StoppedProcess[] = [];
  // Clients first, etcd last, so nothing logs errors about a backend that vanished under it.
  const waves: ComponentName[][] = [
    ['metrics-server', 'kube-scheduler', 'kube-controller-manager'],
    ['kube-apiserver'],
    ['etcd'],
  ];
  let announced = false;
  for (const wave of waves) {
    await Promise.all(
      wave.map(async (component) => {
        const file = pidFile(r.paths, component);
        const pid = await readOwnedPid(file, owners[component]);
        if (pid !== undefined) {
          if (!announced) r.say(why);
          announced = true;
          await stopProcess(pid);
          stopped.push({ name: component, pid });
        }
        await removePidFile(file);
      }),
    );
  }
  return stopped;
}

export interface StoppedProcess {
  name: ComponentName;
  pid: number;
}

function ownership(r: Resolved, state: ClusterState | undefined): Record<ComponentName, Ownership> {
  const binDir = state?.binDir ?? controlPlaneBinDir(r.env);
  // Every component's arguments name files in its state dir, which tells two clusters' processes apart.
  const marker = join(r.paths.stateDir, '/');
  return Object.fromEntries(COMPONENTS.map((c) => [c, { binary: binaryPath(binDir, c), marker }])) as Record<
    ComponentName,
    Ownership
  >;
}

export interface ClusterDownOptions extends ClusterOptions {
  /** Also delete the state directory (etcd data, certificates, logs). */
  purge?: boolean;
}

/** Stops every process `clusterUp` started for this cluster, and nothing else. Idempotent. */
export async function clusterDown(
  opts: ClusterDownOptions = {},
): Promise<{ stopped: StoppedProcess[]; purged: boolean }> {
  const r = resolveCluster(opts);
  if (!(await pathExists(r.paths.stateDir))) {
    r.say(`was not running (no ${r.paths.stateDir})`);
    return { stopped: [], purged: false };
  }
  const lockOpts = {
    timeoutMs: LOCK_TIMEOUT_MS,
    onWait: (pid: number) => r.say(`waiting for another cluster command (pid ${pid}) to finish`),
  };
  return withLock(r.paths.lock, lockOpts, async () => {
    const state = await readState(r.paths);
    const t = Date.now();
    const stopped = await stopComponents(r, state, 'stopping');
    const list = stopped.map((s) => `${s.name} (pid ${s.pid})`).join(', ');
    r.say(stopped.length > 0 ? `stopped ${list} in ${seconds(Date.now() - t)}` : 'was not running');
    let purged = false;
    if (opts.purge) {
      if (!(await holdsOnlyClusterState(r.paths))) {
        throw new ProductError(
          ErrorCodes.INVALID_INPUT,
          `${r.paths.stateDir} holds files that \`cluster up\` did not create; not deleting it`,
        );
      }
      await rm(r.paths.stateDir, { recursive: true, force: true });
      r.say(`deleted ${r.paths.stateDir}`);
      purged = true;
    }
    return { stopped, purged };
  });
}

/** What runs, by component. Never throws for a cluster that is not running. */
export async function clusterStatus(opts: ClusterOptions = {}): Promise<ClusterStatus> {
  const r = resolveCluster(opts);
  return inspect(r, await readState(r.paths));
}

async function inspect(r: Resolved, state: ClusterState | undefined): Promise<ClusterStatus> {
  const base = { name: r.name, stateDir: r.paths.stateDir };
  if (state === undefined) {
    const components = COMPONENTS.map((name) => ({ name, healthy: false, logFile: logFile(r.paths, name) }));
    return { ...base, running: false, components };
  }
  const owners = ownership(r, state);
  const pki = clusterPkiFiles(r.paths.pki);
  const tls = tlsLoader(pki.ca.cert);
  const components = await Promise.all(
    COMPONENTS.map(async (name): Promise<ComponentStatus> => {
      const pid = await readOwnedPid(pidFile(r.paths, name), owners[name]);
      const check = healthCheck(name, pki, state.ports);
      const healthy =
        pid !== undefined &&
        (await tls(check.client)
          .then((creds) => probe(check.url, creds))
          .then(
            (res) => res.status === 200,
            () => false,
          ));
      return {
        name,
        pid,
        healthy,
        endpoint: componentEndpoint(name, state.ports),
        logFile: logFile(r.paths, name),
      };
    }),
  );
  return {
    ...base,
    running: components.every((c) => c.healthy),
    components,
    apiserverUrl: apiserverUrl(state.ports),
    kubeconfig: r.paths.kubeconfig,
  };
}

/** The admin kubeconfig's path, and whether the cluster runs; NOT_RUNNING when it was never started. */
export async function clusterKubeconfig(
  opts: ClusterOptions = {},
): Promise<{ path: string; running: boolean }> {
  const r = resolveCluster(opts);
  if (!(await pathExists(r.paths.kubeconfig))) {
    throw new ProductError(
      ErrorCodes.NOT_RUNNING,
      `cluster '${r.name}' has no kubeconfig in ${r.paths.stateDir}; start it with \`eci-virtual-node cluster up\``,
    );
  }
  const status = await inspect(r, await readState(r.paths));
  return { path: r.paths.kubeconfig, running: status.running };
}

/** Reads each PEM file once per command, however often it probes. */
function tlsLoader(caFile: string): (client: CertFiles) => Promise<ProbeTls> {
  const files = new Map<string, Promise<Buffer>>();
  const read = (path: string) => {
    let content = files.get(path);
    if (!content) files.set(path, (content = readFile(path)));
    return content;
  };
  return async (client) => ({
    ca: await read(caFile),
    cert: await read(client.cert),
    key: await read(client.key),
  });
}

function pidFile(paths: ClusterPaths, component: ComponentName): string {
  return join(paths.run, `${component}.pid`);
}

function logFile(paths: ClusterPaths, component: ComponentName): string {
  return join(paths.logs, `${component}.log`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
