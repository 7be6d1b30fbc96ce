import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEciSettings } from './eci-settings.ts';

const cloud = {
  ECI_REGION: 'cn-hangzhou',
  ECI_ACCESS_KEY: 'LTAIexample',
  ECI_SECRET_KEY: 'super-secret-value',
  ECI_VSWITCH: 'vsw-a, vsw-b',
  ECI_SECURITY_GROUP: 'sg-1',
};

test('no AccessKey and no region means the embedded emulator', () => {
  assert.deepEqual(parseEciSettings({}), {
    mode: 'emulator',
    vSwitchIds: undefined,
    securityGroupId: undefined,
  });
});

test('a full cloud configuration parses, vSwitches as a list in order', () => {
  const s = parseEciSettings(cloud);
  assert.equal(s.mode, 'cloud');
  assert.deepEqual(s.mode === 'cloud' && s.vSwitchIds, ['vsw-a', 'vsw-b']);
  assert.equal(s.mode === 'cloud' && s.protocol, 'https');
});

test('a partial cloud configuration names every missing variable and never prints the secret', () => {
  assert.throws(
    () => parseEciSettings({ ECI_ACCESS_KEY: 'LTAIexample', ECI_SECRET_KEY: 'super-secret-value' }),
    (err: Error) =>
      /ECI_REGION \(environment\): is required/.test(err.message) &&
      /ECI_VSWITCH/.test(err.message) &&
      /ECI_SECURITY_GROUP/.test(err.message) &&
      !err.message.includes('super-secret-value') &&
      !err.message.includes('LTAIexample'),
  );
});

test('a malformed value is named with what was given', () => {
  assert.throws(
    () => parseEciSettings({ ...cloud, ECI_SECURITY_GROUP: 'default' }),
    /ECI_SECURITY_GROUP.*sg-xxx.*"default"/,
  );
});
