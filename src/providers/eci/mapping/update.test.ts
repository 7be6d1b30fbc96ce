import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpdateContainerGroupRequest } from '@alicloud/eci20180808';
import type { V1Pod } from '@kubernetes/client-node';
import { container, plain, pod, wireQuery } from '../../../../test/support/eci-mapping-fixtures.ts';
import { diffPodUpdate, podUpdateToRequest } from './update.ts';

const oldPod = pod({
  initContainers: [container({ name: 'init', image: 'init:1' })],
  containers: [container({ name: 'app', image: 'app:1' }), container({ name: 'side', image: 'side:1' })],
  activeDeadlineSeconds: 600,
});
const withImages = (app: string, init = 'init:1', side = 'side:1'): V1Pod => ({
  ...oldPod,
  spec: {
    ...oldPod.spec!,
    initContainers: [container({ name: 'init', image: init })],
    containers: [container({ name: 'app', image: app }), container({ name: 'side', image: side })],
  },
});
const target = { containerGroupId: 'eci-1', regionId: 'cn-hangzhou' };

test('an image change becomes an incremental UpdateContainerGroup listing every container', () => {
  const req = podUpdateToRequest(oldPod, withImages('app:2'), target);
  assert.ok(req instanceof UpdateContainerGroupRequest);
  const r = plain(req) as Record<string, unknown>;
  assert.equal(r.containerGroupId, 'eci-1');
  assert.equal(r.regionId, 'cn-hangzhou');
  assert.equal(r.updateType, 'IncrementalUpdate');
  assert.deepEqual(r.container, [
    { name: 'app', image: 'app:2' },
    { name: 'side', image: 'side:1' },
  ]);
  assert.equal(r.initContainer, undefined, 'init containers untouched');
  assert.match(String(r.clientToken), /^0a1b2c3d-0000-4000-8000-000000000001-[0-9a-f]{8}$/);
  assert.ok(String(r.clientToken).length <= 64);
  const q = wireQuery(req);
  assert.equal(q['Container.1.Image'], 'app:2');
  assert.equal(q.UpdateType, 'IncrementalUpdate');
});

test('ClientToken: the same update retried is the same token; another update is not', () => {
  const a = podUpdateToRequest(oldPod, withImages('app:2'), target);
  const b = podUpdateToRequest(oldPod, withImages('app:2'), target);
  const c = podUpdateToRequest(oldPod, withImages('app:3'), target);
  assert.equal(a?.clientToken, b?.clientToken);
  assert.notEqual(a?.clientToken, c?.clientToken);
});

test('init container image changes include the init containers', () => {
  const r = plain(podUpdateToRequest(oldPod, withImages('app:1', 'init:2'), target)) as Record<
    string,
    unknown
  >;
  assert.deepEqual(r.initContainer, [{ name: 'init', image: 'init:2' }]);
});

test('nothing to send: no change, change already applied, or no group ID', () => {
  assert.equal(podUpdateToRequest(oldPod, oldPod, target), null);
  assert.equal(
    podUpdateToRequest(oldPod, withImages('app:2'), {
      ...target,
      containers: [
        { name: 'app', image: 'app:2' },
        { name: 'side', image: 'side:1' },
      ],
    }),
    null,
    'ECI already runs app:2',
  );
  assert.equal(podUpdateToRequest(oldPod, withImages('app:2'), {}), null);
});

test('changes UpdateContainerGroup cannot apply are reported, not sent', () => {
  const deadline: V1Pod = { ...oldPod, spec: { ...oldPod.spec!, activeDeadlineSeconds: 60 } };
  assert.equal(podUpdateToRequest(oldPod, deadline, target), null);
  assert.deepEqual(
    diffPodUpdate(oldPod, deadline).unsupported.map((u) => u.field),
    ['spec.activeDeadlineSeconds'],
  );
  const resized: V1Pod = {
    ...oldPod,
    spec: {
      ...oldPod.spec!,
      containers: [
        container({ name: 'app', image: 'app:1', resources: { limits: { cpu: '2', memory: '1Gi' } } }),
        container({ name: 'side', image: 'side:1' }),
      ],
    },
  };
  const plan = diffPodUpdate(oldPod, resized);
  assert.deepEqual(plan.images, []);
  assert.deepEqual(
    plan.unsupported.map((u) => u.field),
    ['spec.containers[0].resources'],
  );
  assert.deepEqual(diffPodUpdate(oldPod, withImages('app:2')).images, [
    { container: 'app', init: false, from: 'app:1', to: 'app:2' },
  ]);
});
