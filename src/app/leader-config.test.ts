import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes, hasCode } from '../util/errors.ts';
import { leaderElectionConfig } from './leader-config.ts';

test('off unless --leader-elect', () => assert.equal(leaderElectionConfig({}, {}, 'vk'), undefined));

test('defaults: one Lease per node in kube-system, failover timing, identity from POD_NAME', () => {
  const c = leaderElectionConfig({ leaderElect: true }, { POD_NAME: 'ctrl-0' }, 'vk')!;
  assert.equal(c.namespace, 'kube-system');
  assert.equal(c.name, 'eci-virtual-node-vk');
  assert.match(c.identity, /^ctrl-0_[0-9a-f]{8}$/);
  assert.deepEqual([c.leaseDurationMs, c.renewDeadlineMs, c.retryPeriodMs], [8000, 6000, 1500]);
  assert.notEqual(
    leaderElectionConfig({ leaderElect: true }, { POD_NAME: 'ctrl-0' }, 'vk')!.identity,
    c.identity,
  );
});

const bad: [string, Record<string, string>, RegExp][] = [
  ['renew deadline not below the lease', { leaderElectRenewDeadline: '8s' }, /--leader-elect-renew-deadline/],
  ['retry not below the renew deadline', { leaderElectRetryPeriod: '6s' }, /--leader-elect-retry-period/],
  ['not a duration', { leaderElectLeaseDuration: 'soon' }, /--leader-elect-lease-duration/],
];
for (const [name, flags, want] of bad) {
  test(`refuses ${name}, naming the flag`, () =>
    assert.throws(
      () => leaderElectionConfig({ leaderElect: true, ...flags }, {}, 'vk'),
      (e: Error) => hasCode(e, ErrorCodes.CONFIG_INVALID) && want.test(e.message),
    ));
}
