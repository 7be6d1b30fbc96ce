import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cidrContains, IpPool, parseCidr } from './network.ts';

describe('parseCidr', () => {
  const cases: [string, { base: number; prefix: number; size: number } | null][] = [
    ['192.168.0.0/16', { base: 0xc0a80000, prefix: 16, size: 65536 }],
    ['10.1.2.3/24', { base: 0x0a010200, prefix: 24, size: 256 }],
    ['10.0.0.0/33', null],
    ['256.0.0.0/8', null],
    ['nope', null],
  ];
  for (const [text, want] of cases) it(text, () => assert.deepEqual(parseCidr(text), want));

  it('checks containment', () => {
    assert.ok(cidrContains(parseCidr('192.168.0.0/16')!, parseCidr('192.168.64.0/18')!));
    assert.ok(!cidrContains(parseCidr('192.168.0.0/18')!, parseCidr('192.168.64.0/18')!));
  });
});

describe('IpPool', () => {
  it('skips reserved addresses, never hands out one address twice and does not reuse at once', () => {
    const pool = new IpPool(parseCidr('10.0.0.0/29')!);
    assert.equal(pool.capacity, 4);
    const got = [pool.allocate(), pool.allocate(), pool.allocate(), pool.allocate()];
    assert.deepEqual(got, ['10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    assert.equal(pool.allocate(), null);
    pool.release('10.0.0.4');
    assert.equal(pool.allocate(), '10.0.0.4');
    pool.release('10.0.0.3');
    pool.release('10.0.0.5');
    assert.equal(pool.allocate(), '10.0.0.5', 'walks forward from the last address handed out');
  });

  it('claims specific addresses once', () => {
    const pool = new IpPool(parseCidr('10.0.0.0/24')!);
    assert.equal(pool.claim('10.0.0.50'), true);
    assert.equal(pool.claim('10.0.0.50'), false);
    assert.equal(pool.claim('10.0.1.1'), false);
    assert.equal(pool.claim('10.0.0.1'), false, 'reserved');
    assert.equal(pool.isUsed('10.0.0.50'), true);
  });
});
