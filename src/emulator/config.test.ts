import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { hasCode, ErrorCodes } from '../util/errors.ts';
import { DEFAULT_REGION, loadEmulatorConfigFile, parseEmulatorConfig, quotaFor } from './config.ts';
import { sdkClient, startTestEmulator } from '../../test/support/emulator-sdk.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'eci-emu-config-'));
  dirs.push(d);
  return d;
}

describe('emulator configuration', () => {
  it('{} is a complete configuration', () => {
    const c = parseEmulatorConfig({});
    assert.equal(c.port, 9440);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.stateDir, undefined);
    assert.deepEqual(c.accessKeys, [{ id: 'LTAI-emulator', secret: 'emulator-secret' }]);
    assert.deepEqual(c.region, DEFAULT_REGION);
    assert.equal(c.quotas.enabled, true);
    assert.equal(quotaFor(c, 'CreateContainerGroup'), 1000);
    assert.equal(quotaFor(c, 'DescribeContainerGroups'), 2000);
    assert.equal(quotaFor(c, 'ExecContainerCommand'), 500);
    assert.equal(quotaFor(c, 'CreateImageCache'), 200);
    assert.equal(c.lifecycle.stages.find((s) => s.from === 'Pending')?.to, 'Running');
    assert.equal(c.journal.fsync, true);
  });

  it('names every invalid field', () => {
    const bad = {
      port: 70000,
      region: {
        id: 'r',
        zones: [{ id: 'z' }],
        vpcs: [{ id: 'v', cidr: 'nope' }],
        vSwitches: [{ id: 's', zoneId: 'other', vpcId: 'v', cidr: '10.0.0.0/30' }],
        securityGroups: [{ id: 'g', vpcId: 'missing' }],
      },
      lifecycle: {
        stages: [
          { from: 'Pending', to: 'Running', delayMs: 1 },
          { from: 'Pending', to: 'Failed', delayMs: 1 },
        ],
      },
    };
    try {
      parseEmulatorConfig(bad);
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(hasCode(err, ErrorCodes.CONFIG_INVALID));
      const msg = (err as Error).message;
      for (const path of [
        'port',
        'region.vpcs.0.cidr',
        'region.vSwitches.0.zoneId',
        'region.vSwitches.0.cidr',
        'region.securityGroups.0.vpcId',
        'lifecycle.stages.1.from',
      ]) {
        assert.ok(msg.includes(path), `${path} in: ${msg}`);
      }
    }
  });

  it('reads YAML files', async () => {
    const dir = await tempDir();
    const file = join(dir, 'emulator.yaml');
    await writeFile(
      file,
      'port: 9555\nquotas:\n  enabled: false\naccessKeys:\n  - { id: AK1, secret: S1 }\n',
    );
    const c = parseEmulatorConfig(await loadEmulatorConfigFile(file));
    assert.equal(c.port, 9555);
    assert.equal(c.quotas.enabled, false);
    assert.equal(c.accessKeys[0]?.id, 'AK1');
    await writeFile(file, '- a list\n');
    await assert.rejects(loadEmulatorConfigFile(file), (e: unknown) => hasCode(e, ErrorCodes.CONFIG_INVALID));
    await assert.rejects(loadEmulatorConfigFile(join(dir, 'missing.yaml')), (e: unknown) =>
      hasCode(e, ErrorCodes.CONFIG_INVALID),
    );
  });
});

describe('HTTPS', () => {
  it('serves the API over TLS with a configured certificate', async (t) => {
    const dir = await tempDir();
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    try {
      await promisify(execFile)('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ]);
    } catch {
      t.skip('openssl is not available to make a test certificate');
      return;
    }
    const emu = await startTestEmulator({ tls: { certFile: cert, keyFile: key } });
    try {
      assert.equal(emu.protocol, 'https');
      assert.match(emu.url, /^https:\/\//);
      const ca = await readFile(cert, 'utf8');
      const c = sdkClient(emu, { ca });
      const r = await c.describeContainerGroups(
        new $Eci.DescribeContainerGroupsRequest({ regionId: emu.regionId }),
      );
      assert.equal(r.body.totalCount, 0);
    } finally {
      await emu.close();
    }
  });
});
