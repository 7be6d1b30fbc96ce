import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProfile } from './profile.ts';
import { parseCloudPrivileges, privilegesFor } from './cloud-privileges.ts';

test('namespace entries and * combine; absent namespaces get nothing', () => {
  const p = parseCloudPrivileges(
    JSON.stringify({
      'team-a': { ramRoles: ['oss-reader'], createEip: true },
      '*': { securityGroups: ['sg-shared'] },
    }),
  );
  assert.deepEqual(privilegesFor(p, 'team-a'), {
    ramRoles: ['oss-reader'],
    securityGroups: ['sg-shared'],
    vSwitches: [],
    eips: [],
    createEip: true,
  });
  assert.deepEqual(privilegesFor(p, 'team-b').ramRoles, []);
  assert.deepEqual(privilegesFor(undefined, 'team-a').ramRoles, []);
});

const bad: [string, RegExp][] = [
  ['not json', /JSON object/],
  ['{"Team_A": {}}', /namespace names/],
  ['{"a": {"ramRole": ["x"]}}', /a: .*ramRole/],
  ['{"a": {"ramRoles": "x"}}', /a\.ramRoles/],
  ['{"a": {"createEip": "yes"}}', /a\.createEip/],
];
for (const [json, want] of bad) {
  test(`refuses ${json}, naming where`, () => {
    assert.throws(() => parseCloudPrivileges(json), want);
    assert.throws(
      () => parseProfile({ cloudPrivileges: json }, () => []),
      (e: Error) => e.name === 'ProfileError' && /cloudPrivileges/.test(e.message),
    );
  });
}
