/**
 * Process runtime benchmark: what real containers cost on this machine.
 *
 *   npx node bench/runtime.ts [--groups 500] [--samples 20] [--skip-cold]
 *
 * 1. cold image builds: busybox, nginx and debian built from Debian packages into an empty cache
 *    (the apt lists present; downloads from the configured mirror);
 * 2. start latency with a warm cache: create → Running (every container's PID 1 running), one group
 *    at a time, busybox `sleep` and nginx;
 * 3. capacity: `--groups` busybox `sleep 3600` groups held at once, the time to bring them up and to
 *    delete them, and memory per group (MemAvailable drop, and the proportional set size of the
 *    groups' processes).
 *
 * Needs Linux and root (the process runtime). Prints one line per measurement, then a JSON summary.
 * The simulated runtime's throughput is bench/pods.ts and bench/emulator.ts.
 */
import * as $Eci from '@alicloud/eci20180808';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { leftovers } from '../test/support/process-runtime.ts';
import { processSupport } from '../src/emulator/engine/runtime/select.ts';
import type { GroupRecord } from '../src/emulator/engine/model.ts';
import { type RunningEmulator, startEmulator } from '../src/emulator/server.ts';
import { type EciClient, sdkClient } from '../test/support/emulator-sdk.ts';

const { values } = parseArgs({
  options: {
    groups: { type: 'string', default: '500' },
    samples: { type: 'string', default: '20' },
    'skip-cold': { type: 'boolean', default: false },
  },
});
const GROUPS = Number(values.groups);
const SAMPLES = Number(values.samples);
const REGION = 'cn-hangzhou';
const summary: Record<string, unknown> = {};

const support = await processSupport();
if ('reason' in support) {
  console.error(`bench/runtime.ts: the process runtime cannot run here: ${support.reason}`);
  process.exit(2);
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function memAvailable(): Promise<number> {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

async function pss(pids: number[]): Promise<number> {
  let sum = 0;
  for (const pid of pids) {
    const t = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
    sum += Number(/^Pss:\s+(\d+) kB$/m.exec(t)?.[1] ?? 0) * 1024;
  }
  return sum;
}

async function open(
  stateDir: string,
  imageCacheDir?: string,
): Promise<{ emu: RunningEmulator; eci: EciClient }> {
  const emu = await startEmulator({
    port: 0,
    stateDir,
    runtime: 'process',
    logger: pino({ level: 'silent' }),
    config: {
      quotas: { enabled: false },
      journal: { fsync: false },
      ...(imageCacheDir === undefined ? {} : { process: { imageCacheDir } }),
    },
  });
  return { emu, eci: sdkClient(emu) };
}

function spec(name: string, image: 'busybox' | 'nginx') {
  return new $Eci.CreateContainerGroupRequest({
    regionId: REGION,
    containerGroupName: name,
    securityGroupId: 'sg-emulator',
    vSwitchId: 'vsw-emulator-h',
    terminationGracePeriodSeconds: 1,
    cpu: 0.25,
    memory: 0.5,
    container: [
      new $Eci.CreateContainerGroupRequestContainer({
        name: 'c',
        image,
        ...(image === 'busybox' ? { command: ['sleep', '3600'] } : {}),
      }),
    ],
  });
}

const up = (g: GroupRecord | undefined) =>
  g?.status === 'Running' && g.containers.every((c) => c.state === 'Running');

async function create(emu: RunningEmulator, eci: EciClient, name: string, image: 'busybox' | 'nginx') {
  const r = await eci.createContainerGroup(spec(name, image));
  return r.body.containerGroupId!;
}

async function deleteAll(emu: RunningEmulator, eci: EciClient): Promise<number> {
  const ids = emu.core.listGroups().map((g) => g.id);
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids
        .slice(i, i + 50)
        .map((id) =>
          eci.deleteContainerGroup(
            new $Eci.DeleteContainerGroupRequest({ regionId: REGION, containerGroupId: id }),
          ),
        ),
    );
  }
  while (emu.core.listGroups().length > 0) await sleep(50);
  return (performance.now() - t0) / 1000;
}

// ---------------------------------------------------------------- 1. cold image builds

