import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ANNOTATIONS,
  ECI_ANNOTATIONS as A,
  parseEciAnnotations,
  PRIVILEGED_ANNOTATIONS,
  renderAnnotationTable,
  type EciOptions,
} from './annotations.ts';
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
    [{ [A.RESOURCE_GROUP]: 'rg-aek2z3elfs4' }, { resourceGroupId: 'rg-aek2z3elfs4' }],
    [{ [A.FAIL_STRATEGY]: 'fail-fast' }, { failStrategy: 'fail-fast' }],
    [{ [A.POD_FAIL_ON_CREATE_ERR]: 'true' }, { failStrategy: 'fail-fast' }],
    [{ [A.MAX_PENDING_MINUTE]: '30' }, { maxPendingMinutes: 30 }],
    [
      {
        [A.CUSTOM_HOSTS]: '[{"host":"example.com","ip":"100.100.1.1"},{"host":"doc.com","ip":"100.100.1.2"}]',
      },
      {
        hostAliases: [
          { ip: '100.100.1.1', hostnames: ['example.com'] },
          { ip: '100.100.1.2', hostnames: ['doc.com'] },
        ],
      },
    ],
    [
      { [A.CUSTOM_TAGS]: 'env:test,name:alice' },
      {
        customTags: [
          { key: 'env', value: 'test' },
          { key: 'name', value: 'alice' },
        ],
      },
    ],
    [
      {
        [A.CUSTOM_DNS_CONFIG]:
          '{"nameservers":"20.1.0.1,20.1.0.2","searches":"xx.com,xx.eee","options":"ndots:2,edns0"}',
      },
      {
        dnsConfig: {
          nameServers: ['20.1.0.1', '20.1.0.2'],
          searches: ['xx.com', 'xx.eee'],
          options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }],
        },
      },
    ],
    [{ [A.IMC_PERFECT_MATCH]: 'true', [A.IMC_MATCH_COUNT]: '2' }, { imageCacheMatch: { full: true } }],
    [{ [A.IMC_MATCH_COUNT]: '2' }, { imageCacheMatch: { count: 2 } }],
    [
      { [A.ACR_INSTANCE_IDS]: 'cri-abc,cn-beijing:cri-def', [A.ACR_SERVICE_ARNS]: 'acs:ram::1:role/a' },
      {
        acrRegistries: [
          { instanceId: 'cri-abc', arnService: 'acs:ram::1:role/a' },
          { regionId: 'cn-beijing', instanceId: 'cri-def', arnService: 'acs:ram::1:role/a' },
        ],
      },
    ],
    [{ [A.ACR_INSTANCE_ID]: 'cri-abc' }, { acrRegistries: [{ instanceId: 'cri-abc' }] }],
    [
      {
        [A.PLAIN_HTTP_REGISTRY]: 'harbor.pre.com,192.168.1.1:5000',
        [A.INSECURE_REGISTRY]: 'reg.test.com:80',
      },
      { plainHttpRegistry: 'harbor.pre.com,192.168.1.1:5000', insecureRegistry: 'reg.test.com:80' },
    ],
    [
      {
        [A.DATA_CACHE_BUCKET]: 'default',
        [A.DATA_CACHE_PL]: 'PL1',
        [A.DATA_CACHE_IOPS]: '40000',
        [A.DATA_CACHE_BURSTING]: 'true',
      },
      { dataCache: { bucket: 'default', pl: 'PL1', provisionedIops: 40000, burstingEnabled: true } },
    ],
    [
      { [A.WITH_EIP]: 'true', [A.EIP_COMMON_BANDWIDTH_PACKAGE]: 'cbwp-2zeukbj916' },
      { autoCreateEip: true, eipCommonBandwidthPackage: 'cbwp-2zeukbj916' },
    ],
    [
      { [A.IPV6_BANDWIDTH_ENABLE]: 'true', [A.IPV6_BANDWIDTH]: '100M' },
      { ipv6GatewayBandwidthEnable: true, ipv6GatewayBandwidth: '100M' },
    ],
    [{ [A.PRIVATE_IP]: '172.16.0.1' }, { privateIpAddress: '172.16.0.1' }],
    [
      { [A.FIXED_IP]: 'true', [A.FIXED_IP_RETAIN_HOUR]: '24' },
      { fixedIp: true, fixedIpRetainHour: 24 },
    ],
    [
      { [A.INGRESS_BANDWIDTH]: '40M', [A.EGRESS_BANDWIDTH]: '20M' },
      { ingressBandwidth: 40_000_000, egressBandwidth: 20_000_000 },
    ],
    [{ [A.SLS_ENABLE]: 'false' }, {}],
    [{ [A.CORE_PATTERN]: '/pod/data/dump/core' }, { corePattern: '/pod/data/dump/core' }],
    [{ 'k8s.aliyun.com/eci-instance-id': 'eci-2ze1y0la40qgva09' }, {}],
    [{ 'k8s.aliyun.com/pod-ip-fixed': 'true', 'example.com/other': 'x' }, {}],
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
    [A.FAIL_STRATEGY, 'retry'],
    [A.MAX_PENDING_MINUTE, '5'],
    [A.CUSTOM_HOSTS, '{"host":"a"}'],
    [A.CUSTOM_HOSTS, '[{"host":"a","ip":"not-an-ip"}]'],
    [A.CUSTOM_TAGS, 'a:1,b:2,c:3,d:4'],
    [A.CUSTOM_TAGS, 'eci-virtual-node/pod-uid:x'],
    [A.CUSTOM_DNS_CONFIG, '{nameservers'],
    [A.IMC_ID, 'my cache'],
    [A.ACR_INSTANCE_IDS, 'registry'],
    [A.ACR_USER_ARNS, 'acs:ram::1:role/x'],
    [A.DATA_CACHE_PL, 'PL9'],
    [A.EIP_ISP, 'cheap'],
    [A.EIP_BANDWIDTH, '10'],
    [A.EIP_INSTANCE_ID, 'public-ip'],
    [A.PRIVATE_IP, '10.0.0'],
    [A.INGRESS_BANDWIDTH, 'fast'],
    [A.CORE_PATTERN, 'core'],
    [A.SPOT_PRICE_LIMIT, '0.1234'],
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

