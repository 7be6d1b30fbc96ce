import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_REGION } from '../../../config.ts';
import { parseCidr } from '../../../network.ts';
import { bridgeName, deriveRegion, overlaps, vethName } from './network.ts';

describe('emulator network naming and ranges', () => {
  it('names links after the instance, within the kernel limit of 15 characters', () => {
    assert.equal(bridgeName('a1b2c3'), 'evbr-a1b2c3');
    const v = vethName('a1b2c3', 'eci-bp1abcdefghijklmnop');
    assert.match(v, /^eva1b2c3-[0-9a-f]{6}$/);
    assert.ok(v.length <= 15);
    assert.notEqual(v, vethName('a1b2c3', 'eci-bp1abcdefghijklmnoq'), 'groups get their own');
    assert.equal(v, vethName('a1b2c3', 'eci-bp1abcdefghijklmnop'), 'and always the same');
  });

  it('gives an emulator a /20 of its own in 10.64.0.0/10, around the ranges already routed', () => {
    const a = deriveRegion(DEFAULT_REGION, 5, []);
    assert.equal(a.vpcs.find((v) => v.id === 'vpc-emulator')?.cidr, '10.64.80.0/20');
    assert.deepEqual(
      a.vSwitches.map((v) => [v.id, v.cidr]),
      [
        ['vsw-emulator-h', '10.64.80.0/22'],
        ['vsw-emulator-i', '10.64.84.0/22'],
        ['vsw-emulator-j', '10.64.88.0/22'],
      ],
    );
    assert.equal(a.securityGroups.length, DEFAULT_REGION.securityGroups.length, 'names stay');
    const taken = [parseCidr('10.64.80.0/21')!];
    const b = deriveRegion(DEFAULT_REGION, 5, taken);
    const vpc = parseCidr(b.vpcs[0]!.cidr)!;
    assert.ok(!overlaps(vpc, taken[0]!), `${b.vpcs[0]!.cidr} clear of 10.64.80.0/21`);
    assert.throws(() => deriveRegion(DEFAULT_REGION, 0, [parseCidr('10.0.0.0/8')!]), /no free \/20/);
  });
});
