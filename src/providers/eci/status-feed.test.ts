import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { EmulatorAdminClient } from '../../emulator/admin/client.ts';
import type { RunningEmulator } from '../../emulator/server.ts';
import { eventually, startTestEmulator } from '../../../test/support/emulator-sdk.ts';
import { systemClock } from '../../util/clock.ts';
import { FakeClock } from '../../../test/support/fake-clock.ts';
import { EciClient } from './eci-client.ts';
import { GroupIndex } from './group-index.ts';
import { identityTags } from './mapping/index.ts';
import { StatusFeed } from './status-feed.ts';

/** The status feed against the emulator, with the cloud failing in the ways it does. */

let emu: RunningEmulator;
let admin: EmulatorAdminClient;
const log = pino({ level: 'silent' });
const scope = { clusterId: 'c1', nodeName: 'vk' };

before(async () => {
  emu = await startTestEmulator();
  admin = new EmulatorAdminClient(emu.adminUrl);
});

after(async () => {
  await emu.close();
});

describe('StatusFeed', () => {
  it('a change whose describe failed is described again at the next poll, not at the next resync', async () => {
    // One attempt per call: the throttled describe fails the poll, as after retries ran out.
    const eci = new EciClient({
      credentials: { accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret },
      regionId: emu.regionId,
      endpoint: emu.endpoint,
      protocol: emu.protocol,
      maxAttempts: 1,
      clock: systemClock,
      log,
    });
    const index = new GroupIndex(scope);
    const changed: string[] = [];
    const feed = new StatusFeed({
      eci,
      index,
      scopeTags: { 'eci-virtual-node/cluster-id': 'c1', 'eci-virtual-node/node-name': 'vk' },
      clock: systemClock,
      log,
      intervalMs: 100,
      resyncMs: 3_600_000,
      onChange: (e) => changed.push(e.group.status ?? ''),
    });
    // Held in Pending until the feed has seen it once, so the change to Running comes through the feed.
    await admin.setLifecycle({ stages: [{ from: 'Scheduling', to: 'Pending', delayMs: 0 }] });
    const id = await eci.createContainerGroup(
      new $Eci.CreateContainerGroupRequest({
        containerGroupName: 'feed',
        securityGroupId: emu.config.region.securityGroups[0]!.id,
        vSwitchId: emu.config.region.vSwitches[0]!.id,
        tag: identityTags({ ...scope, namespace: 'ns', podName: 'p', podUid: 'u1' }),
        container: [new $Eci.CreateContainerGroupRequestContainer({ name: 'a', image: 'nginx' })],
      }),
    );
    await eventually(async () =>
      (await admin.getContainerGroup(id)).status === 'Pending' ? true : undefined,
    );
    await feed.resync();
    assert.equal(index.get(id)?.group.status, 'Pending');

    await admin.addFault({ kind: 'throttle', actions: ['DescribeContainerGroups'], count: 1 });
    await admin.setContainerGroupStatus(id, 'Running');
    const stop = new AbortController();
    const running = feed.run(stop.signal);
    try {
      await eventually(() => (index.get(id)?.group.status === 'Running' ? true : undefined), 3000, 'Running');
    } finally {
      stop.abort();
      await running;
    }
    assert.ok(changed.includes('Running'));
  });

  it('a full resync that keeps failing is retried with a growing jittered delay, not at every poll', async () => {
    const clock = new FakeClock();
    let lists = 0;
    let polls = 0;
    const eci = {
      describeContainerGroups: () => {
        lists++;
        return Promise.reject(new Error('ServiceUnavailable'));
      },
      describeContainerGroupStatus: () => {
        polls++;
        return Promise.resolve([]);
      },
    } as unknown as EciClient;
    const feed = new StatusFeed({
      eci,
      index: new GroupIndex(scope),
      scopeTags: {},
      clock,
      log,
      intervalMs: 2000,
      resyncMs: 60_000,
      random: () => 0.999,
      onChange: () => undefined,
    });
    const stop = new AbortController();
    const running = feed.run(stop.signal);
    for (let t = 0; t < 300; t++) await clock.advance(1000);
    stop.abort();
    await running;
    // Due at 60 s, then retried after 4, 8, 16, 32, 60, 60 … s (the draw pinned near the top of each
    // window): about eight lists in five minutes, where every poll would be 120.
    assert.ok(lists <= 10, `${lists} full lists in 300 s`);
    assert.ok(polls > 100, `the cheap change feed kept polling meanwhile (${polls})`);
  });
});
