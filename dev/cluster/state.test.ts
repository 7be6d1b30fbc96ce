import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes, hasCode } from '../../src/util/errors.ts';
import { defaultStateDir, validateClusterName } from './state.ts';

describe('cluster state location', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['default', {}, join(homedir(), '.local/state/eci-virtual-node/clusters/default')],
    ['test', { XDG_STATE_HOME: '/x' }, '/x/eci-virtual-node/clusters/test'],
    ['test', { ECI_VN_STATE_DIR: '/srv/evn', XDG_STATE_HOME: '/x' }, '/srv/evn'],
  ];
  for (const [name, env, want] of cases) {
    it(`${name} with ${JSON.stringify(env)} → ${want}`, () => {
      assert.equal(defaultStateDir(name, env), want);
    });
  }

  it('accepts DNS labels only as cluster names', () => {
    for (const good of ['default', 'test', 'cluster-selftest', 'a1'])
      assert.equal(validateClusterName(good), good);
    for (const bad of ['', 'Upper', '../x', 'a/b', '-a', 'a-', 'x'.repeat(64)]) {
      assert.throws(
        () => validateClusterName(bad),
        (e) => hasCode(e, ErrorCodes.INVALID_INPUT),
        bad,
      );
    }
  });
});
