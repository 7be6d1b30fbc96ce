/**
 * ECI emulator benchmark: request throughput through the official SDK, and memory holding 10,000
 * container groups. The emulator runs as its own process (the CLI, durable state with fsync, quotas
 * off) so the load generator in this process does not share its event loop.
 *
 *   npx node bench/emulator.ts [--groups 10000] [--seconds 5] [--concurrency 32]
 *
 * Prints one line per measurement. Numbers depend on the machine; compare runs on the same one.
 */
import * as $Eci from '@alicloud/eci20180808';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EmulatorAdminClient } from '../src/emulator/admin/client.ts';
import { DEFAULT_ACCESS_KEY } from '../src/emulator/config.ts';
import { type EciClient, sdkClient } from '../test/support/emulator-sdk.ts';

const { values } = parseArgs({
  options: {
    groups: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' },
  },
});
const GROUPS = Number(values.groups);
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const REGION = 'cn-hangzhou';
const BIN = fileURLToPath(new URL('../bin/eci-virtual-node.js', import.meta.url));

interface LoadResult {
  ok: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
}

/** Runs `fn` from `concurrency` workers until `total` calls are done or `seconds` pass. */
async function load(
  fn: (i: number) => Promise<unknown>,
  opts: { concurrency: number; total?: number; seconds?: number },
): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = opts.seconds === undefined ? Infinity : start + opts.seconds * 1000;
  const worker = async () => {
    for (;;) {
      if (performance.now() > deadline) return;
      const i = next++;
      if (opts.total !== undefined && i >= opts.total) return;
      const t0 = performance.now();
      try {
        await fn(i);
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  return { ok: latencies.length, errors, seconds, p50: q(0.5), p99: q(0.99) };
}

function report(name: string, r: LoadResult, serverMs?: number): void {
  const server = serverMs === undefined ? '' : `; emulator ${serverMs.toFixed(2)} ms/req`;
  console.log(
    `${name.padEnd(58)} ${String(Math.round(r.ok / r.seconds)).padStart(6)} req/s  (${r.ok} ok, ${r.errors} errors in ${r.seconds.toFixed(1)} s; p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms${server})`,
  );
}

/** Runs a load and reports it with the emulator's own mean time per request (from its admin stats). */
async function measure(
  admin: EmulatorAdminClient,
  name: string,
  action: string,
  fn: (i: number) => Promise<unknown>,
  opts: { concurrency: number; total?: number; seconds?: number },
): Promise<void> {
  await admin.resetStats();
  const r = await load(fn, opts);
  const s = (await admin.stats()).actions[action];
  report(name, r, s === undefined ? undefined : s.totalMs / s.count);
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

function createRequest(i: number): $Eci.CreateContainerGroupRequest {
  return new $Eci.CreateContainerGroupRequest({
    regionId: REGION,
    containerGroupName: `bench-${i}`,
    clientToken: `bench-${i}`,
    securityGroupId: 'sg-emulator',
    vSwitchId: 'vsw-emulator-h,vsw-emulator-i,vsw-emulator-j',
    tag: [
      new $Eci.CreateContainerGroupRequestTag({ key: 'cluster', value: 'bench' }),
      new $Eci.CreateContainerGroupRequestTag({ key: 'pod', value: `default/bench-${i}` }),
    ],
    container: [
      new $Eci.CreateContainerGroupRequestContainer({
        name: 'app',
        image: 'registry.example.com/team/app:1.2.3',
        cpu: 1,
        memory: 2,
        port: [new $Eci.CreateContainerGroupRequestContainerPort({ port: 8080, protocol: 'TCP' })],
        environmentVar: [
          new $Eci.CreateContainerGroupRequestContainerEnvironmentVar({ key: 'MODE', value: 'bench' }),
        ],
      }),
    ],
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'eci-emu-bench-'));
  const child = spawn(
    process.execPath,
    [BIN, 'emulator', '--port', '0', '--state-dir', dir, '--no-quotas', '--log-level', 'warn'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const info = JSON.parse(line) as { endpoint: string; adminUrl: string };
    const admin = new EmulatorAdminClient(info.adminUrl);
    const eci: EciClient = sdkClient(
      {
        endpoint: info.endpoint,
        protocol: 'http',
        regionId: REGION,
        accessKeyId: DEFAULT_ACCESS_KEY.id,
        accessKeySecret: DEFAULT_ACCESS_KEY.secret,
      },
      { readTimeout: 60_000 },
    );
    console.log(
      `node ${process.version}, ${GROUPS} groups, concurrency ${CONCURRENCY}, emulator pid ${child.pid} (durable state, fsync on, quotas off)`,
    );
    console.log(`emulator RSS at start: ${(await rssMiB(child.pid!)).toFixed(0)} MiB`);

    const describe =
      (extra: Partial<$Eci.DescribeContainerGroupsRequest> = {}) =>
      () =>
        eci.describeContainerGroups(
          new $Eci.DescribeContainerGroupsRequest({ regionId: REGION, limit: 20, ...extra }),
        );

    // Creates: the first 2,000 are timed; the rest bring the state up to GROUPS.
    const timed = Math.min(2000, GROUPS);
    const opts = { concurrency: CONCURRENCY, seconds: SECONDS };
    await measure(
      admin,
      `CreateContainerGroup (${timed} creates)`,
      'CreateContainerGroup',
      (i) => eci.createContainerGroup(createRequest(i)),
      {
        concurrency: CONCURRENCY,
        total: timed,
      },
    );
    await measure(
      admin,
      `DescribeContainerGroups Limit=20, ${timed} groups`,
      'DescribeContainerGroups',
      describe(),
      opts,
    );
    await measure(
      admin,
      `CreateContainerGroup (next ${GROUPS - timed} creates)`,
      'CreateContainerGroup',
      (i) => eci.createContainerGroup(createRequest(timed + i)),
      {
        concurrency: CONCURRENCY,
        total: GROUPS - timed,
      },
    );
    // Let every group reach Running so the state is what a steady cluster holds.
    for (;;) {
      const state = (await admin.state()) as { containerGroups: { byStatus: Record<string, number> } };
      if ((state.containerGroups.byStatus.Running ?? 0) >= GROUPS) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const state = (await admin.state()) as { memory: NodeJS.MemoryUsage; journal: Record<string, number> };
    console.log(
      `emulator holding ${GROUPS} running groups: RSS ${(await rssMiB(child.pid!)).toFixed(0)} MiB, ` +
        `heap used ${(state.memory.heapUsed / 2 ** 20).toFixed(0)} MiB; journal: ${state.journal.records} records, ` +
        `${state.journal.syncs} syncs, ${state.journal.compactions} compactions`,
    );

    await measure(
      admin,
      `DescribeContainerGroups Limit=20, ${GROUPS} groups`,
      'DescribeContainerGroups',
      describe(),
      opts,
    );
    await measure(
      admin,
      `DescribeContainerGroups Limit=20 + tag filter, ${GROUPS} groups`,
      'DescribeContainerGroups',
      describe({ tag: [new $Eci.DescribeContainerGroupsRequestTag({ key: 'cluster', value: 'bench' })] }),
      opts,
    );
    await measure(
      admin,
      `DescribeContainerGroupStatus SinceSecond=10 + tag, ${GROUPS} groups`,
      'DescribeContainerGroupStatus',
      () =>
        eci.describeContainerGroupStatus(
          new $Eci.DescribeContainerGroupStatusRequest({
            regionId: REGION,
            sinceSecond: 10,
            tag: [new $Eci.DescribeContainerGroupStatusRequestTag({ key: 'cluster', value: 'bench' })],
          }),
        ),
      opts,
    );
    console.log(`emulator RSS at the end: ${(await rssMiB(child.pid!)).toFixed(0)} MiB`);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
