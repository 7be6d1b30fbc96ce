// Integration test against the real control plane (real binaries, real TLS, real kubectl). It skips
// itself when the binaries are not built, unless ECI_VN_REQUIRE_CLUSTER is set (as in CI), in which
// case the first `up` builds them.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, hasCode } from '../../src/util/errors.ts';
import { controlPlaneBuilt, K8S_VERSION } from './binaries.ts';
import {
  clusterDown,
  clusterStatus,
  clusterUp,
  DEFAULT_CLUSTER_NAME,
  DEFAULT_NODE_MONITOR_GRACE_PERIOD,
  type ClusterOptions,
} from './controlplane.ts';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../bin/eci-virtual-node.js', import.meta.url));
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

const skip =
  !(await controlPlaneBuilt(process.env)) && !process.env.ECI_VN_REQUIRE_CLUSTER
    ? 'control-plane binaries are not built: run tools/build-control-plane.sh, or set ECI_VN_REQUIRE_CLUSTER=1 to build them in this test'
    : false;

async function kubectl(kubeconfig: string, ...args: string[]): Promise<string> {
  return (await run(KUBECTL, ['--kubeconfig', kubeconfig, ...args])).stdout;
}

/**
 * Runs the CLI and resolves with its exit code and output. `up` passes its stderr through, so that a
 * first-time build in CI shows its progress as it happens.
 */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const passStderr = args[1] === 'up';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      if (passStderr) process.stderr.write(c);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** PIDs of every process whose arguments mention `dir`: what a cluster in `dir` may have left. */
async function processesUsing(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some((a) => a.includes(`${dir}/`))) found.push(Number(entry));
  }
  return found;
}

