import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { type ContainerGroupRecord, EmulatorAdminClient } from './admin/client.ts';
import { DEFAULT_ACCESS_KEY } from './config.ts';
import { type EciClient, sdkClient } from '../../test/support/emulator-sdk.ts';

/**
 * Durability under kill -9: the emulator runs as its own process (the CLI), is killed while 200
 * creates are in flight, and restarts on the same state directory. Every create that was answered
 * with success must exist exactly once, no pod IP may belong to two groups, and retrying every create
 * with its ClientToken must converge on exactly one group per token.
 */

const BIN = fileURLToPath(new URL('../../bin/eci-virtual-node.js', import.meta.url));
const REGION = 'cn-hangzhou';
const CONCURRENCY = 200;
const KILL_AFTER = 300;
const MAX_ATTEMPTS = 5000;

interface Proc {
  child: ChildProcess;
  endpoint: string;
  adminUrl: string;
  stderr: string[];
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function spawnEmulator(stateDir: string): Promise<Proc> {
  const child = spawn(
    process.execPath,
    // The journal is under test, not containers: the simulated runtime keeps 200 creates cheap.
    [
      BIN,
      'emulator',
      '--port',
      '0',
      '--state-dir',
      stateDir,
      '--no-quotas',
      '--log-level',
      'warn',
      '--runtime',
      'simulated',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    once(lines, 'line').then(([l]) => l as string),
    once(child, 'exit').then(() => {
      throw new Error(`emulator exited before it was ready: ${stderr.join('')}`);
    }),
  ]);
  const info = JSON.parse(first) as { endpoint: string; adminUrl: string };
  return { child, endpoint: info.endpoint, adminUrl: info.adminUrl, stderr };
}

function client(p: Proc): EciClient {
  return sdkClient(
    {
      endpoint: p.endpoint,
      protocol: 'http',
      regionId: REGION,
      accessKeyId: DEFAULT_ACCESS_KEY.id,
      accessKeySecret: DEFAULT_ACCESS_KEY.secret,
    },
    { readTimeout: 60_000 },
  );
}

function createRequest(i: number): $Eci.CreateContainerGroupRequest {
  return new $Eci.CreateContainerGroupRequest({
    regionId: REGION,
    containerGroupName: `crash-${i}`,
    clientToken: `crash-token-${i}`,
    securityGroupId: 'sg-emulator',
    vSwitchId: 'vsw-emulator-h,vsw-emulator-i,vsw-emulator-j',
    container: [new $Eci.CreateContainerGroupRequestContainer({ name: 'app', image: 'nginx' })],
  });
}

async function allRecords(p: Proc): Promise<ContainerGroupRecord[]> {
  const { items, total } = await new EmulatorAdminClient(p.adminUrl).listContainerGroups({ limit: 1000 });
  assert.equal(items.length, total);
  return items;
}

/** Every group listed through the public API, page by page. */
async function describeAll(c: EciClient): Promise<{ id: string; ip: string }[]> {
  const out: { id: string; ip: string }[] = [];
  let token: string | undefined;
  do {
    const r = await c.describeContainerGroups(
      new $Eci.DescribeContainerGroupsRequest({ regionId: REGION, limit: 20, nextToken: token }),
    );
    out.push(...(r.body.containerGroups ?? []).map((g) => ({ id: g.containerGroupId!, ip: g.intranetIp! })));
    token = r.body.nextToken || undefined;
  } while (token !== undefined);
  return out;
}

function assertUnique(values: string[], what: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    assert.ok(!seen.has(v), `${what} ${v} appears twice`);
    seen.add(v);
  }
}

it('survives kill -9 during 200 concurrent creates: acknowledged creates exist exactly once, IPs are unique', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eci-emu-crash-'));
  dirs.push(dir);
  const first = await spawnEmulator(dir);
  const c1 = client(first);

  // 200 creates in flight at all times (a new one starts when one ends) until the kill, so the kill
  // finds requests at every stage: not yet read, applied but not yet durable, durable but unanswered.
  const acked = new Map<string, string>();
  let attempted = 0;
  let failed = 0;
  let killed = false;
  const worker = async () => {
    while (!killed && attempted < MAX_ATTEMPTS) {
      const i = attempted++;
      try {
        const r = await c1.createContainerGroup(createRequest(i));
        acked.set(`crash-token-${i}`, r.body.containerGroupId!);
        if (!killed && acked.size >= KILL_AFTER) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (first.child.exitCode === null && first.child.signalCode === null) await once(first.child, 'exit');
  assert.equal(first.child.signalCode, 'SIGKILL');
  assert.ok(
    failed > 0,
    `the kill landed while creates were in flight (acknowledged ${acked.size}, failed ${failed})`,
  );

  const second = await spawnEmulator(dir);
  const records = await allRecords(second);
  const byToken = new Map(records.map((r) => [r.clientToken, r]));
  assertUnique(
    records.map((r) => r.id),
    'container group',
  );
  assertUnique(
    records.map((r) => r.clientToken ?? ''),
    'ClientToken',
  );
  assertUnique(
    records.map((r) => r.ip),
    'IP',
  );
  for (const [token, id] of acked) {
    assert.equal(byToken.get(token)?.id, id, `acknowledged create ${token} → ${id} survived`);
  }
  t.diagnostic(
    `attempted ${attempted}, acknowledged ${acked.size}, failed by the kill ${failed}, found after restart ${records.length}`,
  );
  const listed = await describeAll(client(second));
  assert.deepEqual(listed.map((g) => g.id).sort(), records.map((r) => r.id).sort());

  // The client retries everything with the same tokens: one group per token, acknowledged IDs kept.
  const c2 = client(second);
  const retried = await Promise.all(
    Array.from({ length: attempted }, (_, i) => c2.createContainerGroup(createRequest(i))),
  );
  for (const [i, r] of retried.entries()) {
    const token = `crash-token-${i}`;
    if (acked.has(token)) assert.equal(r.body.containerGroupId, acked.get(token));
  }
  const final = await allRecords(second);
  assert.equal(final.length, attempted);
  assertUnique(
    final.map((r) => r.ip),
    'IP',
  );
  assertUnique(
    final.map((r) => r.clientToken ?? ''),
    'ClientToken',
  );

  second.child.kill('SIGTERM');
  await once(second.child, 'exit');
  assert.equal(second.child.exitCode, 0, second.stderr.join(''));
});
