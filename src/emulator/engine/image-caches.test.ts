import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EmulatorAdminClient } from '../admin/client.ts';
import { matchCount, normalizeImage } from './image-caches.ts';
import type { RunningEmulator } from '../server.ts';
import {
  type EciClient,
  eventually,
  sdkClient,
  sdkError,
  startTestEmulator,
} from '../../../test/support/emulator-sdk.ts';

/**
 * Image caches as the cloud makes them (build time, progress, stock, retention, matching on create),
 * the restart-only states, and IncrementalUpdate — through the official SDK and the admin API.
 */

const REGION = 'cn-hangzhou';
const DAY = 86_400_000;
let emu: RunningEmulator;
let eci: EciClient;
let admin: EmulatorAdminClient;

before(async () => {
  // Caches take a second per image, so progress and the stock they hold can be watched.
  emu = await startTestEmulator({ lifecycle: { imageCacheReadyMs: 1000, imagePullMs: 400 } });
  eci = sdkClient(emu);
  admin = new EmulatorAdminClient(emu.url);
});
after(() => emu.close());
beforeEach(() => admin.reset());

let n = 0;
async function createCache(images: string[], over: Partial<$Eci.CreateImageCacheRequest> = {}) {
  const r = await eci.createImageCache(
    new $Eci.CreateImageCacheRequest({
      regionId: REGION,
      imageCacheName: `cache-${++n}`,
      image: images,
      securityGroupId: 'sg-emulator',
      vSwitchId: 'vsw-emulator-h',
      ...over,
    }),
  );
  return r.body.imageCacheId!;
}

async function describeCache(id: string) {
  const r = await eci.describeImageCaches(
    new $Eci.DescribeImageCachesRequest({ regionId: REGION, imageCacheId: id }),
  );
  return r.body.imageCaches?.[0];
}

async function createGroup(
  image: string,
  over: Partial<$Eci.CreateContainerGroupRequest> = {},
  containers: ConstructorParameters<typeof $Eci.CreateContainerGroupRequestContainer>[0][] = [],
) {
  const r = await eci.createContainerGroup(
    new $Eci.CreateContainerGroupRequest({
      regionId: REGION,
      containerGroupName: `imc-group-${++n}`,
      securityGroupId: 'sg-emulator',
      vSwitchId: 'vsw-emulator-h',
      container: [
        new $Eci.CreateContainerGroupRequestContainer({ name: 'app', image }),
        ...containers.map((c) => new $Eci.CreateContainerGroupRequestContainer(c)),
      ],
      ...over,
    }),
  );
  return r.body.containerGroupId!;
}

const reasons = async (id: string) => (await admin.getContainerGroup(id)).events.map((e) => e.reason);

describe('image names', () => {
  it('are compared as the registry resolves them', () => {
    assert.equal(normalizeImage('nginx'), 'docker.io/library/nginx:latest');
    assert.equal(normalizeImage('nginx:1.25'), 'docker.io/library/nginx:1.25');
    assert.equal(normalizeImage('bitnami/redis'), 'docker.io/bitnami/redis:latest');
    assert.equal(normalizeImage('registry.example.com:5000/app'), 'registry.example.com:5000/app:latest');
    assert.equal(normalizeImage('busybox@sha256:abc'), 'docker.io/library/busybox@sha256:abc');
    assert.equal(matchCount(['nginx', 'busybox:latest'], ['docker.io/library/nginx:latest', 'redis']), 1);
  });
});

