import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { RunningEmulator } from '../../emulator/server.ts';
import { startTestEmulator } from '../../../test/support/emulator-sdk.ts';
import { systemClock } from '../../util/clock.ts';
import type { PodInputs } from '../provider.ts';
import { EciClient } from './eci-client.ts';
import { EciProvider } from './eci-provider.ts';
import { pod, refs } from '../../../test/support/eci-mapping-fixtures.ts';

/** The ECI provider against the emulator, for what only the cloud's answer decides. */

let emu: RunningEmulator;
let provider: EciProvider;
let inputs: PodInputs;
const log = pino({ level: 'silent' });

before(async () => {
  emu = await startTestEmulator();
  const eci = new EciClient({
    credentials: { accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret },
    regionId: emu.regionId,
    endpoint: emu.endpoint,
    protocol: emu.protocol,
    clock: systemClock,
    log,
  });
  provider = new EciProvider({
    eci,
    clusterId: 'c1',
    nodeName: 'vk',
    hostIP: '10.0.0.1',
    clock: systemClock,
    log,
  });
  inputs = {
    refs: refs(),
    placement: {
      vSwitchIds: [emu.config.region.vSwitches[0]!.id],
      securityGroupId: emu.config.region.securityGroups[0]!.id,
    },
  };
});

after(async () => {
  await emu.close();
});

function withEnvBytes(name: string, bytes: number): V1Pod {
  const env = Array.from({ length: Math.ceil(bytes / 1000) }, (_, i) => ({
    name: `K${i}`,
    value: 'v'.repeat(1000),
  }));
  return pod({ containers: [{ name: 'app', image: 'nginx', env }] }, { name, uid: `uid-${name}` });
}

describe('EciProvider and what ECI rejects', () => {
  it('creates a valid pod whose request fills 100 KiB of URL', async () => {
    const outcome = await provider.syncPod(
      withEnvBytes('big', 100 * 1024),
      inputs,
      AbortSignal.timeout(30_000),
    );
    assert.equal(outcome.kind, 'status');
  });

  it('refuses, with the cloud’s reason, a pod ECI rejects as a request (not an endless retry)', async () => {
    const outcome = await provider.syncPod(
      withEnvBytes('huge', 1200 * 1024),
      inputs,
      AbortSignal.timeout(30_000),
    );
    assert.equal(outcome.kind, 'refused', JSON.stringify(outcome).slice(0, 300));
    assert.equal(outcome.reason, 'ContainerGroupRejected');
    assert.match(outcome.message, /^spec: .*RequestHeaderFieldsTooLarge/);
  });
});
