import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { EmulatorAdminClient } from '../../emulator/admin/client.ts';
import type { RunningEmulator } from '../../emulator/server.ts';
import { startTestEmulator } from '../../../test/support/emulator-sdk.ts';
import type { Clock } from '../../util/clock.ts';
import { EciClient } from './eci-client.ts';
import { EciApiError } from './eci-errors.ts';

/** The ECI client against the emulator: what it retries, how long it waits, and what it gives up on. */

let emu: RunningEmulator;
let admin: EmulatorAdminClient;

before(async () => {
  emu = await startTestEmulator();
  admin = new EmulatorAdminClient(emu.adminUrl);
});

after(async () => {
  await emu.close();
});

/** Real time for the calls, but every backoff recorded and skipped. */
function recordingClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, now: () => Date.now(), sleep: async (ms) => void sleeps.push(ms) };
}

function client(clock: Clock, random: () => number, maxAttempts = 4): EciClient {
  return new EciClient({
    credentials: { accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret },
    regionId: emu.regionId,
    endpoint: emu.endpoint,
    protocol: emu.protocol,
    maxAttempts,
    clock,
    random,
    log: pino({ level: 'silent' }),
  });
}

describe('EciClient retries', () => {
  it('waits a full-jitter delay before each retry of a server error', async () => {
    await admin.addFault({
      kind: 'error',
      status: 500,
      code: 'InternalError',
      actions: ['DescribeContainerGroups'],
      count: 3,
    });
    const clock = recordingClock();
    const draws = [0.5, 0.25, 0];
    const eci = client(clock, () => draws.shift() ?? 0);
    await eci.describeContainerGroups({});
    // Ceilings 500, 1000, 2000 ms; the draws pick a point inside each window.
    assert.deepEqual(clock.sleeps, [250, 250, 0]);
  });

  it('spreads the retries of clients that failed together', async () => {
    await admin.addFault({ kind: 'throttle', actions: ['DescribeContainerGroups'], count: 8 });
    const clock = recordingClock();
    await Promise.all(
      Array.from({ length: 8 }, () => client(clock, Math.random, 9).describeContainerGroups({})),
    );
    assert.ok(clock.sleeps.length >= 8);
    assert.ok(new Set(clock.sleeps).size > 4, `delays ${clock.sleeps.join(', ')} are spread out`);
  });

  it('does not retry an answer that cannot change (a 4xx about the request)', async () => {
    const clock = recordingClock();
    const eci = client(clock, () => 0.5);
    const err = await eci
      .createContainerGroup(
        new $Eci.CreateContainerGroupRequest({
          securityGroupId: 'sg-does-not-exist',
          vSwitchId: emu.config.region.vSwitches[0]!.id,
          container: [new $Eci.CreateContainerGroupRequestContainer({ name: 'a', image: 'nginx' })],
        }),
      )
      .catch((e: unknown) => e);
    assert.ok(err instanceof EciApiError);
    assert.equal(err.retryable, false);
    assert.deepEqual(clock.sleeps, []);
  });
});
