import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EmulatorAdminClient } from '../admin/client.ts';
import type { RunningEmulator } from '../server.ts';
import {
  callAction,
  type EciClient,
  eventually,
  sdkClient,
  sdkError,
  startTestEmulator,
} from '../../../test/support/emulator-sdk.ts';

/**
 * The emulator through the unmodified official SDK: authentication and the wire's error shapes,
 * CreateContainerGroup's resource checks, idempotency, stock and failover, lists and paging.
 */

const REGION = 'cn-hangzhou';
let emu: RunningEmulator;
let eci: EciClient;
let admin: EmulatorAdminClient;

before(async () => {
  emu = await startTestEmulator({
    region: {
      id: REGION,
      zones: [
        { id: 'cn-hangzhou-h', stock: null },
        { id: 'cn-hangzhou-i', stock: null },
        { id: 'cn-hangzhou-j', stock: null },
      ],
      vpcs: [
        { id: 'vpc-emulator', cidr: '192.168.0.0/16' },
        { id: 'vpc-emulator-other', cidr: '172.16.0.0/16' },
      ],
      vSwitches: [
        { id: 'vsw-emulator-h', zoneId: 'cn-hangzhou-h', vpcId: 'vpc-emulator', cidr: '192.168.0.0/18' },
        { id: 'vsw-emulator-i', zoneId: 'cn-hangzhou-i', vpcId: 'vpc-emulator', cidr: '192.168.64.0/18' },
        { id: 'vsw-emulator-j', zoneId: 'cn-hangzhou-j', vpcId: 'vpc-emulator', cidr: '192.168.128.0/18' },
        { id: 'vsw-tiny', zoneId: 'cn-hangzhou-j', vpcId: 'vpc-emulator', cidr: '192.168.200.0/29' },
      ],
      securityGroups: [
        { id: 'sg-emulator', vpcId: 'vpc-emulator' },
        { id: 'sg-emulator-other', vpcId: 'vpc-emulator-other' },
      ],
    },
  });
  eci = sdkClient(emu);
  admin = new EmulatorAdminClient(emu.adminUrl);
});

after(async () => {
  await emu.close();
});

let n = 0;
function createRequest(
  over: Partial<$Eci.CreateContainerGroupRequest> = {},
): $Eci.CreateContainerGroupRequest {
  return new $Eci.CreateContainerGroupRequest({
    regionId: REGION,
    containerGroupName: `g-${++n}`,
    securityGroupId: 'sg-emulator',
    vSwitchId: 'vsw-emulator-h',
    container: [
      new $Eci.CreateContainerGroupRequestContainer({ name: 'app', image: 'nginx:1.27', cpu: 1, memory: 2 }),
    ],
    ...over,
  });
}

async function create(over: Partial<$Eci.CreateContainerGroupRequest> = {}): Promise<string> {
  const r = await eci.createContainerGroup(createRequest(over));
  assert.ok(r.body.containerGroupId?.startsWith('eci-'));
  return r.body.containerGroupId!;
}

async function describeOne(id: string, withEvent = false) {
  const r = await eci.describeContainerGroups(
    new $Eci.DescribeContainerGroupsRequest({
      regionId: REGION,
      containerGroupIds: JSON.stringify([id]),
      withEvent,
    }),
  );
  return r.body.containerGroups?.[0];
}

function waitStatus(id: string, status: string) {
  return admin.waitForContainerGroup(id, (g) => g.status === status);
}

