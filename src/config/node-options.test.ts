import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNodeOptions } from './node-options.ts';
import { hasCode, ErrorCodes } from '../util/errors.ts';

const good = {
  nodeName: 'virtual-kubelet',
  nodeIp: '10.1.2.3',
  kubeletPort: '10250',
  cpu: '2000',
  memory: '8Ti',
  pods: '10000',
  ephemeralStorage: '40Ti',
};

test('valid settings parse, the port becomes a number', () => {
  assert.equal(parseNodeOptions(good).kubeletPort, 10250);
});

const bad: [string, Record<string, unknown>, RegExp][] = [
  ['upper-case node name', { nodeName: 'Virtual_Kubelet' }, /--node-name.*DNS subdomain.*Virtual_Kubelet/],
  ['not an IP', { nodeIp: 'localhost' }, /--node-ip/],
  ['port out of range', { kubeletPort: '70000' }, /--kubelet-port/],
  ['cpu not a quantity', { cpu: 'lots' }, /--cpu: must be a Kubernetes quantity/],
  ['pods not whole', { pods: '1.5' }, /--pods: must be a whole number/],
];
for (const [name, patch, message] of bad) {
  test(`rejects ${name}, naming the setting`, () => {
    assert.throws(
      () => parseNodeOptions({ ...good, ...patch }),
      (err: unknown) => hasCode(err, ErrorCodes.CONFIG_INVALID) && message.test((err as Error).message),
    );
  });
}
