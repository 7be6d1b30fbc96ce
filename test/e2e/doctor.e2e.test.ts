import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlApply } from '../support/apply.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';

const kubeconfig = testKubeconfig();
const { kubectl } = kubectlFor(kubeconfig);
const PROFILE = 'eci-profile-e2e-doctor';
const run = promisify(execFile);

describe('doctor', { timeout: 300_000 }, () => {
  let eci: TestEmulator;
  const doctor = async (env: Record<string, string>) => {
    try {
      const { stdout } = await run(
        process.execPath,
        [
          'bin/eci-virtual-node.js',
          'doctor',
          '--kubeconfig',
          kubeconfig,
          '--eci-profile',
          `kube-system/${PROFILE}`,
        ],
        { env: { ...process.env, ...env } },
      );
      return { code: 0, stdout };
    } catch (err) {
      const e = err as { code: number; stdout: string };
      return { code: e.code, stdout: e.stdout };
    }
  };

  before(async () => {
    eci = await startTestEmulator();
  });
  after(async () => {
    await kubectl('-n', 'kube-system', 'delete', 'configmap', PROFILE, '--ignore-not-found');
    await eci.close();
  });

  test('a correct setup passes every check, each RAM action probed', async () => {
    const r = await doctor(eci.env);
    assert.equal(r.code, 0, r.stdout);
    for (const action of [
      'CreateContainerGroup',
      'DeleteContainerGroup',
      'ExecContainerCommand',
      'CreateImageCache',
      'UpdateContainerGroupByTemplate',
    ]) {
      assert.match(r.stdout, new RegExp(`ok\\s+eci:${action}\\s+allowed`));
    }
    assert.match(r.stdout, /all checks passed/);
  });

  test('the credential chain: STS credentials from ALIBABA_CLOUD_* are shown and used for every probe', async () => {
    const r = await doctor({
      ...eci.env,
      ECI_ACCESS_KEY: '',
      ECI_SECRET_KEY: '',
      ALIBABA_CLOUD_ACCESS_KEY_ID: eci.env.ECI_ACCESS_KEY!,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: eci.env.ECI_SECRET_KEY!,
      ALIBABA_CLOUD_SECURITY_TOKEN: 'sts-token-e2e',
    });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /ok\s+credentials\s+credential chain: STS token of /);
    assert.match(r.stdout, /ok\s+eci:CreateContainerGroup\s+allowed/);
    assert.ok(
      !r.stdout.includes(eci.env.ECI_SECRET_KEY!) && !r.stdout.includes('sts-token-e2e'),
      'no secret printed',
    );
  });

  test('no credentials anywhere: every source is named, with how to set one', async () => {
    const r = await doctor({ ...eci.env, ECI_ACCESS_KEY: '', ECI_SECRET_KEY: '' });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL\s+credentials\s+none found \(environment, secret, credential chain\)/);
    assert.match(r.stdout, /RRSA \(ALIBABA_CLOUD_ROLE_ARN/);
  });

  test('a wrong secret is reported with how to fix it, never printed', async () => {
    const r = await doctor({ ...eci.env, ECI_SECRET_KEY: 'wrong-secret-value' });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL\s+eci:DescribeContainerGroups\s+SignatureDoesNotMatch/);
    assert.match(r.stdout, /fix: the AccessKey is wrong/);
    assert.ok(!r.stdout.includes('wrong-secret-value'));
  });

  test('a broken profile is named by key', async () => {
    await kubectlApply(kubeconfig, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: PROFILE, namespace: 'kube-system' },
      data: { vSwitchIds: 'not-a-vswitch' },
    });
    const r = await doctor(eci.env);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /FAIL\s+profile kube-system\/eci-profile-e2e-doctor\s+eci-profile key "vSwitchIds"/,
    );
  });

  test('half an AccessKey in the environment is named', async () => {
    const r = await doctor({ ...eci.env, ECI_SECRET_KEY: '' });
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /FAIL\s+environment \(ECI_\*\)\s+invalid ECI settings:\n\s+ECI_SECRET_KEY \(environment\)/,
    );
  });
});