describe('building a cache', () => {
  it('goes Preparing → Creating with rising progress → Ready at 100 %, holding zone stock while it builds', async () => {
    await admin.setZoneStock('cn-hangzhou-h', 1);
    const id = await createCache(['nginx:1', 'busybox:1']);
    const seen = new Set<string>();
    const ready = await eventually(async () => {
      const c = await describeCache(id);
      if (c?.status === 'Creating') seen.add(c.progress ?? '');
      return c?.status === 'Ready' ? c : undefined;
    });
    assert.equal(ready.progress, '100%');
    assert.ok(ready.snapshotId);
    // Two images at a second each: several steps of progress were visible on the way.
    assert.ok(seen.size >= 3, `progress seen: ${[...seen].join(' ')}`);
    assert.ok([...seen].every((p) => /^[1-9]?0%$/.test(p)));
    assert.deepEqual(
      ready.events?.map((e) => e.reason),
      ['Preparing', 'Pulling', 'Created'],
    );

    // While a cache builds, its intermediate instance is the zone's one unit of stock.
    const building = await createCache(['redis:7']);
    const out = await sdkError(() => createGroup('nginx'));
    assert.equal(out.code, 'OperationDenied.NoStock');
    const zone = (await admin.zones()).find((z) => z.id === 'cn-hangzhou-h')!;
    assert.equal(zone.live, 1);
    await eventually(async () => ((await describeCache(building))?.status === 'Ready' ? true : undefined));
    await createGroup('nginx');
    // And a cache cannot start where there is no stock.
    const noStock = await sdkError(() => createCache(['alpine']));
    assert.equal(noStock.code, 'OperationDenied.NoStock');
  });

  it('is faster with Flash and with reuse of layers another cache holds', async () => {
    const base = await createCache(['nginx:2']);
    await eventually(async () => ((await describeCache(base))?.status === 'Ready' ? true : undefined));
    const [plain, flash, reuse] = await Promise.all([
      createCache(['nginx:2', 'redis:2']),
      createCache(['nginx:2', 'redis:2'], { flash: true }),
      createCache(['nginx:2', 'redis:2'], { autoMatchImageCache: true }),
    ]);
    const caches = await admin.listImageCaches();
    const build = (id: string) => (caches.find((c) => c.id === id) as { buildMs?: number }).buildMs;
    assert.equal(build(plain), 2000);
    assert.equal(build(flash), 1000);
    assert.equal(build(reuse), 1000);
  });

  it('checks size and retention like the cloud', async () => {
    const small = await sdkError(() => createCache(['nginx'], { imageCacheSize: 10 }));
    assert.equal(small.code, 'InvalidParameter');
    const huge = await sdkError(() => createCache(['nginx'], { retentionDays: 70000 }));
    assert.equal(huge.code, 'InvalidParameter');
    assert.ok(await createCache(['nginx'], { imageCacheSize: 32768, retentionDays: 65536 }));
  });
});

describe('retention', () => {
  it('expires a cache when the emulated clock passes its retention, and forgets it an hour later', async () => {
    const id = await createCache(['nginx:3'], { retentionDays: 2 });
    await eventually(async () => ((await describeCache(id))?.status === 'Ready' ? true : undefined));
    const c = await describeCache(id);
    assert.equal(Date.parse(c!.expireDateTime!) - Date.parse(c!.creationTime!), 2 * DAY);
    await admin.advanceClock(DAY);
    assert.equal((await describeCache(id))?.status, 'Ready');
    await admin.advanceClock(DAY);
    const expired = await describeCache(id);
    assert.equal(expired?.status, 'Expired');
    assert.equal(expired?.events?.at(-1)?.reason, 'Expired');
    // An expired cache is not used.
    const g = await createGroup('nginx:3', { autoMatchImageCache: true });
    assert.ok((await reasons(g)).includes('ImageCacheMissed'));
    await admin.advanceClock(3_600_000);
    assert.equal(await describeCache(id), undefined);
    // The SDK still signs with the real clock, and is still let in.
    assert.ok(await createCache(['alpine:3']));
  });
});

