import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerGroupName, containerIdFor, parseContainerId, shortHash } from './names.ts';
import { identityFromTags, identityTags, TAG_KEYS, tagValue } from './tags.ts';

const VALID = /^[a-z0-9]([a-z0-9-]{0,126}[a-z0-9])?$/;

test('container group names follow ECI rules and stay deterministic', () => {
  const cases: [string, string, string | RegExp][] = [
    ['shop', 'web-0', 'shop-web-0'],
    ['default', 'nginx', 'default-nginx'],
    // Rewritten characters get a hash so a.b and a-b do not collide.
    ['shop', 'web.v1', new RegExp(`^shop-web-v1-${shortHash('shop/web.v1')}$`)],
    ['shop', 'web-v1', 'shop-web-v1'],
    ['Upper', 'X', /^upper-x-[0-9a-f]{8}$/],
  ];
  for (const [ns, name, want] of cases) {
    const got = containerGroupName(ns, name);
    if (typeof want === 'string') assert.equal(got, want);
    else assert.match(got, want);
    assert.match(got, VALID, got);
    assert.equal(containerGroupName(ns, name), got, 'same input, same name');
  }
});

test('long names are cut to 128 with a hash that keeps them apart', () => {
  const a = containerGroupName('ns', 'x'.repeat(200) + 'a');
  const b = containerGroupName('ns', 'x'.repeat(200) + 'b');
  assert.equal(a.length, 128);
  assert.equal(b.length, 128);
  assert.notEqual(a, b);
  assert.match(a, VALID);
});

test('container IDs round-trip', () => {
  const id = containerIdFor('eci-123', 'app');
  assert.equal(id, 'eci://eci-123/app');
  assert.deepEqual(parseContainerId(id), { containerGroupId: 'eci-123', containerName: 'app' });
  assert.equal(parseContainerId('docker://abc'), null);
});

test('identity tags use the documented keys and read back', () => {
  const tags = identityTags({
    clusterId: 'c1',
    nodeName: 'vk',
    namespace: 'shop',
    podName: 'web-0',
    podUid: 'u-1',
  });
  assert.deepEqual(
    tags.map((t) => t.key),
    [TAG_KEYS.CLUSTER_ID, TAG_KEYS.NODE_NAME, TAG_KEYS.NAMESPACE, TAG_KEYS.POD_NAME, TAG_KEYS.POD_UID],
  );
  assert.deepEqual(Object.values(TAG_KEYS), [
    'eci-virtual-node/cluster-id',
    'eci-virtual-node/node-name',
    'eci-virtual-node/namespace',
    'eci-virtual-node/pod-name',
    'eci-virtual-node/pod-uid',
  ]);
  assert.deepEqual(identityFromTags(tags), {
    clusterId: 'c1',
    nodeName: 'vk',
    namespace: 'shop',
    podName: 'web-0',
    podUid: 'u-1',
  });
  assert.equal(identityFromTags(tags.slice(1)), null, 'a group without the full set is not ours');
});

test('tag values the tag service would refuse are rewritten the same way every time', () => {
  assert.equal(tagValue('web-0'), 'web-0');
  assert.equal(tagValue('aliyun-agent'), '_aliyun-agent');
  assert.equal(tagValue('acs:x'), '_acs:x');
  const long = 'p'.repeat(300);
  assert.equal(tagValue(long).length, 128);
  assert.equal(tagValue(long), tagValue(long));
});
