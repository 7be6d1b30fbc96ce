import { test } from 'node:test';
import assert from 'node:assert/strict';
import { container } from '../../../../test/support/eci-mapping-fixtures.ts';
import { containerSize, resourceFieldValue, roundUpToSpec } from './resources.ts';
import { registryServer } from './pull-secrets.ts';

test('a need rounds up to the smallest ECI spec that holds it', () => {
  const cases: [number, number, { cpu: number; memory: number } | null][] = [
    [0.1, 0.1, { cpu: 0.25, memory: 0.5 }],
    [0.25, 1, { cpu: 0.25, memory: 1 }],
    [0.25, 1.5, { cpu: 0.5, memory: 2 }],
    [1, 2, { cpu: 1, memory: 2 }],
    [1, 9, { cpu: 2, memory: 16 }],
    [7, 13, { cpu: 8, memory: 16 }],
    [48, 100, { cpu: 52, memory: 192 }],
    [64, 512, { cpu: 64, memory: 512 }],
    [65, 1, null],
    [1, 600, null],
  ];
  for (const [cpu, mem, want] of cases) assert.deepEqual(roundUpToSpec(cpu, mem), want, `${cpu}c/${mem}GiB`);
});

test('container size: cores and GiB from limits, else requests', () => {
  assert.deepEqual(containerSize(container({ resources: { limits: { cpu: '1500m', memory: '1536Mi' } } })), {
    cpu: 1.5,
    memory: 1.5,
  });
  assert.deepEqual(containerSize(container({ resources: { requests: { cpu: '100m', memory: '100Mi' } } })), {
    cpu: 0.1,
    memory: 0.098,
  });
  assert.deepEqual(containerSize(container()), {});
});

test('resourceFieldRef values are formatted like the kubelet', () => {
  const c = container({
    resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1', memory: '128Mi' } },
  });
  const g = { cpu: 2, memory: 4, ephemeralGiB: 30 };
  const cases: [string, string | undefined, string | undefined][] = [
    ['limits.cpu', undefined, '1'],
    ['limits.cpu', '1m', '1000'],
    ['requests.cpu', undefined, '1'],
    ['requests.cpu', '1m', '250'],
    ['limits.memory', undefined, String(128 * 2 ** 20)],
    ['requests.memory', '1Mi', '64'],
    ['limits.ephemeral-storage', '1Gi', '30'],
    ['limits.hugepages-2Mi', undefined, undefined],
    ['cpu', undefined, undefined],
  ];
  for (const [res, div, want] of cases)
    assert.equal(resourceFieldValue(c, res, div, g), want, `${res}/${div}`);
  assert.equal(resourceFieldValue(container(), 'limits.memory', '1Gi', g), '4', 'open limit: the group size');
});

test('registry servers lose scheme and path', () => {
  assert.equal(registryServer('https://index.docker.io/v1/'), 'index.docker.io');
  assert.equal(registryServer('registry.example.com:5000'), 'registry.example.com:5000');
  assert.equal(registryServer('http://r.example/path'), 'r.example');
});
