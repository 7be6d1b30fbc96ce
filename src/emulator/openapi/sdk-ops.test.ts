import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmulatorAdminClient, EmulatorAdminError } from '../admin/client.ts';
import type { RunningEmulator } from '../server.ts';
import {
  callAction,
  type EciClient,
  eventually,
  sdkClient,
  sdkError,
  startTestEmulator,
} from '../../../test/support/emulator-sdk.ts';

/**
 * The emulator through the official SDK, continued: jobs and restart policies, Update/Restart, logs,
 * exec, metrics, image caches, templates, quotas, faults, the admin API and durable state.
 */

const REGION = 'cn-hangzhou';
let emu: RunningEmulator;
let eci: EciClient;
let admin: EmulatorAdminClient;

before(async () => {
  emu = await startTestEmulator();
  eci = sdkClient(emu);
  admin = new EmulatorAdminClient(emu.url);
});

after(async () => {
  await emu.close();
});

let n = 0;
type ContainerInit = ConstructorParameters<typeof $Eci.CreateContainerGroupRequestContainer>[0];

async function create(
  containers: ContainerInit[] = [{ name: 'app', image: 'nginx' }],
  over: Partial<$Eci.CreateContainerGroupRequest> = {},
  client: EciClient = eci,
): Promise<string> {
  const r = await client.createContainerGroup(
    new $Eci.CreateContainerGroupRequest({
      regionId: REGION,
      containerGroupName: `ops-${++n}`,
      securityGroupId: 'sg-emulator',
      vSwitchId: 'vsw-emulator-h',
      container: containers.map((c) => new $Eci.CreateContainerGroupRequestContainer(c)),
      ...over,
    }),
  );
  return r.body.containerGroupId!;
}

async function describeOne(id: string, client: EciClient = eci) {
  const r = await client.describeContainerGroups(
    new $Eci.DescribeContainerGroupsRequest({ regionId: REGION, containerGroupIds: JSON.stringify([id]) }),
  );
  return r.body.containerGroups?.[0];
}

function waitStatus(id: string, status: string, a: EmulatorAdminClient = admin) {
  return a.waitForContainerGroup(id, (g) => g.status === status);
}

function log(id: string, container: string, over: Partial<$Eci.DescribeContainerLogRequest> = {}) {
  return eci.describeContainerLog(
    new $Eci.DescribeContainerLogRequest({
      regionId: REGION,
      containerGroupId: id,
      containerName: container,
      ...over,
    }),
  );
}

describe('jobs: the exit-code convention and restart policies', () => {
  it('sh -c "exit 3" with Never: the group fails with exit code 3', async () => {
    const id = await create([{ name: 'job', image: 'busybox', command: ['sh', '-c', 'exit 3'] }], {
      restartPolicy: 'Never',
    });
    await waitStatus(id, 'Failed');
    const g = await describeOne(id);
    const s = g?.containers?.[0]?.currentState;
    assert.equal(s?.state, 'Terminated');
    assert.equal(s?.exitCode, 3);
    assert.equal(s?.reason, 'Error');
    assert.ok(s?.finishTime);
    assert.ok(g?.failedTime);
  });

  it('["true"] with Never succeeds', async () => {
    const id = await create([{ name: 'job', image: 'busybox', command: ['true'] }], {
      restartPolicy: 'Never',
    });
    await waitStatus(id, 'Succeeded');
    const g = await describeOne(id);
    assert.equal(g?.containers?.[0]?.currentState?.exitCode, 0);
    assert.ok(g?.succeededTime);
  });

  it('OnFailure restarts a failing container, keeping the previous state', async () => {
    const id = await create(
      [
        {
          name: 'flaky',
          image: 'busybox',
          environmentVar: [
            new $Eci.CreateContainerGroupRequestContainerEnvironmentVar({
              key: 'ECI_EMULATOR_EXIT_CODE',
              value: '1',
            }),
            new $Eci.CreateContainerGroupRequestContainerEnvironmentVar({
              key: 'ECI_EMULATOR_RUN_SECONDS',
              value: '0.1',
            }),
          ],
        },
      ],
      { restartPolicy: 'OnFailure' },
    );
    await admin.waitForContainerGroup(id, (g) => (g.containers[0]?.restartCount ?? 0) >= 2);
    const g = await describeOne(id);
    assert.equal(g?.status, 'Running');
    const c = g?.containers?.[0];
    assert.ok((c?.restartCount ?? 0) >= 2);
    assert.equal(c?.previousState?.state, 'Terminated');
    assert.equal(c?.previousState?.exitCode, 1);
    const events = await eci.describeContainerGroupEvents(
      new $Eci.DescribeContainerGroupEventsRequest({
        regionId: REGION,
        containerGroupIds: JSON.stringify([id]),
      }),
    );
    assert.ok(events.body.data?.[0]?.events?.some((e) => e.reason === 'BackOff' && e.type === 'Warning'));
  });
});

