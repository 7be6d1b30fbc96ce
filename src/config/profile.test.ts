import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProfile, ProfileError } from './profile.ts';

const selectorsAsJson = (s: string) => JSON.parse(s) as unknown[];

test('the ACK keys parse; empty values are unset and unknown keys ignored', () => {
  const p = parseProfile(
    {
      vSwitchIds: 'vsw-a, vsw-b',
      securityGroupId: 'sg-1',
      enableClusterIp: 'false',
      vpcId: '',
      enableHybridDetectLayer: '1',
      selectors: '[{"name":"x"}]',
    },
    selectorsAsJson,
  );
  assert.deepEqual(p, {
    vSwitchIds: ['vsw-a', 'vsw-b'],
    securityGroupId: 'sg-1',
    enableClusterIp: false,
    selectors: [{ name: 'x' }],
  });
});

const bad: [string, Record<string, string>][] = [
  ['vSwitchIds', { vSwitchIds: 'subnet-1' }],
  ['securityGroupId', { securityGroupId: 'default' }],
  ['enableClusterIp', { enableClusterIp: 'yes' }],
  ['selectors', { selectors: '[not json' }],
];
for (const [key, data] of bad) {
  test(`a bad ${key} is rejected naming the key`, () => {
    assert.throws(
      () => parseProfile(data, selectorsAsJson),
      (err: unknown) => err instanceof ProfileError && err.key === key && err.message.includes(`"${key}"`),
    );
  });
}
