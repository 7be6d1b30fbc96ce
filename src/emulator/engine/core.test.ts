import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseEmulatorConfig } from '../config.ts';
import { EmulatorCore } from './core.ts';
import type { GroupSpec } from './model.ts';

const spec: GroupSpec = {
  containers: [],
  initContainers: [],
  volumes: [],
  restartPolicy: 'Always',
  cpu: 1,
  memory: 1,
  hostAliases: [],
  sysctls: [],
  ntpServers: [],
};

describe('EmulatorCore as the only writer', () => {
  it('journals a change once, even when the lifecycle moves the group on at once', async () => {
    // Stages without delay: the lifecycle step that follows a change has something to do at once.
    const config = parseEmulatorConfig({
      lifecycle: {
        stages: [
          { from: 'Scheduling', to: 'Pending', delayMs: 0 },
          { from: 'Restarting', to: 'Pending', delayMs: 0 },
        ],
      },
    });
    const core = await EmulatorCore.start(config, pino({ level: 'silent' }));
    try {
      const records = () => core.journalStats()!.records;
      let before = records();
      const g = await core.createGroup({
        name: 'g',
        spec,
        tags: [],
        requestHash: 'h',
        vSwitchIds: ['vsw-emulator-h'],
        strategy: 'VSwitchOrdered',
        dryRun: false,
      });
      assert.equal(g.status, 'Pending', 'the lifecycle moved the new group on');
      assert.equal(records() - before, 1, 'one journal record for the create');

      before = records();
      await core.driveStatus(g.id, 'Running');
      await core.restartGroup(g.id);
      assert.equal(core.getGroup(g.id).status, 'Pending', 'Restarting moved on to Pending at once');
      assert.equal(records() - before, 2, 'one journal record for each of the two changes');
    } finally {
      await core.stop();
    }
  });

  it('hands out no store, fault injector, quota limiter or zone stock to write to', async () => {
    const core = await EmulatorCore.start(parseEmulatorConfig({}), pino({ level: 'silent' }));
    try {
      for (const field of ['store', 'faults', 'quotas', 'zoneStock', 'imageCaches', 'scheduler'])
        assert.equal(field in core, false, `${field} is not reachable from outside the core`);
      assert.equal(core.setZoneStock('cn-hangzhou-h', 0), true);
      assert.equal(core.setZoneStock('no-such-zone', 0), false);
      assert.equal(core.zones().find((z) => z.id === 'cn-hangzhou-h')?.stock, 0);
    } finally {
      await core.stop();
    }
  });
});