describe('UpdateContainerGroup and RestartContainerGroup', () => {
  it('an update goes through Updating and runs the new spec', async () => {
    const id = await create();
    await waitStatus(id, 'Running');
    await eci.updateContainerGroup(
      new $Eci.UpdateContainerGroupRequest({
        regionId: REGION,
        containerGroupId: id,
        container: [new $Eci.UpdateContainerGroupRequestContainer({ name: 'app', image: 'nginx:2' })],
        tag: [new $Eci.UpdateContainerGroupRequestTag({ key: 'v', value: '2' })],
      }),
    );
    assert.equal((await describeOne(id))?.status, 'Updating');
    await waitStatus(id, 'Running');
    const g = await describeOne(id);
    assert.equal(g?.containers?.[0]?.image, 'nginx:2');
    assert.equal(g?.containers?.[0]?.restartCount, 1);
    assert.deepEqual(
      g?.tags?.map((t) => [t.key, t.value]),
      [['v', '2']],
    );
    const byTag = async (key: string, value: string) =>
      (
        await eci.describeContainerGroups(
          new $Eci.DescribeContainerGroupsRequest({
            regionId: REGION,
            tag: [new $Eci.DescribeContainerGroupsRequestTag({ key, value })],
          }),
        )
      ).body.containerGroups?.map((x) => x.containerGroupId);
    assert.deepEqual(await byTag('v', '2'), [id], 'the tag index follows a re-tag');
    assert.deepEqual(await byTag('v', '1'), []);
  });

  it('a restart counts up; a finished group cannot restart', async () => {
    const id = await create();
    await waitStatus(id, 'Running');
    await eci.restartContainerGroup(
      new $Eci.RestartContainerGroupRequest({ regionId: REGION, containerGroupId: id }),
    );
    assert.equal((await describeOne(id))?.status, 'Restarting');
    await waitStatus(id, 'Running');
    assert.equal((await describeOne(id))?.containers?.[0]?.restartCount, 1);

    const job = await create([{ name: 'j', image: 'busybox', command: ['true'] }], {
      restartPolicy: 'Never',
    });
    await waitStatus(job, 'Succeeded');
    const e = await sdkError(() =>
      eci.restartContainerGroup(
        new $Eci.RestartContainerGroupRequest({ regionId: REGION, containerGroupId: job }),
      ),
    );
    assert.deepEqual([e.code, e.statusCode], ['IncorrectStatus', 400]);
    const u = await sdkError(() =>
      eci.updateContainerGroup(
        new $Eci.UpdateContainerGroupRequest({ regionId: REGION, containerGroupId: 'eci-missing' }),
      ),
    );
    assert.deepEqual([u.code, u.statusCode], ['InvalidContainerGroupId.NotFound', 404]);
  });
});

describe('DescribeContainerLog', () => {
  it('returns deterministic lines, with Tail, Timestamps and the previous run', async () => {
    const id = await create(
      [{ name: 'job', image: 'busybox', command: ['sh', '-c', 'echo hello world; exit 2'] }],
      { restartPolicy: 'OnFailure' },
    );
    await admin.waitForContainerGroup(id, (g) => (g.containers[0]?.restartCount ?? 0) >= 1);
    const r = await log(id, 'job', { lastTime: true });
    assert.equal(r.body.containerName, 'job');
    const lines = r.body.content!.trimEnd().split('\n');
    assert.match(lines[0]!, /starting container job \(image busybox, restart 0\)/);
    assert.equal(lines[1], 'hello world');
    assert.match(lines[2]!, /exited with code 2 \(Error\)/);
    assert.equal(
      (await log(id, 'job', { lastTime: true })).body.content,
      r.body.content,
      'the same query gives the same log',
    );
    const tail = await log(id, 'job', { lastTime: true, tail: 1, timestamps: true });
    assert.match(
      tail.body.content!,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \[eci-emulator\] container job exited with code 2/,
    );
  });

  it('errors: an unknown container, a container not started yet', async () => {
    const id = await create();
    const e = await sdkError(() => log(id, 'nope'));
    assert.equal(e.code, 'InvalidContainerName.NotFound');
    await admin.setLifecycle({ stages: [{ from: 'Scheduling', to: 'Pending', delayMs: 60_000 }] });
    try {
      const slow = await create();
      const w = await sdkError(() => log(slow, 'app'));
      assert.deepEqual([w.code, w.statusCode], ['IncorrectStatus', 400]);
    } finally {
      await admin.setLifecycle({
        stages: [
          { from: 'Scheduling', to: 'Pending', delayMs: 30 },
          { from: 'Pending', to: 'Running', delayMs: 60 },
          { from: 'Restarting', to: 'Pending', delayMs: 50 },
          { from: 'Updating', to: 'Pending', delayMs: 50 },
          { from: 'Terminating', to: 'Deleted', delayMs: 50 },
        ],
      });
    }
  });
});

