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

test('an AccessKey without a region names the missing region and never prints the secret', () => {
  assert.throws(
    () => parseEciSettings({ ECI_ACCESS_KEY: 'LTAIexample', ECI_SECRET_KEY: 'super-secret-value' }),
    (err: Error) =>
      /ECI_REGION \(environment\): is required/.test(err.message) &&
      !err.message.includes('super-secret-value') &&
      !err.message.includes('LTAIexample'),
  );
});

test('half an AccessKey is named', () => {
  assert.throws(
    () => parseEciSettings({ ...cloud, ECI_SECRET_KEY: '' }),
    /ECI_SECRET_KEY \(environment\): is required/,
  );
});

test('a region without an AccessKey leaves the credentials to the secret', () => {
  const s = parseEciSettings({ ...cloud, ECI_ACCESS_KEY: '', ECI_SECRET_KEY: '' });
  assert.equal(s.mode === 'cloud' && s.credentials, undefined);
});

test('a malformed value is named with what was given', () => {
  assert.throws(
    () => parseEciSettings({ ...cloud, ECI_SECURITY_GROUP: 'default' }),
    /ECI_SECURITY_GROUP.*sg-xxx.*"default"/,
  );
});
