// Brings up the real control plane the integration tests run against (building it the first time),
// and takes it down after the run. ECI_VN_KEEP_CLUSTER=1 keeps it up for fast re-runs while developing.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { clusterDown, clusterStatus, clusterUp } from '../dev/cluster/controlplane.ts';
import { DEFAULT_ACCESS_KEY } from '../src/emulator/config.ts';
import { findSecrets } from './support/secret-scan.ts';
import { testClusterName } from './support/cluster-name.ts';

// ECI_VN_TEST_CLUSTER names the cluster, so several checkouts can run their suites side by side.
const CLUSTER = { name: testClusterName() };

export async function globalSetup(): Promise<void> {
  const started = Date.now();
  // A short node-monitor grace keeps the "controller killed → node not Ready" test under a minute;
  // it is still twice the 10 s lease renew period.
  // Start from an empty cluster unless one is kept running on purpose (ECI_VN_KEEP_CLUSTER).
  if (!(await clusterStatus(CLUSTER)).running) await clusterDown({ ...CLUSTER, purge: true });
  const info = await clusterUp({ ...CLUSTER, nodeMonitorGracePeriod: '20s' });
  process.env.ECI_VN_TEST_KUBECONFIG = info.kubeconfig;
  // Every controller the e2e files start writes its output here, for the secret scan at the end.
  process.env.ECI_VN_E2E_OUTPUT_DIR = await mkdtemp(path.join(os.tmpdir(), 'evn-e2e-output-'));
  process.env.ECI_VN_TEST_CA = info.caFile;
  process.stderr.write(
    `[test] control plane ${info.alreadyRunning ? 'already running' : 'started'} in ${Date.now() - started} ms: ${info.apiserverUrl}\n`,
  );
}

/**
 * The whole run's controller output, scanned for the emulator AccessKey every e2e file uses and for
 * credential shapes (tokens, signatures, keys); a leak fails the run. test/e2e/secrets.e2e.test.ts
 * adds Events, statuses, metrics and errors for a scenario with secrets of its own.
 */
async function scanControllerOutput(): Promise<void> {
  const dir = process.env.ECI_VN_E2E_OUTPUT_DIR;
  if (!dir) return;
  const files = await readdir(dir).catch(() => []);
  let bytes = 0;
  const leaks = [];
  for (const f of files) {
    const text = await readFile(path.join(dir, f), 'utf8');
    bytes += text.length;
    leaks.push(...findSecrets(f, text, [DEFAULT_ACCESS_KEY.id, DEFAULT_ACCESS_KEY.secret]));
  }
  await rm(dir, { recursive: true, force: true });
  process.stderr.write(
    `[test] secret scan of ${files.length} controller outputs (${bytes} bytes): ${leaks.length} leaks\n`,
  );
  if (leaks.length > 0) {
    throw new Error(`secrets in controller output: ${JSON.stringify(leaks, null, 2)}`);
  }
}

export async function globalTeardown(): Promise<void> {
  await scanControllerOutput();
  if (process.env.ECI_VN_KEEP_CLUSTER === '1') return;
  await clusterDown({ ...CLUSTER, purge: true });
}
