import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningEmulator } from './server.ts';
import { callAction, type EciClient, sdkClient, sdkError, startTestEmulator } from './testing.ts';

/**
 * Hostile and malformed requests against a running emulator: each case here once broke it (a polluted
 * prototype, a 500 for an odd action name, ...). The answers must be the cloud's error shape, and a
 * bad request must never change how the next one is answered.
 */

let emu: RunningEmulator;
let eci: EciClient;

before(async () => {
  emu = await startTestEmulator();
  eci = sdkClient(emu);
});

after(async () => {
  await emu.close();
});

function createRequest(name: string): $Eci.CreateContainerGroupRequest {
  return new $Eci.CreateContainerGroupRequest({
    regionId: emu.regionId,
    containerGroupName: name,
    securityGroupId: emu.config.region.securityGroups[0]!.id,
    vSwitchId: emu.config.region.vSwitches[0]!.id,
    container: [
      new $Eci.CreateContainerGroupRequestContainer({ name: 'app', image: 'nginx', cpu: 1, memory: 2 }),
    ],
  });
}

describe('parameter names cannot reach object prototypes', () => {
  for (const key of ['__proto__.DryRun', 'constructor.prototype.DryRun', 'Tag.__proto__.DryRun']) {
    it(`${key}=true on one request leaves later creates alone`, async () => {
      await callAction(eci, 'DescribeContainerGroups', { RegionId: emu.regionId, [key]: 'true' }).catch(
        () => undefined,
      );
      assert.equal(({} as Record<string, unknown>).DryRun, undefined, 'Object.prototype is untouched');
      const r = await eci.createContainerGroup(createRequest(`proto-${key.length}`));
      assert.ok(r.body.containerGroupId?.startsWith('eci-'), 'the next create really creates');
    });
  }

  for (const action of ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf']) {
    it(`action ${action} is InvalidAction.NotFound, not a 500`, async () => {
      const e = await sdkError(() => callAction(eci, action, { RegionId: emu.regionId }));
      assert.equal(e.statusCode, 404);
      assert.equal(e.code, 'InvalidAction.NotFound');
    });
  }
});
