import type { Command } from 'commander';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { clusterDown, clusterUp } from '../cluster/controlplane.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/eci-virtual-node.js', import.meta.url));

interface DemoFlags {
  keep: boolean;
  kubectl: string;
}

/**
 * The Quick start: a local control plane, the virtual node on the embedded ECI emulator, and a pod
 * sent to it — each step shown with the real kubectl, as a user would type it.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'show the product working end to end on its embedded default: a local control plane (built the first\n' +
        'time), the virtual node on the ECI emulator, and an nginx pod running on it',
    )
    .option('--keep', 'leave everything running after the demo (stop with Ctrl-C)', false)
    .option('--kubectl <path>', 'kubectl binary', process.env.KUBECTL ?? 'kubectl')
    .action(async (flags: DemoFlags) => {
      const step = (s: string) => process.stdout.write(`\n==> ${s}\n`);
      step('starting a local Kubernetes control plane (cluster "demo")');
      const cluster = await clusterUp({ name: 'demo' });
      const kubectl = async (...args: string[]) => {
        process.stdout.write(`$ kubectl ${args.join(' ')}\n`);
        try {
          const { stdout } = await exec(flags.kubectl, ['--kubeconfig', cluster.kubeconfig, ...args]);
          process.stdout.write(stdout);
          return stdout;
        } catch (err) {
          const e = err as { stderr?: string; code?: string };
          if (e.code === 'ENOENT') {
            throw new ProductError(
              ErrorCodes.NOT_FOUND,
              `kubectl not found (${flags.kubectl}); install it or pass --kubectl`,
            );
          }
          throw new ProductError(
            ErrorCodes.KUBE_API,
            `kubectl ${args.join(' ')} failed: ${e.stderr?.trim()}`,
            { cause: err },
          );
        }
      };
      const quiet = (...args: string[]) =>
        exec(flags.kubectl, ['--kubeconfig', cluster.kubeconfig, ...args]).then(
          (r) => r.stdout,
          () => '',
        );

      step(
        'starting the virtual node (no AccessKey configured: the embedded ECI emulator stands in for Alibaba Cloud)',
      );
      const stateDir = path.join(os.homedir(), '.local', 'state', 'eci-virtual-node', 'demo-emulator');
      const logFile = path.join(cluster.logsDir, 'virtual-node.log');
      const controller = await startController(cluster.kubeconfig, stateDir, logFile);
      process.stdout.write(`controller pid ${controller.pid}, logs in ${logFile}\n`);
      const alive = () => {
        if (controller.exitCode !== null) {
          throw new ProductError(
            ErrorCodes.START_FAILED,
            `the virtual node exited (code ${controller.exitCode}); see ${logFile}`,
          );
        }
      };
      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        step('cleaning up');
        await quiet('delete', 'pod', 'nginx', '--ignore-not-found', '--wait=true', '--timeout=60s');
        if (controller.exitCode === null) {
          controller.kill('SIGTERM');
          await new Promise((r) => controller.once('exit', r));
        }
        await quiet('delete', 'node', 'virtual-kubelet', '--ignore-not-found');
        await clusterDown({ name: 'demo' });
      };
      try {
        await until('the node to be Ready', async () => {
          alive();
          return (await quiet('get', 'node', 'virtual-kubelet', '--no-headers')).includes(' Ready');
        });
        await kubectl('get', 'node', '-o', 'wide');

        step('running nginx on the virtual node');
        await quiet('delete', 'pod', 'nginx', '--ignore-not-found', '--wait=true');
        await kubectl(
          'run',
          'nginx',
          '--image',
          'nginx',
          '--overrides',
          JSON.stringify({
            spec: {
              nodeSelector: { type: 'virtual-kubelet' },
              tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' }],
            },
          }),
        );
        await until(
          'the pod to be Running',
          async () => (await quiet('get', 'pod', 'nginx', '-o', 'jsonpath={.status.phase}')) === 'Running',
        );
        await kubectl('get', 'pod', '-o', 'wide');
        await kubectl('describe', 'pod', 'nginx');
        if (flags.keep) {
          step(
            `running; try: kubectl --kubeconfig ${cluster.kubeconfig} get pods -o wide   (Ctrl-C stops everything)`,
          );
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
        }
      } finally {
        await stop();
      }
      step('done: the pod ran as an ECI container group on the virtual node');
    });
}

async function startController(kubeconfig: string, stateDir: string, logFile: string): Promise<ChildProcess> {
  const { open } = await import('node:fs/promises');
  const log = await open(logFile, 'a');
  const env = { ...process.env };
  // The demo is the embedded default; settings from the shell must not send it to the cloud.
  for (const k of Object.keys(env)) if (k.startsWith('ECI_')) delete env[k];
  const child = spawn(
    process.execPath,
    [BIN, 'run', '--kubeconfig', kubeconfig, '--node-ip', '127.0.0.1', '--emulator-state-dir', stateDir],
    { stdio: ['ignore', log.fd, log.fd], env },
  );
  child.once('exit', () => void log.close());
  return child;
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  process.stdout.write(`waiting for ${what}...\n`);
  while (!(await probe())) {
    if (Date.now() > deadline) throw new ProductError(ErrorCodes.TIMEOUT, `timed out waiting for ${what}`);
    await delay(500);
  }
}