function listen(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

describe('cluster up / status / down (real control plane)', { skip }, () => {
  let root: string;
  const quiet = () => {};
  const cluster = (name: string): Required<Pick<ClusterOptions, 'name' | 'stateDir'>> & ClusterOptions => ({
    name,
    stateDir: join(root, name),
    progress: quiet,
  });
  const main = () => cluster('cluster-selftest');

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'evn-cluster-'));
  });
  after(async () => {
    for (const name of ['cluster-selftest', 'cluster-selftest-port', 'cluster-selftest-fail']) {
      await clusterDown({ ...cluster(name), purge: true }).catch(() => {});
    }
    await rm(root, { recursive: true, force: true });
  });

  it('`cluster up` starts a control plane that outlives the CLI and that kubectl can use', async (t) => {
    const { stateDir, name } = main();
    const t0 = Date.now();
    const up = await cli('cluster', 'up', '--name', name, '--state-dir', stateDir);
    t.diagnostic(`cluster up (CLI, from nothing to ready): ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    assert.equal(up.code, 0);
    const kubeconfig = up.stdout.trim();
    assert.equal(kubeconfig, join(stateDir, 'kubeconfig'));

    const namespaces = (await kubectl(kubeconfig, 'get', 'namespaces', '-o', 'name')).split('\n');
    assert.ok(namespaces.includes('namespace/default'), namespaces.join(' '));
    assert.ok(namespaces.includes('namespace/kube-system'), namespaces.join(' '));

    const version = JSON.parse(await kubectl(kubeconfig, 'version', '-o', 'json')) as {
      serverVersion: { gitVersion: string };
    };
    assert.equal(version.serverVersion.gitVersion, `v${K8S_VERSION}`);

    const whoami = JSON.parse(await kubectl(kubeconfig, 'auth', 'whoami', '-o', 'json')) as {
      status: { userInfo: { username: string; groups: string[] } };
    };
    assert.equal(whoami.status.userInfo.username, 'admin');
    assert.ok(whoami.status.userInfo.groups.includes('system:masters'));

    // `kubectl run` works at once only if the ServiceAccount admission finds `default`.
    await kubectl(kubeconfig, 'get', 'serviceaccount', 'default', '--namespace', 'default');
  });

  it('`up` on a running cluster starts nothing and returns the same kubeconfig', async () => {
    const before = await clusterStatus(main());
    assert.equal(before.running, true);
    const info = await clusterUp(main());
    assert.equal(info.alreadyRunning, true);
    assert.equal(info.kubeconfig, join(main().stateDir, 'kubeconfig'));
    assert.deepEqual(
      before.components.map((c) => c.pid),
      [
        info.pids.etcd,
        info.pids['kube-apiserver'],
        info.pids['kube-controller-manager'],
        info.pids['kube-scheduler'],
        info.pids['metrics-server'],
      ],
    );
    assert.equal(info.nodeMonitorGracePeriod, '40s');
    await assert.rejects(clusterUp({ ...main(), nodeMonitorGracePeriod: '10s' }), (e) =>
      hasCode(e, ErrorCodes.INVALID_INPUT),
    );
  });

  it('`status` and `kubeconfig` report the running cluster', async () => {
    const { name, stateDir } = main();
    const status = await cli('cluster', 'status', '--name', name, '--state-dir', stateDir);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /kube-apiserver +healthy +pid \d+/);
    const path = await cli('cluster', 'kubeconfig', '--name', name, '--state-dir', stateDir);
    assert.equal(path.code, 0);
    assert.equal(path.stdout, `${join(stateDir, 'kubeconfig')}\n`);
    const printed = await cli('cluster', 'kubeconfig', '--print', '--name', name, '--state-dir', stateDir);
    assert.doesNotMatch(printed.stdout, /PRIVATE KEY|client-key-data/);
  });

  it('fails with PORT_IN_USE on a taken pinned port, leaving nothing running', async () => {
    const busy = await listen();
    try {
      const port = (busy.address() as { port: number }).port;
      const opts = cluster('cluster-selftest-port');
      await assert.rejects(clusterUp({ ...opts, apiserverPort: port }), (e) =>
        hasCode(e, ErrorCodes.PORT_IN_USE),
      );
      assert.deepEqual(await processesUsing(opts.stateDir), []);
      assert.equal((await clusterStatus(opts)).running, false);
    } finally {
      busy.close();
    }
  });

  it('stops what it started when a component fails, and shows that component’s log', async () => {
    const opts = cluster('cluster-selftest-fail');
    await assert.rejects(
      clusterUp({ ...opts, extraArgs: { 'kube-apiserver': ['--no-such-flag'] } }),
      (e: Error) =>
        hasCode(e, ErrorCodes.START_FAILED) &&
        /kube-apiserver/.test(e.message) &&
        /no-such-flag/.test(e.message),
    );
    assert.deepEqual(await processesUsing(opts.stateDir), [], 'etcd was stopped again');
  });

  it('`down` stops every process of the cluster and `status` then fails', async () => {
    const opts = main();
    const pids = (await clusterStatus(opts)).components.map((c) => c.pid);
    assert.ok(pids.every((p) => p !== undefined));
    const { stopped } = await clusterDown(opts);
    assert.deepEqual(stopped.map((s) => s.name).sort(), [
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'metrics-server',
    ]);
    assert.deepEqual(await processesUsing(opts.stateDir), []);
    const status = await cli('cluster', 'status', '--name', opts.name, '--state-dir', opts.stateDir);
    assert.notEqual(status.code, 0);
    assert.match(status.stderr, /EVN_NOT_RUNNING/);
    assert.deepEqual(await clusterDown(opts), { stopped: [], purged: false });
  });
});

describe('`cluster` help', () => {
  it('states the defaults the control plane applies (the CLI loads this module only to run a subcommand)', async () => {
    const help = await cli('cluster', 'up', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`--name <name>[^]*\\(default: "${DEFAULT_CLUSTER_NAME}"\\)`));
    assert.match(help.stdout, new RegExp(`\\(default: ${DEFAULT_NODE_MONITOR_GRACE_PERIOD}\\)`));
  });
});
