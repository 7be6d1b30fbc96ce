import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_REGION } from '../config.ts';
import type { GroupRecord, Tag } from './model.ts';
import { Store } from './store.ts';

function group(seq: number, tags: Tag[], ip = `192.168.0.${seq + 10}`): GroupRecord {
  return {
    id: `eci-${seq}`,
    seq,
    uuid: `u${seq}`,
    name: `g${seq}`,
    regionId: 'cn-hangzhou',
    zoneId: 'cn-hangzhou-h',
    vSwitchId: 'vsw-emulator-h',
    securityGroupId: 'sg-emulator',
    vpcId: 'vpc-emulator',
    ip,
    tags,
    spec: {
      containers: [],
      initContainers: [],
      volumes: [],
      restartPolicy: 'Always',
      cpu: 1,
      memory: 1,
      hostAliases: [],
      sysctls: [],
      ntpServers: [],
    },
    status: 'Running',
    createdAt: 0,
    statusSince: 0,
    changedAt: 0,
    containers: [],
    initContainers: [],
    events: [],
    eventSeq: 0,
  };
}

const ids = (gs: readonly GroupRecord[]) => gs.map((g) => g.id);

describe('Store indexes', () => {
  it('keeps creation order and the tag index through creates, re-tags and deletes', async () => {
    const s = new Store(DEFAULT_REGION);
    s.finishReplay();
    await s.putGroup(group(1, [{ key: 'cluster', value: 'a' }]));
    await s.putGroup(group(3, [{ key: 'cluster', value: 'b' }]));
    await s.putGroup(
      group(2, [
        { key: 'cluster', value: 'a' },
        { key: 'team', value: 'x' },
      ]),
    );
    assert.deepEqual(ids(s.groupsInOrder()), ['eci-1', 'eci-2', 'eci-3']);
    assert.deepEqual(ids(s.groupsWithTag('cluster', 'a')), ['eci-1', 'eci-2']);
    assert.deepEqual(ids(s.groupsWithTag('cluster', undefined)), ['eci-1', 'eci-2', 'eci-3']);
    assert.deepEqual(ids(s.groupsWithTag('team', 'x')), ['eci-2']);

    const g1 = s.groups.get('eci-1')!;
    g1.tags = [{ key: 'cluster', value: 'b' }];
    await s.putGroup(g1);
    assert.deepEqual(ids(s.groupsWithTag('cluster', 'a')), ['eci-2']);
    assert.deepEqual(ids(s.groupsWithTag('cluster', 'b')), ['eci-1', 'eci-3']);

    await s.deleteGroup('eci-2');
    assert.deepEqual(ids(s.groupsInOrder()), ['eci-1', 'eci-3']);
    assert.deepEqual(ids(s.groupsWithTag('cluster', 'a')), []);
    assert.deepEqual(ids(s.groupsWithTag('team', undefined)), []);
    assert.equal(
      s.pools.get('vsw-emulator-h')!.isUsed('192.168.0.12'),
      false,
      'the deleted group released its IP',
    );
  });

  it('rebuilds everything from journal records, whatever their order', () => {
    const s = new Store(DEFAULT_REGION);
    s.replay({ t: 'group', g: group(5, [{ key: 'k', value: 'v' }]) });
    s.replay({ t: 'group', g: group(4, [{ key: 'k', value: 'v' }]) });
    s.replay({ t: 'group', g: { ...group(5, [{ key: 'k', value: 'w' }]), status: 'Failed' } });
    s.replay({ t: 'group', g: group(6, []) });
    s.replay({ t: 'del', id: 'eci-6' });
    s.finishReplay();
    assert.deepEqual(ids(s.groupsInOrder()), ['eci-4', 'eci-5']);
    assert.equal(s.groups.get('eci-5')!.status, 'Failed');
    assert.deepEqual(ids(s.groupsWithTag('k', 'v')), ['eci-4']);
    assert.deepEqual(ids(s.groupsWithTag('k', 'w')), ['eci-5']);
    const pool = s.pools.get('vsw-emulator-h')!;
    assert.ok(pool.isUsed('192.168.0.14') && pool.isUsed('192.168.0.15') && !pool.isUsed('192.168.0.16'));
    assert.equal(s.nextSeq(), 7, 'creation numbers continue after the highest seen');
  });
});
