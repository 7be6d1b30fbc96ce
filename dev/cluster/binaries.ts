import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, ProductError } from '../../src/util/errors.ts';
import { pathExists } from './fs.ts';
import type { ComponentName } from './state.ts';

export const K8S_VERSION = '1.34.4';
export const ETCD_VERSION = '3.6.16';
export const METRICS_SERVER_VERSION = '0.8.0';

export type Env = Record<string, string | undefined>;

const BUILD_SCRIPT = fileURLToPath(new URL('../../tools/build-control-plane.sh', import.meta.url));
const METRICS_SERVER_SCRIPT = fileURLToPath(new URL('../../tools/build-metrics-server.sh', import.meta.url));

/** Where tools/build-control-plane.sh puts the binaries; keep the two in step. */
export function controlPlaneBinDir(env: Env): string {
  const cache = env.ECI_VN_CACHE || join(homedir(), '.cache', 'eci-virtual-node');
  return join(cache, 'control-plane', `k8s-v${K8S_VERSION}-etcd-v${ETCD_VERSION}`, 'bin');
}

export function binaryPath(binDir: string, component: ComponentName): string {
  // metrics-server is built and cached beside the control plane: <cache>/control-plane/metrics-server-v<v>/bin.
  if (component === 'metrics-server') return join(metricsServerBinDirBeside(binDir), component);
  return join(binDir, component);
}

/** Where tools/build-metrics-server.sh puts its binary; keep the two in step. */
export function metricsServerBinDir(env: Env): string {
  return metricsServerBinDirBeside(controlPlaneBinDir(env));
}

function metricsServerBinDirBeside(controlPlaneBin: string): string {
  return join(controlPlaneBin, '..', '..', `metrics-server-v${METRICS_SERVER_VERSION}`, 'bin');
}

/** True when a finished build is cached, i.e. `cluster up` will not need Go or a long build. */
export async function controlPlaneBuilt(env: Env): Promise<boolean> {
  return (
    (await pathExists(join(controlPlaneBinDir(env), '.complete'))) &&
    (await pathExists(join(metricsServerBinDir(env), '.complete')))
  );
}

/**
 * The directory holding etcd and the kube-* binaries, building them first when they are not cached.
 * The build's progress lines stream to `progress` as they come.
 */
export async function ensureControlPlaneBinaries(opts: {
  env: Env;
  progress: (line: string) => void;
  /** Aborting stops the build (bash, go and the compilers it runs). */
  signal?: AbortSignal;
}): Promise<string> {
  const { env, progress, signal } = opts;
  if (await controlPlaneBuilt(env)) return controlPlaneBinDir(env);
  if (!(await onPath('go', env))) {
    throw new ProductError(
      ErrorCodes.GO_MISSING,
      `the control plane (Kubernetes v${K8S_VERSION}, etcd v${ETCD_VERSION}) is not built yet and building it ` +
        'needs Go >= 1.24, which is not on PATH; install Go (https://go.dev/doc/install) and retry',
    );
  }
  progress(
    `[control-plane build] building control plane (first time): Kubernetes v${K8S_VERSION}, ` +
      `etcd v${ETCD_VERSION}, metrics-server v${METRICS_SERVER_VERSION}; cached afterwards in ` +
      `${join(controlPlaneBinDir(env), '..', '..')}`,
  );
  await build(BUILD_SCRIPT, 'the control plane', controlPlaneBinDir(env), { K8S_VERSION, ETCD_VERSION });
  await build(METRICS_SERVER_SCRIPT, 'metrics-server', metricsServerBinDir(env), { METRICS_SERVER_VERSION });
  return controlPlaneBinDir(env);

  async function build(script: string, what: string, want: string, versions: Record<string, string>) {
    if (await pathExists(join(want, '.complete'))) return;
    const { code, stdout, stderrTail } = await runBuild(script, { ...env, ...versions }, progress, signal);
    signal?.throwIfAborted();
    if (code !== 0) {
      throw new ProductError(
        ErrorCodes.BUILD_FAILED,
        `building ${what} failed (${script} exited with ${code}); last output:\n${stderrTail}`,
      );
    }
    const binDir = stdout.trim().split('\n').at(-1) ?? '';
    if (resolvePath(binDir) !== resolvePath(want) || !(await pathExists(join(want, '.complete')))) {
      throw new ProductError(
        ErrorCodes.BUILD_FAILED,
        `the ${what} build reported ${JSON.stringify(binDir)}, expected ${want}`,
      );
    }
  }
}

function runBuild(
  script: string,
  env: Env,
  progress: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<{ code: number; stdout: string; stderrTail: string }> {
  return new Promise((resolve, reject) => {
    // The versions are pinned here so the script cannot build (and cache under) another key. Its own
    // process group lets an abort stop the go processes under it too, not only bash.
    const child = spawn('bash', [script], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stop = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
      } catch {
        // the build already ended
      }
    };
    if (signal?.aborted) stop();
    signal?.addEventListener('abort', stop, { once: true });
    let stdout = '';
    let partial = '';
    const tail: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        progress(line);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    });
    child.once('error', reject);
    child.once('close', (code, sig) => {
      signal?.removeEventListener('abort', stop);
      if (partial) tail.push(partial);
      resolve({ code: code ?? (sig ? 128 : 1), stdout, stderrTail: tail.join('\n') });
    });
  });
}

export async function onPath(cmd: string, env: Env): Promise<boolean> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