if (!values['skip-cold']) {
  const cache = await mkdtemp(path.join(os.tmpdir(), 'evn-bench-images-'));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'evn-bench-cold-'));
  const t0 = performance.now();
  const { emu, eci } = await open(dir, cache);
  const toolbox = (performance.now() - t0) / 1000;
  say(`cold build: busybox (the runtime's toolbox, at emulator start) ${toolbox.toFixed(1)} s`);
  const cold: Record<string, number> = { busybox: toolbox };
  for (const image of ['nginx', 'debian'] as const) {
    const t = performance.now();
    const id = await eci.createContainerGroup(
      new $Eci.CreateContainerGroupRequest({
        ...spec(`cold-${image}`, 'busybox'),
        container: [new $Eci.CreateContainerGroupRequestContainer({ name: 'c', image, command: ['true'] })],
        restartPolicy: 'Never',
      }),
    );
    for (;;) {
      const g = emu.core.findGroup(id.body.containerGroupId!);
      if (g?.status === 'Succeeded' || g?.status === 'Failed') break;
      await sleep(20);
    }
    cold[image] = (performance.now() - t) / 1000;
    say(`cold build: ${image} (create → its container ran) ${cold[image].toFixed(1)} s`);
  }
  summary.coldBuildSeconds = cold;
  await deleteAll(emu, eci);
  await emu.close();
  await rm(cache, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- 2. start latency, warm cache

const dir = await mkdtemp(path.join(os.tmpdir(), 'evn-bench-runtime-'));
const { emu, eci } = await open(dir);
try {
  // Warm: both images built (and their package lists resolved) before measuring.
  for (const image of ['busybox', 'nginx'] as const) {
    const id = await create(emu, eci, `warm-${image}`, image);
    while (!up(emu.core.findGroup(id))) await sleep(20);
  }
  await deleteAll(emu, eci);
  const latency: Record<string, { p50: number; p90: number; max: number }> = {};
  for (const image of ['busybox', 'nginx'] as const) {
    const ms: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const t0 = performance.now();
      const id = await create(emu, eci, `lat-${image}-${i}`, image);
      while (!up(emu.core.findGroup(id))) await sleep(2);
      ms.push(performance.now() - t0);
    }
    latency[image] = { p50: pct(ms, 0.5), p90: pct(ms, 0.9), max: Math.max(...ms) };
    say(
      `start latency (warm cache), ${image}: p50 ${latency[image].p50.toFixed(0)} ms, p90 ${latency[image].p90.toFixed(0)} ms, max ${latency[image].max.toFixed(0)} ms over ${SAMPLES} groups (target p50 <= 300 ms)`,
    );
    await deleteAll(emu, eci);
  }
  summary.startLatencyMs = latency;

  // ---------------------------------------------------------------- 3. capacity

  await sleep(2000);
  const availBefore = await memAvailable();
  const t0 = performance.now();
  let created = 0;
  const failures: string[] = [];
  for (let i = 0; i < GROUPS; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, GROUPS - i) }, (_, k) =>
        create(emu, eci, `cap-${i + k}`, 'busybox').then(
          () => created++,
          (err: unknown) => failures.push(String(err)),
        ),
      ),
    );
  }
  let last = -1;
  for (;;) {
    const running = emu.core.listGroups().filter(up).length;
    if (running !== last && running % 100 === 0)
      say(`  ${running}/${created} groups running after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    last = running;
    if (running >= created) break;
    if (performance.now() - t0 > 30 * 60_000) {
      say(`  gave up after 30 minutes with ${running}/${created} running`);
      break;
    }
    await sleep(500);
  }
  const upSeconds = (performance.now() - t0) / 1000;
  const running = emu.core.listGroups().filter(up).length;
  await sleep(3000);
  const availAfter = await memAvailable();
  const rt = emu.core.runtime.describe() as { instance: string; runtimeDir: string };
  const l = await leftovers(rt.instance, rt.runtimeDir);
  const pssBytes = await pss(l.processes);
  const perGroupMiB = (availBefore - availAfter) / running / 2 ** 20;
  const pssPerGroupMiB = pssBytes / running / 2 ** 20;
  say(
    `capacity: ${running} busybox sleep groups running at once (target >= 500), up in ${upSeconds.toFixed(0)} s (${(running / upSeconds).toFixed(1)} groups/s); ${failures.length} creates failed`,
  );
  say(
    `memory per group: ${perGroupMiB.toFixed(2)} MiB (MemAvailable drop), ${pssPerGroupMiB.toFixed(2)} MiB (PSS of its ${(l.processes.length / running).toFixed(1)} processes); emulator RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
  const delSeconds = await deleteAll(emu, eci);
  say(`deleted ${running} groups in ${delSeconds.toFixed(0)} s`);
  summary.capacity = {
    groups: running,
    failedCreates: failures.length,
    upSeconds,
    memoryPerGroupMiB: perGroupMiB,
    pssPerGroupMiB,
    processesPerGroup: l.processes.length / running,
    deleteSeconds: delSeconds,
  };
} finally {
  await emu.close();
  await rm(dir, { recursive: true, force: true });
}
summary.machine = { cpus: os.cpus().length, memoryGiB: os.totalmem() / 2 ** 30, loadAverage: os.loadavg() };
say(JSON.stringify(summary));