test('documented annotations this node cannot honour are refused, naming the annotation', () => {
  const refused = ANNOTATIONS.filter((d) => d.state === 'refused').map((d) => d.key);
  assert.ok(refused.length >= 10, refused.join(', '));
  const cases: [string, string][] = [
    ...refused.map((key): [string, string] => [key, 'x']),
    [A.SLS_ENABLE, 'true'],
    [A.SECURITY_GROUP, 'sg-a,sg-b'],
    ['k8s.aliyun.com/eci-use-spec', '2-4Gi'],
    ['k8s.aliyun.com/imc-whatever', 'true'],
  ];
  for (const [key, value] of cases) {
    const r = parseEciAnnotations({ [key]: value, [A.USE_SPECS]: '2-4Gi' });
    assert.equal(r.ok, false, key);
    if (r.ok) continue;
    assert.equal(r.refusal.reason, RefusalReasons.UNSUPPORTED_ANNOTATION, key);
    assert.equal(r.refusal.field, `metadata.annotations['${key}']`);
    assert.ok(r.refusal.message.includes(key), r.refusal.message);
  }
});

test('the table lists each documented annotation once, and marks the cloud-privilege ones', () => {
  const keys = ANNOTATIONS.map((d) => d.key);
  assert.equal(new Set(keys).size, keys.length);
  for (const k of Object.values(A)) assert.ok(keys.includes(k), k);
  for (const k of [A.RAM_ROLE_NAME, A.SECURITY_GROUP, A.VSWITCH, A.EIP_INSTANCE_ID, A.WITH_EIP])
    assert.ok(PRIVILEGED_ANNOTATIONS.includes(k), k);
  assert.ok(!PRIVILEGED_ANNOTATIONS.includes(A.USE_SPECS));
});

test('docs/annotations.md carries the table as the code has it', () => {
  const doc = readFileSync(new URL('../../../../docs/annotations.md', import.meta.url), 'utf8');
  const m = /<!-- table:begin -->\n([\s\S]*?)\n<!-- table:end -->/.exec(doc);
  assert.ok(m, 'markers in docs/annotations.md');
  // Compare cell by cell, whatever column padding a formatter added.
  const cells = (t: string) =>
    t
      .split('\n')
      .filter((l) => l.trim() !== '' && !/^\|[\s|:-]+\|$/.test(l))
      .map((l) => l.split(/(?<!\\)\|/).map((c) => c.trim()));
  assert.deepEqual(cells(m[1]!), cells(renderAnnotationTable()));
});
