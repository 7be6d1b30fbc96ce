import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Secret } from '@kubernetes/client-node';
import { wireQuery } from '../../test/support/eci-mapping-fixtures.ts';
import { buildCreateRequest, cacheName, specHash } from './request.ts';
import { parseSpec, type ImageCacheObject } from './resource.ts';

function ic(spec: Record<string, unknown>, annotations: Record<string, string> = {}): ImageCacheObject {
  return { metadata: { name: 'imagecache-sample', uid: 'u-123', generation: 1, annotations }, spec };
}

const placement = { vSwitchIds: ['vsw-a', 'vsw-b'], securityGroupId: 'sg-1' };
const dockerSecret = (server: string): V1Secret => ({
  type: 'kubernetes.io/dockerconfigjson',
  data: {
    '.dockerconfigjson': Buffer.from(
      JSON.stringify({ auths: { [server]: { username: 'u', password: 'p' } } }),
    ).toString('base64'),
  },
});

test('the documented sample becomes CreateImageCache with secrets, size, retention, reuse and placement', () => {
  const sample = ic(
    {
      images: ['centos:latest', 'busybox:latest'],
      imagePullSecrets: ['default:secret1', 'kube-system:secret3'],
      imageCacheSize: 25,
      retentionDays: 7,
    },
    { 'k8s.aliyun.com/imc-enable-reuse': 'true', 'k8s.aliyun.com/imc-enable-flash': 'true' },
  );
  const spec = parseSpec(sample);
  assert.ok(spec.ok);
  const r = buildCreateRequest(sample, spec.spec, {
    clusterId: 'c-1',
    placement,
    secrets: new Map([
      ['default:secret1', dockerSecret('https://index.docker.io/v1/')],
      ['kube-system:secret3', dockerSecret('registry.example.com')],
    ]),
  });
  assert.ok(r.ok);
  const q = wireQuery(r.request);
  assert.equal(q.ImageCacheName, 'imagecache-sample');
  assert.deepEqual([q['Image.1'], q['Image.2']], ['centos:latest', 'busybox:latest']);
  assert.equal(q.ImageCacheSize, '25');
  assert.equal(q.RetentionDays, '7');
  assert.equal(q.AutoMatchImageCache, 'true');
  assert.equal(q.Flash, 'true');
  assert.equal(q.VSwitchId, 'vsw-a,vsw-b');
  assert.equal(q.SecurityGroupId, 'sg-1');
  assert.equal(q['ImageRegistryCredential.1.Server'], 'index.docker.io');
  assert.equal(q['ImageRegistryCredential.2.Server'], 'registry.example.com');
  assert.equal(q.ClientToken, `u-123-${specHash(sample, spec.spec)}`);
  const tags = Object.fromEntries([1, 2, 3, 4].map((i) => [q[`Tag.${i}.Key`], q[`Tag.${i}.Value`]]));
  assert.equal(tags['eci-virtual-node/imagecache-uid'], 'u-123');
  assert.equal(tags['eci-virtual-node/cluster-id'], 'c-1');
});

test('defaults and annotations: 20 GiB, never expires, the ImageCache placement annotations win', () => {
  const r0 = ic(
    { images: ['nginx'] },
    {
      'k8s.aliyun.com/vswitch-ids': 'vsw-x',
      'k8s.aliyun.com/security-group-id': 'sg-x',
      'k8s.aliyun.com/resource-group-id': 'rg-x',
      'k8s.aliyun.com/acr-instance-ids': 'cn-beijing:cri-abc',
    },
  );
  const spec = parseSpec(r0);
  assert.ok(spec.ok);
  const r = buildCreateRequest(r0, spec.spec, { clusterId: 'c', placement, secrets: new Map() });
  assert.ok(r.ok);
  const q = wireQuery(r.request);
  assert.equal(q.ImageCacheSize, '20');
  assert.equal(q.RetentionDays, undefined);
  assert.deepEqual([q.VSwitchId, q.SecurityGroupId, q.ResourceGroupId], ['vsw-x', 'sg-x', 'rg-x']);
  assert.deepEqual(
    [q['AcrRegistryInfo.1.RegionId'], q['AcrRegistryInfo.1.InstanceId']],
    ['cn-beijing', 'cri-abc'],
  );
});

test('a missing Secret is retried; refused or unknown annotations and bad specs name what is wrong', () => {
  const withSecret = ic({ images: ['nginx'], imagePullSecrets: ['default:gone'] });
  const spec = parseSpec(withSecret);
  assert.ok(spec.ok);
  const missing = buildCreateRequest(withSecret, spec.spec, {
    clusterId: 'c',
    placement,
    secrets: new Map([['default:gone', undefined]]),
  });
  assert.deepEqual(missing, {
    ok: false,
    permanent: false,
    why: 'Secret default/gone (spec.imagePullSecrets) not found',
  });

  for (const [key, value] of [
    ['k8s.aliyun.com/imc-cpu-arch', 'arm64'],
    ['k8s.aliyun.com/imc-enable-reus', 'true'],
    ['k8s.aliyun.com/imc-enable-flash', 'yes'],
  ]) {
    const r = ic({ images: ['nginx'] }, { [key!]: value! });
    const s = parseSpec(r);
    assert.ok(s.ok);
    const out = buildCreateRequest(r, s.spec, { clusterId: 'c', placement, secrets: new Map() });
    assert.equal(out.ok, false, key);
    if (!out.ok) {
      assert.equal(out.permanent, true);
      assert.ok(out.why.includes(key!), out.why);
    }
  }
  for (const [spec, field] of [
    [{}, 'spec.images'],
    [{ images: [] }, 'spec.images'],
    [{ images: ['nginx'], imageCacheSize: 10 }, 'spec.imageCacheSize'],
    [{ images: ['nginx'], retentionDays: 0 }, 'spec.retentionDays'],
    [{ images: ['nginx'], imagePullSecrets: ['secret1'] }, 'spec.imagePullSecrets.0'],
  ] as const) {
    const r = parseSpec(ic(spec as Record<string, unknown>));
    assert.equal(r.ok, false, JSON.stringify(spec));
    if (!r.ok) assert.ok(r.why.startsWith(field), r.why);
  }
});

test('the spec hash follows the spec and the shaping annotations, nothing else', () => {
  const a = ic({ images: ['nginx'] });
  const sa = parseSpec(a);
  assert.ok(sa.ok);
  const h = specHash(a, sa.spec);
  assert.equal(specHash(ic({ images: ['nginx'] }, { unrelated: 'x' }), sa.spec), h);
  assert.notEqual(
    specHash(ic({ images: ['nginx'] }, { 'k8s.aliyun.com/imc-enable-flash': 'true' }), sa.spec),
    h,
  );
  const b = parseSpec(ic({ images: ['nginx', 'redis'] }));
  assert.ok(b.ok);
  assert.notEqual(specHash(a, b.spec), h);
});

test('ECI cache names from resource names', () => {
  assert.equal(cacheName('imagecache-sample'), 'imagecache-sample');
  assert.equal(cacheName('My.Cache_1'), 'my-cache-1');
  assert.equal(cacheName('x'), 'imc-x');
});