describe('groups and caches', () => {
  it('an explicit cache that is Ready is hit: its images start without a pull, sooner', async () => {
    const id = await createCache(['nginx:4']);
    await eventually(async () => ((await describeCache(id))?.status === 'Ready' ? true : undefined));
    const withCache = await createGroup('nginx:4', { imageSnapshotId: id });
    const without = await createGroup('nginx:4');
    const a = await admin.waitForContainerGroup(withCache, (g) => g.status === 'Running');
    const b = await admin.waitForContainerGroup(without, (g) => g.status === 'Running');
    assert.equal(a.imageCacheId, id);
    assert.ok(a.events.some((e) => e.reason === 'SuccessfulHitImageCache' && e.message.includes(id)));
    assert.ok(a.events.some((e) => e.message === 'Container image "nginx:4" already present on machine'));
    assert.ok(!a.events.some((e) => e.reason === 'Pulling'));
    assert.ok(b.events.some((e) => e.reason === 'Pulling'));
    const started = (g: typeof a) => (g as unknown as { startedAt: number }).startedAt - g.createdAt;
    assert.ok(started(b) - started(a) >= 300, `with ${started(a)} ms, without ${started(b)} ms`);
  });

  it('a missing cache and an unfinished one are reported, and the group pulls its images', async () => {
    const missing = await createGroup('nginx:5', { imageSnapshotId: 'imc-doesnotexist' });
    const building = await createCache(['nginx:5']);
    const early = await createGroup('nginx:5', { imageSnapshotId: building });
    const m = await admin.getContainerGroup(missing);
    assert.ok(
      m.events.some(
        (e) =>
          e.reason === 'ImageCacheNotFound' &&
          e.type === 'Warning' &&
          e.message === 'The specified image cache imc-doesnotexist does not exist.',
      ),
    );
    assert.ok((await reasons(early)).includes('ImageCacheNotComplete'));
    assert.equal((await admin.getContainerGroup(early)).imageCacheId, undefined);
  });

  it('auto-match takes the best Ready cache; a miss starts one cache for the next groups', async () => {
    const one = await createCache(['nginx:6']);
    const two = await createCache(['nginx:6', 'redis:6']);
    await eventually(async () => ((await describeCache(two))?.status === 'Ready' ? true : undefined));
    await eventually(async () => ((await describeCache(one))?.status === 'Ready' ? true : undefined));
    const g = await createGroup('nginx:6', { autoMatchImageCache: true }, [{ name: 'db', image: 'redis:6' }]);
    assert.equal((await admin.getContainerGroup(g)).imageCacheId, two);

    const miss1 = await createGroup('postgres:16', { autoMatchImageCache: true });
    const miss2 = await createGroup('postgres:16', { autoMatchImageCache: true });
    assert.ok((await reasons(miss1)).includes('ImageCacheMissed'));
    assert.ok((await reasons(miss1)).includes('ImageCacheAutoCreated'));
    assert.ok(!(await reasons(miss2)).includes('ImageCacheAutoCreated'));
    const auto = (await admin.listImageCaches()).filter((c) => c.auto);
    assert.equal(auto.length, 1);
    assert.deepEqual(auto[0]!.images, ['postgres:16']);
    await eventually(async () => ((await describeCache(auto[0]!.id))?.status === 'Ready' ? true : undefined));
    const hit = await createGroup('postgres:16', { autoMatchImageCache: true });
    assert.equal((await admin.getContainerGroup(hit)).imageCacheId, auto[0]!.id);
  });

  it('DescribeImageCaches matches images: any, a count, or all of them, best first', async () => {
    const a = await createCache(['nginx:7']);
    const b = await createCache(['nginx:7', 'redis:7']);
    const q = async (over: Partial<$Eci.DescribeImageCachesRequest>) =>
      (
        await eci.describeImageCaches(
          new $Eci.DescribeImageCachesRequest({
            regionId: REGION,
            matchImage: ['nginx:7', 'redis:7'],
            ...over,
          }),
        )
      ).body.imageCaches?.map((c) => c.imageCacheId);
    assert.deepEqual(await q({}), [b, a]);
    assert.deepEqual(await q({ imageFullMatch: true }), [b]);
    assert.deepEqual(await q({ imageMatchCountRequest: 2 }), [b]);
  });
});