describe('ExecContainerCommand', () => {
  it('runs synchronously, or hands out a WebSocket URI that answers on the channel protocol', async () => {
    const id = await create();
    await waitStatus(id, 'Running');
    const sync = await eci.execContainerCommand(
      new $Eci.ExecContainerCommandRequest({
        regionId: REGION,
        containerGroupId: id,
        containerName: 'app',
        command: '["echo","hi"]',
        sync: true,
      }),
    );
    assert.equal(sync.body.syncResponse, 'hi\n');
    const r = await eci.execContainerCommand(
      new $Eci.ExecContainerCommandRequest({
        regionId: REGION,
        containerGroupId: id,
        containerName: 'app',
        command: '["sh","-c","echo from-ws"]',
        TTY: false,
      }),
    );
    const uri = r.body.webSocketUri!;
    assert.match(uri, /^ws:\/\/127\.0\.0\.1:\d+\/_emulator\/exec\/[\w-]+$/);
    assert.match(r.body.httpUrl ?? '', /^http:\/\//);
    const frames = await new Promise<Buffer[]>((resolve, reject) => {
      const ws = new WebSocket(uri, ['v4.channel.k8s.io']);
      ws.binaryType = 'arraybuffer';
      const got: Buffer[] = [];
      ws.onmessage = (m) => got.push(Buffer.from(m.data as ArrayBuffer));
      ws.onclose = () => resolve(got);
      ws.onerror = () => reject(new Error('websocket error'));
    });
    assert.equal(frames[0]?.[0], 1);
    assert.equal(frames[0]?.subarray(1).toString(), 'from-ws\n');
    assert.equal(frames[1]?.[0], 3);
    assert.equal(JSON.parse(frames[1]!.subarray(1).toString()).status, 'Success');
  });

  it('refuses a container that is not running', async () => {
    const job = await create([{ name: 'j', image: 'busybox', command: ['true'] }], {
      restartPolicy: 'Never',
    });
    await waitStatus(job, 'Succeeded');
    const e = await sdkError(() =>
      eci.execContainerCommand(
        new $Eci.ExecContainerCommandRequest({
          regionId: REGION,
          containerGroupId: job,
          containerName: 'j',
          command: '["ls"]',
        }),
      ),
    );
    assert.equal(e.code, 'IncorrectStatus');
  });
});

describe('metrics', () => {
  it('DescribeContainerGroupMetric and DescribeMultiContainerGroupMetric return plausible numbers', async () => {
    const a = await create([{ name: 'app', image: 'nginx', cpu: 2, memory: 4 }]);
    const b = await create();
    await waitStatus(a, 'Running');
    await waitStatus(b, 'Running');
    const one = await eci.describeContainerGroupMetric(
      new $Eci.DescribeContainerGroupMetricRequest({ regionId: REGION, containerGroupId: a }),
    );
    assert.equal(one.body.containerGroupId, a);
    const rec = one.body.records?.at(-1);
    assert.ok(rec);
    assert.equal(rec.CPU?.limit, 2000);
    assert.ok((rec.CPU?.usageNanoCores ?? 0) > 0 && (rec.CPU?.usageNanoCores ?? 0) < 2e9);
    assert.ok((rec.memory?.usageBytes ?? 0) > 0 && (rec.memory?.usageBytes ?? 0) < 4 * 2 ** 30);
    assert.equal(rec.containers?.[0]?.name, 'app');
    assert.equal(rec.network?.interfaces?.[0]?.name, 'eth0');
    const multi = await eci.describeMultiContainerGroupMetric(
      new $Eci.DescribeMultiContainerGroupMetricRequest({
        regionId: REGION,
        containerGroupIds: JSON.stringify([a, b, 'eci-unknown']),
      }),
    );
    assert.deepEqual(
      multi.body.monitorDatas?.map((m) => m.containerGroupId),
      [a, b],
    );
    assert.equal(multi.body.monitorDatas?.[0]?.records?.length, 1);
    const bad = await sdkError(() =>
      eci.describeContainerGroupMetric(
        new $Eci.DescribeContainerGroupMetricRequest({ regionId: REGION, containerGroupId: a, period: '7' }),
      ),
    );
    assert.equal(bad.code, 'InvalidParameter');
  });
});

describe('image caches', () => {
  it('create → Ready, matched on create, listed, deleted', async () => {
    const token = `imc-${Date.now()}`;
    const req = new $Eci.CreateImageCacheRequest({
      regionId: REGION,
      imageCacheName: 'cache-a',
      image: ['nginx:cached'],
      securityGroupId: 'sg-emulator',
      vSwitchId: 'vsw-emulator-h',
      clientToken: token,
    });
    const c = await eci.createImageCache(req);
    assert.match(c.body.imageCacheId ?? '', /^imc-/);
    assert.match(c.body.containerGroupId ?? '', /^eci-/);
    assert.equal((await eci.createImageCache(req)).body.imageCacheId, c.body.imageCacheId);
    const ready = await eventually(async () => {
      const r = await eci.describeImageCaches(
        new $Eci.DescribeImageCachesRequest({ regionId: REGION, imageCacheId: c.body.imageCacheId }),
      );
      const item = r.body.imageCaches?.[0];
      return item?.status === 'Ready' ? item : undefined;
    });
    assert.equal(ready.progress, '100%');
    assert.deepEqual(ready.images, ['nginx:cached']);
    assert.ok(ready.snapshotId);

    const id = await create([{ name: 'app', image: 'nginx:cached' }], { autoMatchImageCache: true });
    const events = await eci.describeContainerGroupEvents(
      new $Eci.DescribeContainerGroupEventsRequest({
        regionId: REGION,
        containerGroupIds: JSON.stringify([id]),
      }),
    );
    assert.ok(events.body.data?.[0]?.events?.some((e) => e.reason === 'SuccessfulHitImageCache'));

    const byName = await eci.describeImageCaches(
      new $Eci.DescribeImageCachesRequest({ regionId: REGION, imageCacheName: 'cache-a' }),
    );
    assert.equal(byName.body.totalCount, 1);
    await eci.deleteImageCache(
      new $Eci.DeleteImageCacheRequest({ regionId: REGION, imageCacheId: c.body.imageCacheId }),
    );
    const gone = await eci.describeImageCaches(
      new $Eci.DescribeImageCachesRequest({ regionId: REGION, imageCacheId: c.body.imageCacheId }),
    );
    assert.equal(gone.body.totalCount, 0);
    const e = await sdkError(() =>
      eci.deleteImageCache(
        new $Eci.DeleteImageCacheRequest({ regionId: REGION, imageCacheId: c.body.imageCacheId }),
      ),
    );
    assert.deepEqual([e.code, e.statusCode], ['InvalidImageCacheId.NotFound', 404]);
    const noImage = await sdkError(() =>
      eci.createImageCache(new $Eci.CreateImageCacheRequest({ regionId: REGION, imageCacheName: 'x-y' })),
    );
    assert.equal(noImage.code, 'MissingParameter');
  });
});

describe('templates', () => {
  it('export, create from and update by a template', async () => {
    const id = await create(
      [{ name: 'app', image: 'nginx:t1', cpu: 1, memory: 2, command: ['nginx'], arg: ['-g', 'daemon off;'] }],
      {
        tag: [new $Eci.CreateContainerGroupRequestTag({ key: 'tpl', value: 'yes' })],
      },
    );
    const exported = await callAction(eci, 'ExportContainerGroupTemplate', {
      RegionId: REGION,
      ContainerGroupId: id,
    });
    const template = exported.Template as Record<string, unknown> & {
      Spec: { Containers: Record<string, unknown>[] };
    };
    assert.equal(template.ContainerGroupId, id);
    assert.equal(template.Spec.Containers[0]!.Image, 'nginx:t1');
    assert.deepEqual(template.Spec.Containers[0]!.Args, ['-g', 'daemon off;']);

    const copy = { ...template, ContainerGroupName: 'from-template' };
    const created = await callAction(eci, 'CreateContainerGroupFromTemplate', {
      RegionId: REGION,
      Template: JSON.stringify(copy),
    });
    const newId = created.ContainerGroupId as string;
    assert.notEqual(newId, id);
    const g = await describeOne(newId);
    assert.equal(g?.containerGroupName, 'from-template');
    assert.deepEqual(g?.containers?.[0]?.args, ['-g', 'daemon off;']);
    assert.deepEqual(
      g?.tags?.map((t) => t.key),
      ['tpl'],
    );

    await waitStatus(id, 'Running');
    template.Spec.Containers[0]!.Image = 'nginx:t2';
    await callAction(eci, 'UpdateContainerGroupByTemplate', {
      RegionId: REGION,
      Template: JSON.stringify(template),
    });
    await admin.waitForContainerGroup(
      id,
      (x) => x.status === 'Running' && x.containers[0]?.restartCount === 1,
    );
    assert.equal((await describeOne(id))?.containers?.[0]?.image, 'nginx:t2');

    const bad = await sdkError(() =>
      callAction(eci, 'CreateContainerGroupFromTemplate', { RegionId: REGION, Template: '{nope' }),
    );
    assert.equal(bad.code, 'InvalidParameter');
  });
});

describe('quotas and faults', () => {
  it('a used-up per-minute quota answers Throttling.User; quotas can be turned off', async () => {
    await admin.setQuotas({ perMinute: { DescribeImageCaches: 2 } });
    try {
      const call = () => eci.describeImageCaches(new $Eci.DescribeImageCachesRequest({ regionId: REGION }));
      await call();
      await call();
      const e = await sdkError(call);
      assert.deepEqual([e.code, e.statusCode], ['Throttling.User', 400]);
      assert.equal(e.data.Message, 'Request was denied due to user flow control.');
      await admin.setQuotas({ enabled: false });
      await call();
    } finally {
      await admin.setQuotas({ enabled: true, perMinute: { DescribeImageCaches: 2000 } });
    }
  });

  it('injected throttling, 5xx and latency', async () => {
    const call = () =>
      eci.describeContainerGroups(new $Eci.DescribeContainerGroupsRequest({ regionId: REGION, limit: 1 }));
    await admin.throttle({ actions: ['DescribeContainerGroups'], count: 1 });
    assert.equal((await sdkError(call)).code, 'Throttling.User');
    await call();
    await admin.failWith5xx({ actions: ['DescribeContainerGroups'], count: 1 });
    const e = await sdkError(call);
    assert.deepEqual([e.code, e.statusCode], ['ServiceUnavailable', 503]);
    await admin.failWith5xx({ count: 1, status: 500, code: 'InternalError' });
    assert.deepEqual(await sdkError(call).then((x) => [x.code, x.statusCode]), ['InternalError', 500]);
    const f = await admin.addLatency(300, { actions: ['DescribeContainerGroups'] });
    const t0 = performance.now();
    await call();
    assert.ok(performance.now() - t0 >= 250);
    await admin.removeFault(f.id);
    assert.deepEqual(await admin.listFaults(), []);
    const stats = await admin.stats();
    assert.ok((stats.actions.DescribeContainerGroups?.byCode['Throttling.User'] ?? 0) >= 1);
    assert.ok((stats.actions.DescribeContainerGroups?.byCode.ServiceUnavailable ?? 0) >= 1);
  });
});

describe('the admin API', () => {
  it('drives container states: exit, crash, readiness, group status', async () => {
    const id = await create([{ name: 'app', image: 'nginx' }], { restartPolicy: 'Never' });
    await waitStatus(id, 'Running');
    await admin.setContainerReady(id, 'app', false);
    assert.equal((await describeOne(id))?.containers?.[0]?.ready, false);
    await admin.setContainerReady(id, 'app', null);
    assert.equal((await describeOne(id))?.containers?.[0]?.ready, true);
    await admin.crashContainer(id, 'app', { exitCode: 137, reason: 'OOMKilled' });
    await waitStatus(id, 'Failed');
    const s = (await describeOne(id))?.containers?.[0]?.currentState;
    assert.deepEqual([s?.exitCode, s?.reason], [137, 'OOMKilled']);
    await assert.rejects(
      admin.exitContainer(id, 'app', 0),
      (e: unknown) => e instanceof EmulatorAdminError && e.status === 409,
    );

    const other = await create();
    await waitStatus(other, 'Running');
    await admin.exitContainer(other, 'app', 0);
    await admin.waitForContainerGroup(other, (g) => g.containers[0]?.restartCount === 1);
    await admin.setContainerGroupStatus(other, 'Expired');
    assert.equal((await describeOne(other))?.status, 'Expired');
    assert.ok((await describeOne(other))?.expiredTime);
    await assert.rejects(
      admin.getContainerGroup('eci-missing'),
      (e: unknown) =>
        e instanceof EmulatorAdminError && e.status === 404 && e.code === 'InvalidContainerGroupId.NotFound',
    );
    await assert.rejects(
      admin.addFault({ kind: 'latency' }),
      (e: unknown) => e instanceof EmulatorAdminError && e.code === 'InvalidInput',
    );
  });

  it('is for loopback clients only', async () => {
    const { isLoopback } = await import('../admin/handler.ts');
    assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1'));
    assert.ok(!isLoopback('10.0.0.1') && !isLoopback(undefined));
  });
});

describe('durable state', () => {
  it('keeps groups, IPs, statuses and events across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eci-emu-state-'));
    try {
      const first = await startTestEmulator({}, { stateDir: dir });
      const c1 = sdkClient(first);
      const a1 = new EmulatorAdminClient(first.adminUrl);
      const web = await create(
        undefined,
        { tag: [new $Eci.CreateContainerGroupRequestTag({ key: 'keep', value: 'me' })] },
        c1,
      );
      const job = await create(
        [{ name: 'j', image: 'busybox', command: ['sh', '-c', 'exit 5'] }],
        { restartPolicy: 'Never' },
        c1,
      );
      const gone = await create(undefined, {}, c1);
      await waitStatus(web, 'Running', a1);
      await waitStatus(job, 'Failed', a1);
      await c1.deleteContainerGroup(
        new $Eci.DeleteContainerGroupRequest({ regionId: REGION, containerGroupId: gone }),
      );
      const saved = [await describeOne(web, c1), await describeOne(job, c1)];
      await eventually(async () => ((await describeOne(gone, c1)) === undefined ? true : undefined));
      await first.close();

      const second = await startTestEmulator({}, { stateDir: dir });
      try {
        const c2 = sdkClient(second);
        const list = await c2.describeContainerGroups(
          new $Eci.DescribeContainerGroupsRequest({ regionId: REGION, withEvent: true }),
        );
        assert.deepEqual(list.body.containerGroups?.map((g) => g.containerGroupId).sort(), [web, job].sort());
        for (const b of saved) {
          const g: $Eci.DescribeContainerGroupsResponseBodyContainerGroups = list.body.containerGroups!.find(
            (x) => x.containerGroupId === b?.containerGroupId,
          )!;
          assert.equal(g.intranetIp, b?.intranetIp);
          assert.equal(g.status, b?.status);
          assert.equal(g.containers?.[0]?.currentState?.exitCode, b?.containers?.[0]?.currentState?.exitCode);
          assert.ok((g.events?.length ?? 0) > 0);
        }
        const tagged = await c2.describeContainerGroups(
          new $Eci.DescribeContainerGroupsRequest({
            regionId: REGION,
            tag: [new $Eci.DescribeContainerGroupsRequestTag({ key: 'keep' })],
          }),
        );
        assert.deepEqual(
          tagged.body.containerGroups?.map((g) => g.containerGroupId),
          [web],
        );
        const zones = await new EmulatorAdminClient(second.adminUrl).zones();
        assert.equal(zones.find((z) => z.id === 'cn-hangzhou-h')?.vSwitches[0]?.used, 2);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('strict parameters', () => {
  it('rejects a parameter the action does not know', async () => {
    const strict = await startTestEmulator({ strictParameters: true });
    try {
      const c = sdkClient(strict);
      await callAction(c, 'DescribeContainerGroups', { RegionId: REGION, Limit: '5' });
      const e = await sdkError(() =>
        callAction(c, 'DescribeContainerGroups', { RegionId: REGION, Limt: '5' }),
      );
      assert.deepEqual([e.code, e.statusCode], ['InvalidParameter', 400]);
      assert.match(e.message, /"Limt"/);
    } finally {
      await strict.close();
    }
  });
});
