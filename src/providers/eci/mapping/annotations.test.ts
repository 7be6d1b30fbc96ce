import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ECI_ANNOTATIONS as A, parseEciAnnotations, type EciOptions } from './annotations.ts';
import { RefusalReasons } from './types.ts';

test('annotations map to CreateContainerGroup options', () => {
  const cases: [Record<string, string>, EciOptions][] = [
    [{}, {}],
    [{ [A.VSWITCH]: 'vsw-1, vsw-2' }, { vSwitchIds: ['vsw-1', 'vsw-2'] }],
    [{ [A.SECURITY_GROUP]: 'sg-9' }, { securityGroupId: 'sg-9' }],
    [{ [A.SCHEDULE_STRATEGY]: 'vSwitchRandom' }, { scheduleStrategy: 'VSwitchRandom' }],
    [{ [A.USE_SPECS]: '2-4Gi' }, { groupCpu: 2, groupMemory: 4 }],
    [{ [A.USE_SPECS]: '0.5-1Gi' }, { groupCpu: 0.5, groupMemory: 1 }],
    [{ [A.USE_SPECS]: '2-4Gi,4-8Gi,ecs.c6.xlarge' }, { instanceType: '2-4Gi,4-8Gi,ecs.c6.xlarge' }],
    [{ [A.USE_SPECS]: 'ecs.gn6i-c4g1.xlarge' }, { instanceType: 'ecs.gn6i-c4g1.xlarge' }],
    [{ [A.INSTANCE_TYPE]: 'ecs.c6.large' }, { instanceType: 'ecs.c6.large' }],
    [
      { [A.USE_SPECS]: '1-2Gi', [A.INSTANCE_TYPE]: 'ecs.c6.large' },
      { groupCpu: 1, groupMemory: 2 },
    ],
    [{ [A.SPOT_STRATEGY]: 'SpotAsPriceGo' }, { spotStrategy: 'SpotAsPriceGo' }],
    [
      { [A.SPOT_STRATEGY]: 'SpotWithPriceLimit', [A.SPOT_PRICE_LIMIT]: '0.25', [A.SPOT_DURATION]: '0' },
      { spotStrategy: 'SpotWithPriceLimit', spotPriceLimit: 0.25, spotDuration: 0 },
    ],
    [{ [A.IMAGE_CACHE]: 'true' }, { autoMatchImageCache: true }],
    [{ [A.AUTO_IMC]: 'TRUE' }, { autoMatchImageCache: true }],
    [{ [A.AUTO_IMC]: 'false' }, { autoMatchImageCache: false }],
    [{ [A.IMC_ID]: 'imc-1' }, { imageSnapshotId: 'imc-1' }],
    [{ [A.IMAGE_SNAPSHOT_ID]: 'imc-2' }, { imageSnapshotId: 'imc-2' }],
    [
      { [A.WITH_EIP]: 'true', [A.EIP_BANDWIDTH]: '10', [A.EIP_ISP]: 'BGP' },
      { autoCreateEip: true, eipBandwidth: 10, eipISP: 'BGP' },
    ],
    [{ [A.EIP_INSTANCE_ID]: 'eip-1' }, { eipInstanceId: 'eip-1' }],
    [{ [A.RAM_ROLE_NAME]: 'Role' }, { ramRoleName: 'Role' }],
    [{ [A.EXTRA_EPHEMERAL_STORAGE]: '50Gi' }, { ephemeralStorage: 50 }],
    [{ [A.EXTRA_EPHEMERAL_STORAGE]: '20' }, { ephemeralStorage: 20 }],
    [
      { [A.CPU_OPTION_CORE]: '2', [A.CPU_OPTION_HT]: '1' },
      { cpuOptionsCore: 2, cpuOptionsThreadsPerCore: 1 },
    ],
    [{ [A.ENABLE_IPV6]: 'true' }, { ipv6AddressCount: 1 }],
    [{ [A.NTP_SERVER]: '100.100.3.1,100.100.3.2' }, { ntpServer: ['100.100.3.1', '100.100.3.2'] }],
  ];
  for (const [annotations, want] of cases) {
    const r = parseEciAnnotations(annotations);
    assert.ok(r.ok, JSON.stringify(annotations));
    assert.deepEqual(r.options, want, JSON.stringify(annotations));
  }
});

test('bad annotation values are refused with the annotation as the field', () => {
  const cases: [string, string][] = [
    [A.USE_SPECS, '2c4g'],
    [A.USE_SPECS, ','],
    [A.INSTANCE_TYPE, 'c6.large'],
    [A.SPOT_STRATEGY, 'Cheap'],
    [A.SPOT_PRICE_LIMIT, 'free'],
    [A.WITH_EIP, 'yes'],
    [A.AUTO_IMC, '1'],
    [A.SCHEDULE_STRATEGY, 'Nearest'],
    [A.EXTRA_EPHEMERAL_STORAGE, 'lots'],
    [A.EIP_BANDWIDTH, '1.5'],
    [A.VSWITCH, Array.from({ length: 11 }, (_, i) => `vsw-${i}`).join(',')],
    [A.ENABLE_IPV6, 'on'],
  ];
  for (const [key, value] of cases) {
    const r = parseEciAnnotations({ [key]: value });
    assert.equal(r.ok, false, `${key}=${value}`);
    if (r.ok) continue;
    assert.equal(r.refusal.reason, RefusalReasons.ANNOTATION);
    assert.equal(r.refusal.field, `metadata.annotations['${key}']`);
    assert.match(r.refusal.message, new RegExp(key.replace(/[.*/]/g, '\\$&')));
  }
});

test('SpotWithPriceLimit needs a price limit', () => {
  const r = parseEciAnnotations({ [A.SPOT_STRATEGY]: 'SpotWithPriceLimit' });
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.refusal.message, /spot-price-limit/);
});
