import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeImageCachesResponseBodyImageCaches as CloudCache } from '@alicloud/eci20180808';
import { decide, statusChanged } from './reconcile.ts';
import { IMC_TAGS } from './request.ts';
import { FINALIZER, type ImageCacheObject } from './resource.ts';

const NOW = Date.parse('2026-01-10T00:00:00Z');

function ic(
  over: Partial<ImageCacheObject['metadata']> = {},
  status?: ImageCacheObject['status'],
): ImageCacheObject {
  return {
    apiVersion: 'eci.alibabacloud.com/v1',
    kind: 'ImageCache',
    metadata: { name: 'web', uid: 'u-1', generation: 2, finalizers: [FINALIZER], ...over },
    spec: { images: ['nginx'] },
    ...(status ? { status } : {}),
  };
}

function cache(id: string, hash: string, status: string, created = '2026-01-09T00:00:00Z'): CloudCache {
  return new CloudCache({
    imageCacheId: id,
    status,
    progress: status === 'Ready' ? '100%' : '40%',
    creationTime: created,
    tags: [
      { key: IMC_TAGS.UID, value: 'u-1' },
      { key: IMC_TAGS.SPEC, value: hash },
    ],
    events: [{ name: 'e1', type: 'Normal', reason: 'Pulling', message: 'pulling', count: 1 }],
  });
}

test('a new resource gets its finalizer first, then a cache', () => {
  assert.deepEqual(decide(ic({ finalizers: [] }), [], 'h2', NOW), [{ kind: 'add-finalizer' }]);
  assert.deepEqual(decide(ic(), [], 'h2', NOW), [{ kind: 'create' }]);
});

test('the cache of the current spec is mirrored into the status', () => {
  const [a] = decide(ic(), [cache('imc-a', 'h2', 'Creating')], 'h2', NOW);
  assert.equal(a?.kind, 'status');
  if (a?.kind !== 'status') return;
  assert.deepEqual(
    [a.status.phase, a.status.progress, a.status.imageCacheId, a.status.observedGeneration],
    ['Creating', '40%', 'imc-a', 2],
  );
  assert.equal(a.status.events?.[0]?.reason, 'Pulling');
});

test('a spec change makes a new cache and retires the old one only once the new one is Ready', () => {
  const old = cache('imc-old', 'h1', 'Ready');
  assert.deepEqual(decide(ic(), [old], 'h2', NOW), [{ kind: 'create' }]);
  const building = decide(ic(), [old, cache('imc-new', 'h2', 'Creating', '2026-01-10T00:00:00Z')], 'h2', NOW);
  assert.deepEqual(
    building.map((x) => x.kind),
    ['status'],
    'the old cache serves while the new one builds',
  );
  const ready = decide(ic(), [old, cache('imc-new', 'h2', 'Ready', '2026-01-10T00:00:00Z')], 'h2', NOW);
  assert.deepEqual(ready[1], { kind: 'delete', ids: ['imc-old'], why: 'replaced' });
});

test('of two caches of the same spec the newest stays', () => {
  const a = decide(
    ic(),
    [
      cache('imc-1', 'h2', 'Ready', '2026-01-09T00:00:00Z'),
      cache('imc-2', 'h2', 'Ready', '2026-01-09T01:00:00Z'),
    ],
    'h2',
    NOW,
  );
  assert.equal(a[0]?.kind === 'status' && a[0].status.imageCacheId, 'imc-2');
  assert.deepEqual(a[1], { kind: 'delete', ids: ['imc-1'], why: 'replaced' });
});

test('an Expired or Failed generation is not rebuilt after the cloud forgets it; a new spec is', () => {
  const expired = { phase: 'Expired', imageCacheId: 'imc-a', observedGeneration: 2 };
  assert.deepEqual(decide(ic({}, expired), [], 'h2', NOW), []);
  assert.deepEqual(decide(ic({}, { ...expired, phase: 'Failed' }), [], 'h2', NOW), []);
  assert.deepEqual(decide(ic({ generation: 3 }, expired), [], 'h3', NOW), [{ kind: 'create' }]);
  // Forgotten while no controller ran: the expiry time in the status tells.
  const ready = { phase: 'Ready', observedGeneration: 2, expireDateTime: '2026-01-09T00:00:00Z' };
  assert.deepEqual(decide(ic({}, ready), [], 'h2', NOW), [
    { kind: 'status', status: { ...ready, phase: 'Expired' } },
  ]);
  // Deleted by hand while Ready and not expired: made again.
  assert.deepEqual(decide(ic({}, { phase: 'Ready', observedGeneration: 2 }), [], 'h2', NOW), [
    { kind: 'create' },
  ]);
});

test('a deleted resource deletes every cache, then lets go of its finalizer', () => {
  const deleting = ic({ deletionTimestamp: new Date(NOW) });
  assert.deepEqual(
    decide(deleting, [cache('imc-a', 'h2', 'Ready'), cache('imc-b', 'h1', 'Ready')], 'h2', NOW),
    [{ kind: 'delete', ids: ['imc-a', 'imc-b'], why: 'deleting' }],
  );
  assert.deepEqual(decide(deleting, [], 'h2', NOW), [{ kind: 'remove-finalizer' }]);
  assert.deepEqual(decide(ic({ deletionTimestamp: new Date(NOW), finalizers: [] }), [], 'h2', NOW), []);
});

test('status changes ignore lastUpdatedTime and key order', () => {
  assert.equal(
    statusChanged(
      { phase: 'Ready', lastUpdatedTime: 'x', progress: '100%' },
      { progress: '100%', phase: 'Ready' },
    ),
    false,
  );
  assert.equal(statusChanged({ phase: 'Creating' }, { phase: 'Ready' }), true);
  assert.equal(statusChanged(undefined, {}), false);
});
