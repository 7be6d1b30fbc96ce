// Brings up the real control plane the integration tests run against (building it the first time),
// and takes it down after the run. ECI_VN_KEEP_CLUSTER=1 keeps it up for fast re-runs while developing.
import { clusterDown, clusterStatus, clusterUp } from '../src/cluster/controlplane.ts';

// ECI_VN_TEST_CLUSTER names the cluster, so several checkouts can run their suites side by side.
const CLUSTER = { name: process.env.ECI_VN_TEST_CLUSTER || 'test' };

export async function globalSetup(): Promise<void> {
  const started = Date.now();
  // A short node-monitor grace keeps the "controller killed → node not Ready" test under a minute;
  // it is still twice the 10 s lease renew period.
  // Start from an empty cluster unless one is kept running on purpose (ECI_VN_KEEP_CLUSTER).
  if (!(await clusterStatus(CLUSTER)).running) await clusterDown({ ...CLUSTER, purge: true });
  const info = await clusterUp({ ...CLUSTER, nodeMonitorGracePeriod: '20s' });
  process.env.ECI_VN_TEST_KUBECONFIG = info.kubeconfig;
  process.env.ECI_VN_TEST_CA = info.caFile;
  process.stderr.write(
    `[test] control plane ${info.alreadyRunning ? 'already running' : 'started'} in ${Date.now() - started} ms: ${info.apiserverUrl}\n`,
  );
}

export async function globalTeardown(): Promise<void> {
  if (process.env.ECI_VN_KEEP_CLUSTER === '1') return;
  await clusterDown({ ...CLUSTER, purge: true });
}
