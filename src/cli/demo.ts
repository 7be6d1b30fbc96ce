import type { Command } from 'commander';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, open } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { defaultNodeIp } from '../config/node-options.ts';
import { defaultEmulatorStateDir } from '../app/run-config.ts';
import { checkReachable, loadKubeConfig } from '../kube/client.ts';
import type { Env } from '../app/run-config.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import type { RuntimeChoice } from '../emulator/config.ts';
import { EMULATOR_RUNTIME_HELP, parseRuntimeChoice } from './emulator-runtime-flag.ts';
import { localControlPlane, localPrerequisites } from './local-cluster.ts';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/eci-virtual-node.js', import.meta.url));

interface DemoFlags {
  clusterName: string;
  keep: boolean;
  kubectl: string;
  emulatorRuntime: RuntimeChoice;
  kubeconfig?: string;
}

/**
 * The Quick start: a fresh local control plane, the virtual node on the embedded ECI emulator, and the
 * install guide's own commands — each shown with the real kubectl, as a user would type it.
 */
export function registerDemoCommand(program: Command, env: Env): void {
  program
    .command('demo')
    .description(
      'show the product working end to end on its embedded default: a local control plane (built the first\n' +
        "time), the virtual node on the ECI emulator, and the install guide's commands sending nginx to it",
    )
    .option(
      '--cluster-name <name>',
      'name of the local control plane it starts (and removes); another name runs a demo beside the first',
      'demo',
    )
    .option('--keep', 'leave everything running after the demo (stop with Ctrl-C)', false)
    .option('--kubectl <path>', 'kubectl binary', env.KUBECTL ?? 'kubectl')
    .option('--emulator-runtime <runtime>', EMULATOR_RUNTIME_HELP, parseRuntimeChoice, 'auto')
    .option(
      '--kubeconfig <file>',
      'run the demo on this existing cluster (kind, k3d, ...) instead of building and starting a local one;\n' +
        'it uses namespaces eci-demo and eci-demo-vk and removes what it made',
    )
    .action(async (flags: DemoFlags) => {
      const step = (s: string) => process.stdout.write(`\n==> ${s}\n`);
      const CLUSTER = { name: flags.clusterName };
      const { requirePrerequisites } = await localPrerequisites();
      const { clusterDown, clusterUp } = await localControlPlane();
      // Every prerequisite first: nothing is built or started when one is missing.
      await requirePrerequisites({
        env: process.env,
        kubectl: flags.kubectl,
        needCluster: !flags.kubeconfig,
      });
      const runtime = await demoRuntime(flags.emulatorRuntime);
      const existing = flags.kubeconfig !== undefined;
      let cluster: { kubeconfig: string; logsDir: string };
      let loopback = true;
      if (existing) {
        const kc = loadKubeConfig(flags.kubeconfig, { inCluster: false });
        step(`using the existing cluster ${kc.getCurrentCluster()?.server} (${flags.kubeconfig})`);
        process.stdout.write(`Kubernetes ${await checkReachable(kc)}\n`);
        loopback = /^https?:\/\/(127\.|localhost|\[::1\])/.test(kc.getCurrentCluster()?.server ?? '');
        cluster = {
          kubeconfig: flags.kubeconfig!,
          logsDir: await mkdtemp(path.join(os.tmpdir(), 'eci-demo-')),
        };
      } else {
        step(`starting a fresh local Kubernetes control plane (cluster "${CLUSTER.name}")`);
        await clusterDown({ ...CLUSTER, env, purge: true });
        cluster = await clusterUp({ ...CLUSTER, env });
      }
      const run = async (show: boolean, args: string[]) => {
        if (show) process.stdout.write(`$ kubectl ${args.join(' ')}\n`);
        try {
          const { stdout } = await exec(flags.kubectl, ['--kubeconfig', cluster.kubeconfig, ...args]);
          if (show) process.stdout.write(stdout);
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
      const kubectl = (...args: string[]) => run(true, args);
      const quiet = (...args: string[]) => run(false, args).catch(() => '');

      step(
        'starting the virtual node (no AccessKey configured: the embedded ECI emulator stands in for Alibaba Cloud)',
      );
      // One emulator state per demo cluster, so two demos side by side keep their groups apart.
      const stateDir = path.join(
        path.dirname(defaultEmulatorStateDir()),
        CLUSTER.name === 'demo' ? 'demo-emulator' : `demo-emulator-${CLUSTER.name}`,
      );
      const logFile = path.join(cluster.logsDir, 'virtual-node.log');
      // A cluster elsewhere (kind, k3d: the API server in a container) reaches this machine on its
      // address, not on 127.0.0.1.
      const nodeIp = loopback ? '127.0.0.1' : defaultNodeIp();
      const webhookPort = loopback ? 0 : await freePort();
      const controller = await startController(
        env,
        [
          'run',
          '--kubeconfig',
          cluster.kubeconfig,
          '--node-ip',
          nodeIp,
          // The kubelet API on any free port (on loopback for a local cluster): several controllers
          // share this machine.
          '--kubelet-port',
          loopback ? '0' : String(await freePort()),
          '--kubelet-bind-address',
          loopback ? '127.0.0.1' : '0.0.0.0',
          '--emulator-state-dir',
          stateDir,
          '--webhook-port',
          String(webhookPort),
          '--webhook-endpoint',
          loopback ? 'local' : `https://${nodeIp}:${webhookPort}/mutate`,
          '--emulator-runtime',
          runtime,
        ],
        logFile,
      );
      process.stdout.write(`controller pid ${controller.pid}, logs in ${logFile}\n`);
      const until = async (what: string, probe: () => Promise<boolean>) => {
        const deadline = Date.now() + 120_000;
        process.stdout.write(`waiting for ${what}...\n`);
        while (!(await probe())) {
          if (controller.exitCode !== null) {
            throw new ProductError(
              ErrorCodes.START_FAILED,
              `the virtual node exited (code ${controller.exitCode}); see ${logFile}`,
            );
          }
          if (Date.now() > deadline)
            throw new ProductError(ErrorCodes.TIMEOUT, `timed out waiting for ${what}`);
          await delay(500);
        }
      };
      const runningPod = (ns: string) => async () =>
        (await quiet('-n', ns, 'get', 'pod', 'nginx', '-o', 'jsonpath={.status.phase}')) === 'Running';

      try {
        await until('the node to be Ready', async () =>
          (await quiet('get', 'node', 'virtual-kubelet', '--no-headers')).includes(' Ready'),
        );
        await until(
          'the admission webhook',
          async () =>
            (await quiet('get', 'mutatingwebhookconfiguration', 'eci-virtual-node', '--ignore-not-found')) !==
            '',
        );
        await kubectl('get', 'node', '-o', 'wide');

        step('method 1 of the install guide: label the pod alibabacloud.com/eci=true');
        // On a cluster of the user's, in namespaces of the demo's own.
        const ns1 = existing ? ['-n', 'eci-demo'] : [];
        if (existing) await kubectl('create', 'ns', 'eci-demo');
        await kubectl(...ns1, 'run', 'nginx', '--image', 'nginx', '-l', 'alibabacloud.com/eci=true');
        await until('the pod to be Running', runningPod(existing ? 'eci-demo' : 'default'));
        await kubectl(...ns1, 'get', 'pod', '-o', 'wide');
        if (runtime === 'process') {
          const ip = await quiet(...ns1, 'get', 'pod', 'nginx', '-o', 'jsonpath={.status.podIP}');
          step(`the container group runs a real nginx: its page, fetched from this machine at the pod IP`);
          process.stdout.write(`$ curl http://${ip}/\n${await fetchPage(`http://${ip}/`)}\n`);
        }

        step('method 2 of the install guide: label the namespace alibabacloud.com/eci=true');
        const vk = existing ? 'eci-demo-vk' : 'vk';
        await kubectl('create', 'ns', vk);
        await kubectl('label', 'namespace', vk, 'alibabacloud.com/eci=true');
        await kubectl('-n', vk, 'run', 'nginx', '--image', 'nginx');
        await until('the pod to be Running', runningPod(vk));
        await kubectl('-n', vk, 'get', 'pod', '-o', 'wide');
        await kubectl('-n', vk, 'describe', 'pod', 'nginx');

        if (flags.keep) {
          step(
            `running; try: kubectl --kubeconfig ${cluster.kubeconfig} get pods -A -o wide   (Ctrl-C stops everything)`,
          );
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
        }
      } finally {
        step(
          'uninstalling: stop the controller, then `eci-virtual-node cleanup` removes the ECI pods, their groups and the node',
        );
        if (controller.exitCode === null) {
          controller.kill('SIGTERM');
          await new Promise((r) => controller.once('exit', r));
        }
        const cleanup = await startController(
          env,
          [
            'cleanup',
            '--kubeconfig',
            cluster.kubeconfig,
            '--emulator-state-dir',
            stateDir,
            '--emulator-runtime',
            runtime,
            '--webhook-name',
            'eci-virtual-node',
            '--force',
          ],
          logFile,
          true,
        );
        await new Promise((r) => cleanup.once('exit', r));
        if (existing) {
          await quiet('delete', 'ns', 'eci-demo', 'eci-demo-vk', '--ignore-not-found', '--wait=false');
        } else {
          await clusterDown({ ...CLUSTER, env, purge: true });
        }
      }
      step('done: both pods ran as ECI container groups on the virtual node, and nothing is left behind');
    });
}

/**
 * The runtime the demo's emulator uses: the process runtime wherever it can run (the demo shows a real
 * nginx page), else the simulation, saying why.
 */
async function demoRuntime(choice: RuntimeChoice): Promise<'process' | 'simulated'> {
  if (choice !== 'auto') return choice;
  const { processSupport } = await import('../emulator/engine/runtime/select.ts');
  const support = await processSupport();
  if ('reason' in support) {
    process.stdout.write(
      `note: the ECI emulator will simulate containers (no real nginx page): the process runtime cannot run here: ${support.reason}\n`,
    );
    return 'simulated';
  }
  return 'process';
}

/** The page at `url`, waiting (up to a minute) for the server in the pod to answer. */
async function fetchPage(url: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      return `HTTP ${res.status} ${res.statusText}\n${await res.text()}`;
    } catch (err) {
      if (Date.now() > deadline)
        throw new ProductError(ErrorCodes.TIMEOUT, `no answer from ${url}: ${(err as Error).message}`, {
          cause: err,
        });
      await delay(500);
    }
  }
}

/** Runs a subcommand of this binary on the embedded default; `show` passes its stdout through. */
async function startController(
  parentEnv: Env,
  args: string[],
  logFile: string,
  show = false,
): Promise<ChildProcess> {
  const log = await open(logFile, 'a');
  const env = { ...parentEnv };
  // The demo is the embedded default; ECI settings from the shell must not send it to the cloud.
  for (const k of Object.keys(env)) if (k.startsWith('ECI_')) delete env[k];
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', show ? 'inherit' : log.fd, log.fd],
    env,
  });
  child.once('exit', () => void log.close());
  return child;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}