describe('authentication and the error shape', () => {
  it('accepts ACS3-HMAC-SHA256 and RPC v1 HMAC-SHA1 signatures', async () => {
    const a = await eci.describeContainerGroups(
      new $Eci.DescribeContainerGroupsRequest({ regionId: REGION }),
    );
    assert.match(a.body.requestId ?? '', /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    const v1 = sdkClient(emu, { signatureAlgorithm: 'v2' });
    const b = await v1.describeContainerGroups(new $Eci.DescribeContainerGroupsRequest({ regionId: REGION }));
    assert.ok(b.body.requestId);
    const id = (await v1.createContainerGroup(createRequest())).body.containerGroupId;
    assert.ok(id?.startsWith('eci-'));
  });

  it('an unknown AccessKey: InvalidAccessKeyId.NotFound, 404, with the cloud error body', async () => {
    const e = await sdkError(() =>
      sdkClient(emu, { accessKeyId: 'LTAI-nobody' }).describeContainerGroups(
        new $Eci.DescribeContainerGroupsRequest({ regionId: REGION }),
      ),
    );
    assert.equal(e.code, 'InvalidAccessKeyId.NotFound');
    assert.equal(e.statusCode, 404);
    assert.equal(e.data.Message, 'Specified access key is not found.');
    assert.ok(e.requestId);
    assert.equal(e.data.HostId, 'eci.cn-hangzhou.aliyuncs.com');
    assert.match(String(e.data.Recommend), /InvalidAccessKeyId\.NotFound/);
    assert.deepEqual(Object.keys(e.data).sort(), [
      'Code',
      'HostId',
      'Message',
      'Recommend',
      'RequestId',
      'statusCode',
    ]);
  });

  it('a wrong secret: SignatureDoesNotMatch, 400 (both schemes)', async () => {
    for (const signatureAlgorithm of [undefined, 'v2']) {
      const e = await sdkError(() =>
        sdkClient(emu, { accessKeySecret: 'wrong', signatureAlgorithm }).describeContainerGroups(
          new $Eci.DescribeContainerGroupsRequest({ regionId: REGION }),
        ),
      );
      assert.equal(e.code, 'SignatureDoesNotMatch');
      assert.equal(e.statusCode, 400);
      assert.match(e.message, /server string to sign is:/);
    }
  });

  it('an old timestamp: InvalidTimeStamp.Expired, 400 (both schemes)', async () => {
    const acs3 = sdkClient(emu, { globalHeaders: { 'x-acs-date': '2020-01-01T00:00:00Z' } });
    const v1 = sdkClient(emu, {
      signatureAlgorithm: 'v2',
      globalQueries: { Timestamp: '2020-01-01T00:00:00Z' },
    });
    for (const c of [acs3, v1]) {
      const e = await sdkError(() =>
        c.describeContainerGroups(new $Eci.DescribeContainerGroupsRequest({ regionId: REGION })),
      );
      assert.equal(e.code, 'InvalidTimeStamp.Expired');
      assert.equal(e.statusCode, 400);
    }
  });

  it('a replayed nonce: SignatureNonceUsed, 400', async () => {
    const nonce = `nonce-${Date.now()}-${Math.random()}`;
    const c = sdkClient(emu, { globalHeaders: { 'x-acs-signature-nonce': nonce } });
    await c.describeContainerGroups(new $Eci.DescribeContainerGroupsRequest({ regionId: REGION }));
    const e = await sdkError(() =>
      c.describeContainerGroups(new $Eci.DescribeContainerGroupsRequest({ regionId: REGION })),
    );
    assert.equal(e.code, 'SignatureNonceUsed');
    assert.equal(e.statusCode, 400);
    const v1 = sdkClient(emu, { signatureAlgorithm: 'v2', globalQueries: { SignatureNonce: `${nonce}-v1` } });
    await v1.describeContainerGroups(new $Eci.DescribeContainerGroupsRequest({ regionId: REGION }));
    assert.equal(
      (
        await sdkError(() =>
          v1.describeContainerGroups(new $Eci.DescribeContainerGroupsRequest({ regionId: REGION })),
        )
      ).code,
      'SignatureNonceUsed',
    );
  });

  it('an unknown action: InvalidAction.NotFound, 404; a wrong version: InvalidVersion', async () => {
    const e = await sdkError(() => callAction(eci, 'DescribeEverything', { RegionId: REGION }));
    assert.equal(e.code, 'InvalidAction.NotFound');
    assert.equal(e.statusCode, 404);
    assert.ok(e.requestId);
    const v = await sdkError(() =>
      callAction(eci, 'DescribeContainerGroups', { RegionId: REGION }, { version: '2099-01-01' }),
    );
    assert.equal(v.code, 'InvalidVersion');
  });

  it('missing and invalid parameters: MissingParameter / InvalidParameter, 400', async () => {
    const noRegion = await sdkError(() =>
      eci.describeContainerGroups(new $Eci.DescribeContainerGroupsRequest({})),
    );
    assert.equal(noRegion.code, 'MissingParameter');
    assert.match(noRegion.message, /"RegionId"/);
    const noName = await sdkError(() =>
      eci.createContainerGroup(createRequest({ containerGroupName: undefined })),
    );
    assert.equal(noName.code, 'MissingParameter');
    assert.equal(noName.statusCode, 400);
    const badName = await sdkError(() =>
      eci.createContainerGroup(createRequest({ containerGroupName: 'Bad_Name' })),
    );
    assert.equal(badName.code, 'InvalidParameter');
    const noImage = await sdkError(() =>
      eci.createContainerGroup(
        createRequest({ container: [new $Eci.CreateContainerGroupRequestContainer({ name: 'x' })] }),
      ),
    );
    assert.equal(noImage.code, 'MissingParameter');
    const badPolicy = await sdkError(() =>
      eci.createContainerGroup(createRequest({ restartPolicy: 'Sometimes' })),
    );
    assert.equal(badPolicy.code, 'InvalidParameter');
    const region = await sdkError(() =>
      eci.describeContainerGroups(new $Eci.DescribeContainerGroupsRequest({ regionId: 'mars-1' })),
    );
    assert.equal(region.code, 'InvalidRegionId.NotFound');
  });
});

describe('CreateContainerGroup', () => {
  it('creates a group with an IP from the vSwitch, tags, and the requested resources', async () => {
    const id = await create({
      vSwitchId: 'vsw-emulator-i',
      tag: [new $Eci.CreateContainerGroupRequestTag({ key: 'app', value: 'web' })],
      restartPolicy: 'OnFailure',
    });
    const g = await describeOne(id);
    assert.ok(g);
    assert.equal(g.containerGroupId, id);
    assert.equal(g.regionId, REGION);
    assert.equal(g.zoneId, 'cn-hangzhou-i');
    assert.equal(g.vSwitchId, 'vsw-emulator-i');
    assert.equal(g.vpcId, 'vpc-emulator');
    assert.equal(g.securityGroupId, 'sg-emulator');
    assert.equal(g.restartPolicy, 'OnFailure');
    assert.match(g.intranetIp ?? '', /^192\.168\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+$/);
    assert.deepEqual(
      g.tags?.map((t) => [t.key, t.value]),
      [['app', 'web']],
    );
    assert.equal(g.cpu, 1);
    assert.equal(g.memory, 2);
    assert.match(g.creationTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('follows the lifecycle to Running with running, ready containers and events', async () => {
    const id = await create();
    await waitStatus(id, 'Running');
    const g = await describeOne(id, true);
    assert.equal(g?.status, 'Running');
    const c = g?.containers?.[0];
    assert.equal(c?.currentState?.state, 'Running');
    assert.equal(c?.ready, true);
    assert.equal(c?.restartCount, 0);
    assert.ok(c?.currentState?.startTime);
    const reasons = g?.events?.map((e) => e.reason) ?? [];
    for (const r of ['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started'])
      assert.ok(reasons.includes(r), r);
    const noEvents = await describeOne(id, false);
    assert.equal(noEvents?.events, undefined);
  });

  it('unknown or mismatched resources fail like the cloud', async () => {
    const vsw = await sdkError(() => eci.createContainerGroup(createRequest({ vSwitchId: 'vsw-nope' })));
    assert.deepEqual([vsw.code, vsw.statusCode], ['InvalidVSwitchId.NotFound', 404]);
    const sg = await sdkError(() => eci.createContainerGroup(createRequest({ securityGroupId: 'sg-nope' })));
    assert.deepEqual([sg.code, sg.statusCode], ['InvalidSecurityGroupId.NotFound', 404]);
    const vpc = await sdkError(() =>
      eci.createContainerGroup(createRequest({ securityGroupId: 'sg-emulator-other' })),
    );
    assert.deepEqual([vpc.code, vpc.statusCode], ['InvalidParameter.Mismatch', 400]);
    const zone = await sdkError(() => eci.createContainerGroup(createRequest({ zoneId: 'cn-hangzhou-j' })));
    assert.equal(zone.code, 'InvalidParameter.Mismatch');
    const noZone = await sdkError(() => eci.createContainerGroup(createRequest({ zoneId: 'cn-hangzhou-z' })));
    assert.equal(noZone.code, 'InvalidZoneId.NotFound');
    const dry = await sdkError(() => eci.createContainerGroup(createRequest({ dryRun: true })));
    assert.equal(dry.code, 'DryRunOperation');
  });

  it('a repeated ClientToken returns the same group; other parameters with it are refused', async () => {
    const token = `token-${Date.now()}`;
    const req = createRequest({ clientToken: token });
    const [a, b] = await Promise.all([eci.createContainerGroup(req), eci.createContainerGroup(req)]);
    assert.equal(a.body.containerGroupId, b.body.containerGroupId);
    const c = await eci.createContainerGroup(req);
    assert.equal(c.body.containerGroupId, a.body.containerGroupId);
    const other = await sdkError(() =>
      eci.createContainerGroup(createRequest({ clientToken: token, containerGroupName: 'other-name' })),
    );
    assert.deepEqual([other.code, other.statusCode], ['IdempotentParameterMismatch', 400]);
  });

  it('runs out of stock per zone and fails over to the next vSwitch', async () => {
    await admin.setZoneStock('cn-hangzhou-h', 0);
    try {
      const e = await sdkError(() =>
        eci.createContainerGroup(createRequest({ vSwitchId: 'vsw-emulator-h' })),
      );
      assert.deepEqual([e.code, e.statusCode], ['OperationDenied.NoStock', 403]);
      const id = await create({
        vSwitchId: 'vsw-emulator-h,vsw-emulator-i',
        scheduleStrategy: 'VSwitchOrdered',
      });
      assert.equal((await describeOne(id))?.zoneId, 'cn-hangzhou-i');
    } finally {
      await admin.setZoneStock('cn-hangzhou-h', null);
    }
    const id = await create({
      vSwitchId: 'vsw-emulator-h,vsw-emulator-i',
      scheduleStrategy: 'VSwitchOrdered',
    });
    assert.equal((await describeOne(id))?.zoneId, 'cn-hangzhou-h');
  });

  it('finite stock frees up when a group is deleted', async () => {
    const live = (await admin.zones()).find((z) => z.id === 'cn-hangzhou-j')!.live;
    await admin.setZoneStock('cn-hangzhou-j', live + 1);
    try {
      const id = await create({ vSwitchId: 'vsw-emulator-j' });
      assert.equal(
        (await sdkError(() => eci.createContainerGroup(createRequest({ vSwitchId: 'vsw-emulator-j' })))).code,
        'OperationDenied.NoStock',
      );
      await eci.deleteContainerGroup(
        new $Eci.DeleteContainerGroupRequest({ regionId: REGION, containerGroupId: id }),
      );
      await eventually(
        async () => ((await describeOne(id)) === undefined ? true : undefined),
        10_000,
        'deletion',
      );
      await create({ vSwitchId: 'vsw-emulator-j' });
    } finally {
      await admin.setZoneStock('cn-hangzhou-j', null);
    }
  });

  it('a full vSwitch: InvalidVSwitchId.IpNotEnough; IPs are never shared and come back on delete', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await create({ vSwitchId: 'vsw-tiny' }));
    const ips = await Promise.all(ids.map(async (id) => (await describeOne(id))?.intranetIp));
    assert.equal(new Set(ips).size, 4);
    const e = await sdkError(() => eci.createContainerGroup(createRequest({ vSwitchId: 'vsw-tiny' })));
    assert.equal(e.code, 'InvalidVSwitchId.IpNotEnough');
    await eci.deleteContainerGroup(
      new $Eci.DeleteContainerGroupRequest({ regionId: REGION, containerGroupId: ids[0] }),
    );
    await eventually(
      async () => ((await describeOne(ids[0]!)) === undefined ? true : undefined),
      10_000,
      'deletion',
    );
    const again = await create({ vSwitchId: 'vsw-tiny' });
    assert.equal((await describeOne(again))?.intranetIp, ips[0]);
  });
});

describe('DeleteContainerGroup', () => {
  it('goes through Terminating and is gone; unknown IDs are InvalidContainerGroupId.NotFound', async () => {
    const id = await create();
    await waitStatus(id, 'Running');
    await eci.deleteContainerGroup(
      new $Eci.DeleteContainerGroupRequest({ regionId: REGION, containerGroupId: id }),
    );
    const during = await describeOne(id);
    assert.ok(during === undefined || during.status === 'Terminating');
    await eventually(
      async () => ((await describeOne(id)) === undefined ? true : undefined),
      10_000,
      'deletion',
    );
    const e = await sdkError(() =>
      eci.deleteContainerGroup(
        new $Eci.DeleteContainerGroupRequest({ regionId: REGION, containerGroupId: id }),
      ),
    );
    assert.deepEqual([e.code, e.statusCode], ['InvalidContainerGroupId.NotFound', 404]);
  });
});

describe('DescribeContainerGroups lists', () => {
  it('pages with Limit and NextToken, counting every match', async () => {
    const batch = `batch-${Date.now()}`;
    const ids = await Promise.all(
      Array.from({ length: 25 }, () =>
        create({ tag: [new $Eci.CreateContainerGroupRequestTag({ key: 'batch', value: batch })] }),
      ),
    );
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await eci.describeContainerGroups(
        new $Eci.DescribeContainerGroupsRequest({
          regionId: REGION,
          limit: 10,
          nextToken: token,
          tag: [new $Eci.DescribeContainerGroupsRequestTag({ key: 'batch', value: batch })],
        }),
      );
      assert.equal(r.body.totalCount, 25);
      assert.ok((r.body.containerGroups?.length ?? 0) <= 10);
      seen.push(...(r.body.containerGroups ?? []).map((g) => g.containerGroupId!));
      token = r.body.nextToken || undefined;
      pages++;
    } while (token !== undefined);
    assert.equal(pages, 3);
    assert.deepEqual([...seen].sort(), [...ids].sort());
  });

  it('filters by ids, name, status, tag, vSwitch and zone', async () => {
    const tag = `t-${Date.now()}`;
    const a = await create({
      vSwitchId: 'vsw-emulator-i',
      tag: [new $Eci.CreateContainerGroupRequestTag({ key: tag, value: 'a' })],
    });
    const b = await create({
      vSwitchId: 'vsw-emulator-j',
      containerGroupName: `${tag}-named`,
      tag: [new $Eci.CreateContainerGroupRequestTag({ key: tag, value: 'b' })],
    });
    await waitStatus(a, 'Running');
    const list = async (over: Partial<$Eci.DescribeContainerGroupsRequest>) =>
      (
        await eci.describeContainerGroups(
          new $Eci.DescribeContainerGroupsRequest({
            regionId: REGION,
            tag: [new $Eci.DescribeContainerGroupsRequestTag({ key: tag })],
            ...over,
          }),
        )
      ).body.containerGroups?.map((g) => g.containerGroupId) ?? [];
    assert.deepEqual((await list({})).sort(), [a, b].sort());
    assert.deepEqual(await list({ containerGroupIds: JSON.stringify([b, 'eci-unknown']) }), [b]);
    assert.deepEqual(await list({ containerGroupName: `${tag}-named` }), [b]);
    assert.deepEqual(await list({ vSwitchId: 'vsw-emulator-i' }), [a]);
    assert.deepEqual(await list({ zoneId: 'cn-hangzhou-j' }), [b]);
    assert.deepEqual(
      await list({ tag: [new $Eci.DescribeContainerGroupsRequestTag({ key: tag, value: 'a' })] }),
      [a],
    );
    await waitStatus(b, 'Running');
    await admin.setContainerGroupStatus(b, 'Expired');
    assert.deepEqual(await list({ status: 'Expired' }), [b]);
  });

  it('refuses Limit over 20, more than 20 ids and a foreign NextToken', async () => {
    const limit = await sdkError(() =>
      eci.describeContainerGroups(new $Eci.DescribeContainerGroupsRequest({ regionId: REGION, limit: 21 })),
    );
    assert.deepEqual([limit.code, limit.statusCode], ['InvalidParameter', 400]);
    const ids = JSON.stringify(Array.from({ length: 21 }, (_, i) => `eci-${i}`));
    const many = await sdkError(() =>
      eci.describeContainerGroups(
        new $Eci.DescribeContainerGroupsRequest({ regionId: REGION, containerGroupIds: ids }),
      ),
    );
    assert.equal(many.code, 'InvalidParameter.ValueExceeded');
    const token = await sdkError(() =>
      eci.describeContainerGroups(
        new $Eci.DescribeContainerGroupsRequest({ regionId: REGION, nextToken: 'garbage' }),
      ),
    );
    assert.equal(token.code, 'InvalidParameter');
  });
});

describe('DescribeContainerGroupStatus and DescribeContainerGroupEvents', () => {
  it('returns pod-style status, and with SinceSecond only recently changed groups', async () => {
    const tag = `since-${Date.now()}`;
    const tags = [new $Eci.CreateContainerGroupRequestTag({ key: tag, value: '1' })];
    const old = await create({ tag: tags });
    await waitStatus(old, 'Running');
    await new Promise((r) => setTimeout(r, 2500));
    const fresh = await create({ tag: tags });
    await waitStatus(fresh, 'Running');
    const req = (over: Partial<$Eci.DescribeContainerGroupStatusRequest>) =>
      new $Eci.DescribeContainerGroupStatusRequest({
        regionId: REGION,
        tag: [new $Eci.DescribeContainerGroupStatusRequestTag({ key: tag, value: '1' })],
        ...over,
      });
    const all = await eci.describeContainerGroupStatus(req({}));
    assert.equal(all.body.totalCount, 2);
    const recent = await eci.describeContainerGroupStatus(req({ sinceSecond: 2 }));
    assert.deepEqual(
      recent.body.data?.map((d) => d.containerGroupId),
      [fresh],
    );
    const d = recent.body.data![0]!;
    assert.equal(d.status, 'Running');
    assert.equal(d.podStatus?.phase, 'Running');
    assert.equal(d.podStatus?.podIp, (await describeOne(fresh))?.intranetIp);
    assert.deepEqual(
      d.podStatus?.conditions?.map((c) => [c.type, c.status]),
      [
        ['PodScheduled', 'True'],
        ['Initialized', 'True'],
        ['ContainersReady', 'True'],
        ['Ready', 'True'],
      ],
    );
    const cs = d.podStatus?.containerStatuses?.[0];
    assert.equal(cs?.name, 'app');
    assert.equal(cs?.ready, true);
    assert.ok(cs?.state?.running?.startedAtstartedAt);
    assert.match(cs?.imageID ?? '', /^nginx@sha256:[0-9a-f]{64}$/);
    const paged = await eci.describeContainerGroupStatus(req({ limit: 1 }));
    assert.equal(paged.body.data?.length, 1);
    assert.ok(paged.body.nextToken);
    const big = await sdkError(() => eci.describeContainerGroupStatus(req({ limit: 201 })));
    assert.equal(big.code, 'InvalidParameter');
  });

  it('returns events per group, filtered by SinceSecond', async () => {
    const id = await create();
    await waitStatus(id, 'Running');
    const r = await eci.describeContainerGroupEvents(
      new $Eci.DescribeContainerGroupEventsRequest({
        regionId: REGION,
        containerGroupIds: JSON.stringify([id]),
        sinceSecond: 600,
      }),
    );
    assert.equal(r.body.data?.length, 1);
    const item = r.body.data![0]!;
    assert.equal(item.containerGroupId, id);
    const started = item.events?.find((e) => e.reason === 'Started');
    assert.ok(started);
    assert.equal(started.type, 'Normal');
    assert.equal(started.involvedObject?.kind, 'Pod');
    assert.equal(started.count, 1);
    assert.ok(started.firstTimestamp);
  });
});