describe('updates and restarts', () => {
  it('IncrementalUpdate changes only what it sends; an init-only change waits for a restart', async () => {
    const g = await createGroup(
      'nginx:8',
      {
        initContainer: [
          new $Eci.CreateContainerGroupRequestInitContainer({ name: 'init', image: 'busybox:1' }),
        ],
      },
      [{ name: 'side', image: 'redis:8', command: ['redis-server'], cpu: 1, memory: 2 }],
    );
    await admin.waitForContainerGroup(g, (x) => x.status === 'Running');
    await eci.updateContainerGroup(
      new $Eci.UpdateContainerGroupRequest({
        regionId: REGION,
        containerGroupId: g,
        updateType: 'IncrementalUpdate',
        initContainer: [
          new $Eci.UpdateContainerGroupRequestInitContainer({ name: 'init', image: 'busybox:2' }),
        ],
      }),
    );
    const after1 = await admin.getContainerGroup(g);
    assert.equal(after1.status, 'Running');
    const spec = after1.spec as {
      initContainers: { image: string }[];
      containers: { name: string; command: string[]; cpu: number }[];
    };
    assert.equal(spec.initContainers[0]!.image, 'busybox:2');
    assert.deepEqual(spec.containers[1]!.command, ['redis-server']);
    assert.equal(spec.containers[1]!.cpu, 1);

    await eci.updateContainerGroup(
      new $Eci.UpdateContainerGroupRequest({
        regionId: REGION,
        containerGroupId: g,
        updateType: 'IncrementalUpdate',
        container: [new $Eci.UpdateContainerGroupRequestContainer({ name: 'side', image: 'redis:9' })],
      }),
    );
    const updating = await admin.getContainerGroup(g);
    assert.notEqual(updating.status, 'Running');
    const spec2 = updating.spec as { containers: { name: string; image: string; command: string[] }[] };
    assert.deepEqual(
      spec2.containers.map((c) => [c.name, c.image, c.command]),
      [
        ['app', 'nginx:8', []],
        ['side', 'redis:9', ['redis-server']],
      ],
    );
  });

  it('a stuck container stays stuck until RestartContainerGroup, which counts a restart', async () => {
    const g = await createGroup('nginx:10');
    await admin.waitForContainerGroup(g, (x) => x.status === 'Running');
    await admin.stickContainer(g, 'app', { reason: 'RunContainerError', message: 'mount failed' });
    await new Promise((r) => setTimeout(r, 500));
    const stuck = await admin.getContainerGroup(g);
    assert.equal(stuck.status, 'Running');
    assert.deepEqual(
      [stuck.containers[0]!.state, stuck.containers[0]!.reason],
      ['Waiting', 'RunContainerError'],
    );
    await eci.restartContainerGroup(
      new $Eci.RestartContainerGroupRequest({ regionId: REGION, containerGroupId: g }),
    );
    const back = await admin.waitForContainerGroup(
      g,
      (x) => x.status === 'Running' && x.containers[0]!.state === 'Running',
    );
    assert.equal(back.containers[0]!.restartCount, 1);
  });
});

describe('spot and EIP', () => {
  it('SpotWithPriceLimit needs a limit; an existing EIP gives a stable public address', async () => {
    const e = await sdkError(() => createGroup('nginx', { spotStrategy: 'SpotWithPriceLimit' }));
    assert.equal(e.code, 'MissingParameter');
    const g = await createGroup('nginx', { eipInstanceId: 'eip-emulator1' });
    const h = await createGroup('nginx', { eipInstanceId: 'eip-emulator1' });
    const [a, b] = [await admin.getContainerGroup(g), await admin.getContainerGroup(h)];
    assert.match(a.internetIp ?? '', /^47\./);
    assert.equal(a.internetIp, b.internetIp);
    const bad = await sdkError(() => createGroup('nginx', { eipInstanceId: 'not-an-eip' }));
    assert.equal(bad.code, 'InvalidEipInstanceId.NotFound');
  });
});
