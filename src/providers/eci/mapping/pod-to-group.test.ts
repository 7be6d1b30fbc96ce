import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateContainerGroupRequest } from '@alicloud/eci20180808';
import type { V1Pod } from '@kubernetes/client-node';
import {
  b64,
  configMap,
  wireQuery,
  container,
  ctx,
  plain,
  pod,
  refs,
  secret,
} from '../../../../test/support/eci-mapping-fixtures.ts';
import { podToCreateRequest, type CreateContext, type CreateResult } from './pod-to-group.ts';
import { tokenKey } from './refs.ts';
import { TAG_KEYS } from './tags.ts';
import { RefusalReasons } from './types.ts';
import { ANNOTATIONS } from './annotations.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- tests read the request as plain JSON */

function create(
  p: V1Pod,
  c: CreateContext = ctx(),
): { req: any; warnings: readonly string[]; result: CreateResult } {
  const result = podToCreateRequest(p, c);
  if (!result.ok) return { req: undefined, warnings: [], result };
  assert.ok(result.request instanceof CreateContainerGroupRequest);
  return { req: plain(result.request), warnings: result.warnings, result };
}

function ok(p: V1Pod, c?: CreateContext): { req: any; warnings: readonly string[] } {
  const r = create(p, c);
  assert.ok(r.result.ok, JSON.stringify(r.result));
  return r;
}

const envOf = (req: any, i = 0): Record<string, any> =>
  Object.fromEntries(
    (req.container[i].environmentVar ?? []).map((e: any) => [
      e.key,
      e.fieldRef ? { fieldRef: e.fieldRef.fieldPath } : e.value,
    ]),
  );

test('identity, placement and pod-level fields', () => {
  const { req } = ok(
    pod({
      restartPolicy: 'OnFailure',
      terminationGracePeriodSeconds: 45,
      activeDeadlineSeconds: 600,
      shareProcessNamespace: true,
      hostAliases: [{ ip: '10.0.0.9', hostnames: ['db', 'db.local'] }],
    }),
  );
  assert.equal(req.regionId, 'cn-hangzhou');
  assert.equal(req.clientToken, '0a1b2c3d-0000-4000-8000-000000000001');
  assert.equal(req.containerGroupName, 'shop-web-0');
  assert.equal(req.securityGroupId, 'sg-1');
  assert.equal(req.vSwitchId, 'vsw-a,vsw-b');
  assert.equal(req.scheduleStrategy, 'VSwitchOrdered');
  assert.equal(req.restartPolicy, 'OnFailure');
  assert.equal(req.terminationGracePeriodSeconds, 45);
  assert.equal(req.activeDeadlineSeconds, 600);
  assert.equal(req.shareProcessNamespace, true);
  assert.equal(req.hostName, 'web-0');
  assert.deepEqual(req.hostAliase, [{ ip: '10.0.0.9', hostname: ['db', 'db.local'] }]);
  assert.deepEqual(req.tag, [
    { key: TAG_KEYS.CLUSTER_ID, value: 'c-test' },
    { key: TAG_KEYS.NODE_NAME, value: 'virtual-kubelet' },
    { key: TAG_KEYS.NAMESPACE, value: 'shop' },
    { key: TAG_KEYS.POD_NAME, value: 'web-0' },
    { key: TAG_KEYS.POD_UID, value: '0a1b2c3d-0000-4000-8000-000000000001' },
  ]);
  assert.equal(ok(pod()).req.restartPolicy, 'Always', 'Kubernetes default');
  assert.equal(
    ok(pod(), ctx({ vSwitchIds: ['vsw-a'] })).req.scheduleStrategy,
    undefined,
    'one zone, no strategy',
  );
});

test('the same pod gives the same request', () => {
  const p = pod({ containers: [container({ env: [{ name: 'A', value: '1' }] })] });
  assert.deepEqual(ok(p).req, ok(p).req);
});

test('annotations override placement and add ECI options', () => {
  // The namespace's allow-list grants the vSwitches, security group and EIP the annotations pick.
  const allowed = ctx({
    privileges: { ramRoles: [], securityGroups: ['sg-9'], vSwitches: ['*'], eips: [], createEip: true },
  });
  const { req } = ok(
    pod(
      {},
      {
        annotations: {
          'k8s.aliyun.com/eci-vswitch': 'vsw-x,vsw-y,vsw-z',
          'k8s.aliyun.com/eci-schedule-strategy': 'VSwitchRandom',
          'k8s.aliyun.com/eci-security-group': 'sg-9',
          'k8s.aliyun.com/eci-spot-strategy': 'SpotWithPriceLimit',
          'k8s.aliyun.com/eci-spot-price-limit': '0.3',
          'k8s.aliyun.com/eci-auto-imc': 'true',
          'k8s.aliyun.com/eci-with-eip': 'true',
          'k8s.aliyun.com/eci-use-specs': '2-4Gi',
          'k8s.aliyun.com/eci-extra-ephemeral-storage': '40Gi',
        },
      },
    ),
    allowed,
  );
  assert.equal(req.vSwitchId, 'vsw-x,vsw-y,vsw-z');
  assert.equal(req.scheduleStrategy, 'VSwitchRandom');
  assert.equal(req.securityGroupId, 'sg-9');
  assert.equal(req.spotStrategy, 'SpotWithPriceLimit');
  assert.equal(req.spotPriceLimit, 0.3);
  assert.equal(req.autoMatchImageCache, true);
  assert.equal(req.autoCreateEip, true);
  assert.equal(req.cpu, 2);
  assert.equal(req.memory, 4);
  assert.equal(req.instanceType, undefined);
  assert.equal(req.ephemeralStorage, 40);

  const multi = ok(pod({}, { annotations: { 'k8s.aliyun.com/eci-use-specs': '2-4Gi,ecs.c6.large' } })).req;
  assert.equal(multi.instanceType, '2-4Gi,ecs.c6.large');
  assert.equal(multi.cpu, undefined);
  const typed = ok(pod({}, { annotations: { 'k8s.aliyun.com/eci-instance-type': 'ecs.g6.large' } })).req;
  assert.equal(typed.instanceType, 'ecs.g6.large');
});

test('every supported annotation reaches the wire as its CreateContainerGroup parameter', () => {
  const r = podToCreateRequest(
    pod(
      { hostAliases: [{ ip: '10.0.0.9', hostnames: ['db'] }] },
      {
        annotations: {
          'k8s.aliyun.com/eci-resource-group-id': 'rg-1',
          'k8s.aliyun.com/eci-ram-role-name': 'AliyunECIContainerGroupRole',
          'k8s.aliyun.com/eci-spot-strategy': 'SpotAsPriceGo',
          'k8s.aliyun.com/eci-spot-duration': '0',
          'k8s.aliyun.com/eci-imc-id': 'imc-2zebxkiifuyzzlhl',
          'k8s.aliyun.com/eci-eip-instanceid': 'eip-bp1q5n8cq4p7f6dzu',
          'k8s.aliyun.com/eci-custom-hosts': '[{"host":"example.com","ip":"100.100.1.1"}]',
          'k8s.aliyun.com/eci-custom-tags': 'env:test',
          'k8s.aliyun.com/eci-custom-dnsconfig':
            '{"nameservers":"20.1.0.1","searches":"corp.local","options":"ndots:2"}',
          'k8s.aliyun.com/acr-instance-ids': 'cn-beijing:cri-j36zhodptmyq',
          'k8s.aliyun.com/acr-user-arns': 'acs:ram::1:role/role-acr',
          'k8s.aliyun.com/plain-http-registry': 'harbor.pre.com',
          'k8s.aliyun.com/insecure-registry': 'reg.test.com:80',
          'k8s.aliyun.com/eci-data-cache-bucket': 'default',
          'k8s.aliyun.com/eci-data-cache-pl': 'PL1',
          'k8s.aliyun.com/eci-enable-ipv6': 'true',
          'k8s.aliyun.com/eci-ipv6-bandwidth-enable': 'true',
          'k8s.aliyun.com/eci-ipv6-bandwidth': '100M',
          'k8s.aliyun.com/eci-private-ip-address': '192.168.0.20',
          'k8s.aliyun.com/eci-fixed-ip': 'true',
          'k8s.aliyun.com/eci-fixed-ip-retain-hour': '24',
          'kubernetes.io/ingress-bandwidth': '40M',
          'kubernetes.io/egress-bandwidth': '20M',
          'k8s.aliyun.com/eci-ntp-server': '100.100.3.1',
          'k8s.aliyun.com/eci-core-pattern': '/pod/data/dump/core',
          'k8s.aliyun.com/eci-cpu-option-core': '2',
          'k8s.aliyun.com/eci-cpu-option-ht': '1',
        },
      },
    ),
    ctx({
      clusterDNS: { nameservers: ['10.96.0.10'], clusterDomain: 'cluster.local' },
      // The RAM role and the EIP are cloud privileges: this namespace is given them.
      privileges: { ramRoles: ['*'], securityGroups: [], vSwitches: [], eips: ['*'], createEip: false },
    }),
  );
  assert.ok(r.ok, JSON.stringify(r));
  const q = wireQuery(r.request);
  const want: Record<string, string> = {
    ResourceGroupId: 'rg-1',
    RamRoleName: 'AliyunECIContainerGroupRole',
    SpotStrategy: 'SpotAsPriceGo',
    SpotDuration: '0',
    ImageSnapshotId: 'imc-2zebxkiifuyzzlhl',
    EipInstanceId: 'eip-bp1q5n8cq4p7f6dzu',
    'HostAliase.1.Ip': '10.0.0.9',
    'HostAliase.2.Ip': '100.100.1.1',
    'HostAliase.2.Hostname.1': 'example.com',
    'Tag.6.Key': 'env',
    'Tag.6.Value': 'test',
    'DnsConfig.NameServer.1': '10.96.0.10',
    'DnsConfig.NameServer.2': '20.1.0.1',
    'AcrRegistryInfo.1.InstanceId': 'cri-j36zhodptmyq',
    'AcrRegistryInfo.1.RegionId': 'cn-beijing',
    'AcrRegistryInfo.1.ArnUser': 'acs:ram::1:role/role-acr',
    PlainHttpRegistry: 'harbor.pre.com',
    InsecureRegistry: 'reg.test.com:80',
    DataCacheBucket: 'default',
    DataCachePL: 'PL1',
    Ipv6AddressCount: '1',
    Ipv6GatewayBandwidthEnable: 'true',
    Ipv6GatewayBandwidth: '100M',
    PrivateIpAddress: '192.168.0.20',
    FixedIp: 'true',
    FixedIpRetainHour: '24',
    IngressBandwidth: '40000000',
    EgressBandwidth: '20000000',
    'NtpServer.1': '100.100.3.1',
    CorePattern: '/pod/data/dump/core',
    CpuOptionsCore: '2',
    CpuOptionsThreadsPerCore: '1',
  };
  for (const [k, v] of Object.entries(want)) assert.equal(q[k], v, k);
  assert.ok(
    Object.entries(q).some(([k, v]) => /^DnsConfig\.Search\.\d+$/.test(k) && v === 'corp.local'),
    'custom search domain',
  );
});

test('containers: image, command, args, workdir, ports, stdio', () => {
  const { req } = ok(
    pod({
      containers: [
        container({
          imagePullPolicy: 'IfNotPresent',
          command: ['/bin/sh', '-c'],
          args: ['echo $(GREETING) $$(LITERAL)'],
          workingDir: '/srv',
          ports: [{ containerPort: 80 }, { containerPort: 53, protocol: 'UDP' }],
          env: [{ name: 'GREETING', value: 'hi' }],
          stdin: true,
          tty: true,
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'FallbackToLogsOnError',
        }),
      ],
    }),
  );
  const c = req.container[0];
  assert.equal(c.name, 'app');
  assert.equal(c.image, 'nginx:1.27');
  assert.equal(c.imagePullPolicy, 'IfNotPresent');
  assert.deepEqual(c.command, ['/bin/sh', '-c'], 'command and args stay apart (entrypoint vs cmd)');
  assert.deepEqual(c.arg, ['echo hi $(LITERAL)']);
  assert.equal(c.workingDir, '/srv');
  assert.deepEqual(c.port, [
    { port: 80, protocol: 'TCP' },
    { port: 53, protocol: 'UDP' },
  ]);
  assert.equal(c.stdin, true);
  assert.equal(c.tty, true);
  assert.equal(c.terminationMessagePath, '/dev/termination-log');
  assert.equal(c.terminationMessagePolicy, 'FallbackToLogsOnError');
});

test('resources: container size from limits, group size rounded to an ECI spec', () => {
  const cases: [
    string,
    V1Pod,
    { c: [number | undefined, number | undefined][]; cpu?: number; memory?: number },
  ][] = [
    [
      'limits win over requests; sum 0.75c/1.5Gi rounds to 1c/2Gi',
      pod({
        containers: [
          container({
            name: 'a',
            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '1Gi' } },
          }),
          container({ name: 'b', resources: { requests: { cpu: '250m', memory: '512Mi' } } }),
        ],
      }),
      {
        c: [
          [0.5, 1],
          [0.25, 0.5],
        ],
        cpu: 1,
        memory: 2,
      },
    ],
    [
      'a container without memory leaves the group to ECI',
      pod({ containers: [container({ resources: { limits: { cpu: '1' } } })] }),
      { c: [[1, undefined]] },
    ],
    ['nothing set: ECI default', pod(), { c: [[undefined, undefined]] }],
    [
      'a big init container sizes the group',
      pod({
        initContainers: [container({ name: 'i', resources: { limits: { cpu: '4', memory: '8Gi' } } })],
        containers: [container({ resources: { limits: { cpu: '1', memory: '2Gi' } } })],
      }),
      { c: [[1, 2]], cpu: 4, memory: 8 },
    ],
    [
      'pod-level resources win',
      pod({
        resources: { limits: { cpu: '2', memory: '8Gi' } },
        containers: [container({ resources: { limits: { cpu: '1', memory: '1Gi' } } })],
      }),
      { c: [[1, 1]], cpu: 2, memory: 8 },
    ],
  ];
  for (const [name, p, want] of cases) {
    const { req } = ok(p);
    assert.deepEqual(
      req.container.map((c: any) => [c.cpu, c.memory]),
      want.c,
      name,
    );
    assert.equal(req.cpu, want.cpu, name);
    assert.equal(req.memory, want.memory, name);
  }
  const gpu = ok(
    pod(
      {
        containers: [
          container({ resources: { limits: { 'nvidia.com/gpu': '1', cpu: '4', memory: '16Gi' } } }),
        ],
      },
      { annotations: { 'k8s.aliyun.com/eci-use-specs': 'ecs.gn6i-c4g1.xlarge' } },
    ),
  ).req;
  assert.equal(gpu.container[0].gpu, 1);
  assert.equal(gpu.instanceType, 'ecs.gn6i-c4g1.xlarge');
  assert.equal(gpu.cpu, undefined, 'an instance type fixes the size');
});

test('env: literals, references, downward API, ConfigMaps and Secrets', () => {
  const p = pod(
    {
      serviceAccountName: 'web-sa',
      containers: [
        container({
          resources: { limits: { cpu: '500m', memory: '256Mi' } },
          envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CFG_' }, { secretRef: { name: 'db' } }],
          env: [
            { name: 'PLAIN', value: 'v' },
            { name: 'REF', value: '$(PLAIN)-$(CFG_MODE)-$(NOPE)' },
            { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
            { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
            { name: 'NOTE', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['note']" } } },
            { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
            { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
            { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
            { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
            { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
            { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'level' } } },
            { name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
            { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'absent', key: 'x', optional: true } } },
            { name: 'USER', value: 'override' },
          ],
        }),
      ],
    },
    { labels: { app: 'shop' }, annotations: { note: 'n1' } },
  );
  const c = ctx({
    hostIP: '10.0.0.5',
    serviceEnv: { KUBERNETES_SERVICE_HOST: '10.96.0.1', PLAIN: 'service-loses' },
    refs: refs({
      configMaps: [configMap('cfg', { mode: 'prod', level: 'debug' })],
      secrets: [secret('db', { USER: 'admin', password: 's3cr3t' })],
    }),
  });
  const { req } = ok(p, c);
  const env = envOf(req);
  assert.deepEqual(env, {
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    CFG_mode: 'prod',
    CFG_level: 'debug',
    USER: 'override',
    PLAIN: 'v',
    REF: 'v-$(CFG_MODE)-$(NOPE)',
    POD: 'web-0',
    NS: 'shop',
    UID: '0a1b2c3d-0000-4000-8000-000000000001',
    APP: 'shop',
    NOTE: 'n1',
    NODE: 'virtual-kubelet',
    SA: 'web-sa',
    IP: { fieldRef: 'status.podIP' },
    HOST: '10.0.0.5',
    MEM: '256',
    CPU: '500',
    LEVEL: 'debug',
    PW: 's3cr3t',
    password: 's3cr3t',
  });
  assert.equal(req.container[0].environmentVarHide, true, 'Secret values are hidden from Describe');
  const noHost = envOf(ok(p, { ...c, hostIP: undefined }).req);
  assert.deepEqual(noHost.HOST, { fieldRef: 'status.podIP' }, 'without a node IP, hostIP is the pod IP');
});

test('env: a limit left open falls back to the group size', () => {
  const p = pod({
    containers: [
      container({
        env: [
          { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
          { name: 'RQ', valueFrom: { resourceFieldRef: { resource: 'requests.memory' } } },
        ],
      }),
    ],
  });
  assert.deepEqual(envOf(ok(p).req), { CPU: '2', RQ: '0' });
  assert.equal(
    envOf(
      ok({ ...p, metadata: { ...p.metadata, annotations: { 'k8s.aliyun.com/eci-use-specs': '4-8Gi' } } }).req,
    ).CPU,
    '4',
  );
});

test('env: an unknown fieldRef is refused', () => {
  const r = create(
    pod({
      containers: [
        container({ env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'metadata.generation' } } }] }),
      ],
    }),
  ).result;
  assert.ok(!r.ok && 'refusal' in r);
  assert.equal(r.refusal.reason, RefusalReasons.ENV);
  assert.equal(r.refusal.field, 'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath');
});

test('missing required references are listed together; optional ones are skipped', () => {
  const p = pod({
    containers: [
      container({
        env: [
          { name: 'A', valueFrom: { configMapKeyRef: { name: 'gone', key: 'a' } } },
          { name: 'B', valueFrom: { secretKeyRef: { name: 'db', key: 'nokey' } } },
          { name: 'C', valueFrom: { secretKeyRef: { name: 'db', key: 'nokey', optional: true } } },
        ],
        envFrom: [{ secretRef: { name: 'gone-too' } }, { configMapRef: { name: 'maybe', optional: true } }],
      }),
    ],
    volumes: [
      { name: 't', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
      { name: 'o', secret: { secretName: 'opt', optional: true } },
    ],
  });
  const r = create(p, ctx({ refs: refs({ secrets: [secret('db', { user: 'u' })] }) })).result;
  assert.ok(!r.ok && 'missing' in r, JSON.stringify(r));
  assert.deepEqual(r.missing, [
    { kind: 'Secret', name: 'gone-too', field: 'spec.containers[0].envFrom[0]' },
    { kind: 'ConfigMap', name: 'gone', field: 'spec.containers[0].env[0]' },
    { kind: 'Secret', name: 'db', key: 'nokey', field: 'spec.containers[0].env[1]' },
    {
      kind: 'ServiceAccountToken',
      name: 'default',
      key: tokenKey(undefined, undefined),
      field: 'spec.volumes[0].projected.sources[0].serviceAccountToken',
    },
  ]);
});

test('probes and lifecycle hooks', () => {
  const { req, warnings } = ok(
    pod({
      containers: [
        container({
          ports: [{ name: 'http', containerPort: 8080 }],
          livenessProbe: {
            exec: { command: ['cat', '/ok'] },
            periodSeconds: 5,
            failureThreshold: 2,
            initialDelaySeconds: 3,
          },
          startupProbe: {
            httpGet: { port: 'http', path: '/start' },
            periodSeconds: 10,
            failureThreshold: 30,
          },
          readinessProbe: {
            httpGet: {
              port: 'http',
              path: '/ready',
              scheme: 'HTTP',
              httpHeaders: [{ name: 'X', value: 'y' }],
            },
            timeoutSeconds: 2,
            successThreshold: 1,
          },
          lifecycle: {
            postStart: { exec: { command: ['touch', '/started'] } },
            preStop: {
              httpGet: {
                port: 8080,
                path: '/drain',
                host: '127.0.0.1',
                httpHeaders: [{ name: 'A', value: 'b' }],
              },
            },
          },
        }),
        container({
          name: 'side',
          readinessProbe: { tcpSocket: { port: 9000 } },
          lifecycle: { preStop: { sleep: { seconds: 5 } }, postStart: { tcpSocket: { port: 9000 } } },
        }),
      ],
    }),
  );
  const [a, b] = req.container;
  assert.deepEqual(a.livenessProbe, {
    exec: { command: ['cat', '/ok'] },
    periodSeconds: 5,
    failureThreshold: 2,
    initialDelaySeconds: 300,
  });
  assert.deepEqual(a.readinessProbe, {
    httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' },
    timeoutSeconds: 2,
    successThreshold: 1,
  });
  assert.deepEqual(a.lifecyclePostStartHandlerExec, ['touch', '/started']);
  assert.equal(a.lifecyclePreStopHandlerHttpGetPath, '/drain');
  assert.equal(a.lifecyclePreStopHandlerHttpGetPort, 8080);
  assert.equal(a.lifecyclePreStopHandlerHttpGetHost, '127.0.0.1');
  assert.deepEqual(a.lifecyclePreStopHandlerHttpGetHttpHeader, [{ name: 'A', value: 'b' }]);
  assert.deepEqual(b.readinessProbe, { tcpSocket: { port: 9000 } });
  assert.deepEqual(b.lifecyclePreStopHandlerExec, ['sleep', '5']);
  assert.equal(b.lifecyclePostStartHandlerTcpSocketPort, 9000);
  assert.ok(warnings.some((w) => w.includes('startupProbe')));
  assert.ok(warnings.some((w) => w.includes('readinessProbe.httpGet')));
  assert.ok(warnings.some((w) => w.includes('preStop.sleep')));
});

test('security context: user, group, capabilities, read-only root, sysctls', () => {
  const { req, warnings } = ok(
    pod({
      securityContext: {
        runAsUser: 1000,
        runAsGroup: 3000,
        runAsNonRoot: true,
        sysctls: [
          { name: 'net.ipv4.ping_group_range', value: '0 2147483647' },
          { name: 'net.core.somaxconn', value: '4096' },
        ],
      },
      initContainers: [container({ name: 'init', securityContext: { runAsUser: 0 } })],
      containers: [
        container({
          securityContext: {
            runAsUser: 2000,
            readOnlyRootFilesystem: true,
            capabilities: { add: ['NET_ADMIN', 'CHOWN'], drop: ['ALL'] },
          },
        }),
      ],
    }),
  );
  const c = req.container[0];
  assert.deepEqual(c.securityContext, {
    capability: { add: ['NET_ADMIN'] },
    readOnlyRootFilesystem: true,
    runAsUser: 2000,
  });
  assert.equal(c.securityContextRunAsGroup, 3000);
  assert.equal(c.securityContextRunAsNonRoot, true);
  assert.deepEqual(req.initContainer[0].securityContext, { runAsUser: 0 });
  assert.deepEqual(req.securityContext, {
    sysctl: [{ name: 'net.ipv4.ping_group_range', value: '0 2147483647' }],
  });
  assert.deepEqual(req.hostSecurityContext, { sysctl: [{ name: 'net.core.somaxconn', value: '4096' }] });
  assert.ok(warnings.some((w) => w.includes('capabilities.drop')));
});

test('volumes: emptyDir, NFS, ConfigMap, Secret, downward API, projected', () => {
  const p = pod(
    {
      serviceAccountName: 'web-sa',
      containers: [
        container({
          resources: { limits: { cpu: '1', memory: '1Gi' } },
          volumeMounts: [
            { name: 'scratch', mountPath: '/tmp' },
            { name: 'shared', mountPath: '/data', readOnly: true, mountPropagation: 'HostToContainer' },
            { name: 'cfg', mountPath: '/etc/app/app.yaml', subPath: 'app.yaml' },
          ],
        }),
      ],
      volumes: [
        { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '256Mi' } },
        { name: 'disk', emptyDir: {} },
        { name: 'shared', nfs: { server: 'nas.example', path: '/exports', readOnly: true } },
        { name: 'cfg', configMap: { name: 'app', defaultMode: 0o644 } },
        {
          name: 'picked',
          configMap: { name: 'app', items: [{ key: 'app.yaml', path: 'conf/app.yaml', mode: 0o600 }] },
        },
        { name: 'tls', secret: { secretName: 'tls', defaultMode: 0o400 } },
        {
          name: 'info',
          downwardAPI: {
            items: [
              { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
              { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
              {
                path: 'mem',
                resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' },
              },
            ],
          },
        },
        {
          name: 'kube-api-access',
          projected: {
            defaultMode: 0o644,
            sources: [
              { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }],
                },
              },
            ],
          },
        },
        { name: 'maybe', secret: { secretName: 'absent', optional: true } },
      ],
    },
    { labels: { b: '2', a: 'x"y' } },
  );
  const c = ctx({
    refs: refs({
      configMaps: [
        configMap('app', { 'app.yaml': 'port: 80\n' }, { 'logo.png': b64('\x89PNG') }),
        configMap('kube-root-ca.crt', { 'ca.crt': 'CERT' }),
      ],
      secrets: [secret('tls', { 'tls.key': 'KEY', 'tls.crt': 'CRT' }, 'kubernetes.io/tls')],
      tokens: { [tokenKey('', 3607)]: 'eyJtoken' },
    }),
  });
  const { req } = ok(p, c);
  const vol = Object.fromEntries(req.volume.map((v: any) => [v.name, v]));
  assert.deepEqual(vol.scratch, {
    name: 'scratch',
    type: 'EmptyDirVolume',
    emptyDirVolume: { medium: 'Memory', sizeLimit: '256Mi' },
  });
  assert.deepEqual(vol.disk, { name: 'disk', type: 'EmptyDirVolume', emptyDirVolume: {} });
  assert.deepEqual(vol.shared, {
    name: 'shared',
    type: 'NFSVolume',
    NFSVolume: { server: 'nas.example', path: '/exports', readOnly: true },
  });
  assert.deepEqual(vol.cfg, {
    name: 'cfg',
    type: 'ConfigFileVolume',
    configFileVolume: {
      configFileToPath: [
        { path: 'app.yaml', content: b64('port: 80\n') },
        { path: 'logo.png', content: b64('\x89PNG') },
      ],
      defaultMode: 420,
    },
  });
  assert.deepEqual(vol.picked.configFileVolume, {
    configFileToPath: [{ path: 'conf/app.yaml', content: b64('port: 80\n'), mode: 384 }],
  });
  assert.deepEqual(vol.tls.configFileVolume, {
    configFileToPath: [
      { path: 'tls.key', content: b64('KEY') },
      { path: 'tls.crt', content: b64('CRT') },
    ],
    defaultMode: 256,
  });
  assert.deepEqual(vol.info.configFileVolume.configFileToPath, [
    { path: 'labels', content: b64('a="x\\"y"\nb="2"') },
    { path: 'name', content: b64('web-0') },
    { path: 'mem', content: b64('1024') },
  ]);
  assert.deepEqual(vol['kube-api-access'].configFileVolume, {
    configFileToPath: [
      { path: 'token', content: b64('eyJtoken') },
      { path: 'ca.crt', content: b64('CERT') },
      { path: 'namespace', content: b64('shop') },
    ],
    defaultMode: 420,
  });
  assert.deepEqual(
    vol.maybe,
    { name: 'maybe', type: 'EmptyDirVolume', emptyDirVolume: {} },
    'absent optional source mounts empty',
  );
  assert.deepEqual(req.container[0].volumeMount, [
    { name: 'scratch', mountPath: '/tmp' },
    { name: 'shared', mountPath: '/data', readOnly: true, mountPropagation: 'HostToContainer' },
    { name: 'cfg', mountPath: '/etc/app/app.yaml', subPath: 'app.yaml' },
  ]);
});

test('subPathExpr expands from known env and is refused otherwise', () => {
  const mk = (expr: string) =>
    pod({
      containers: [
        container({
          env: [
            { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          ],
          volumeMounts: [{ name: 'logs', mountPath: '/logs', subPathExpr: expr }],
        }),
      ],
      volumes: [{ name: 'logs', nfs: { server: 's', path: '/' } }],
    });
  assert.equal(ok(mk('pods/$(POD)')).req.container[0].volumeMount[0].subPath, 'pods/web-0');
  const r = create(mk('$(IP)')).result;
  assert.ok(!r.ok && 'refusal' in r);
  assert.equal(r.refusal.reason, RefusalReasons.SUBPATH_EXPR);
  assert.equal(r.refusal.field, 'spec.containers[0].volumeMounts[0].subPathExpr');
});

test('a configuration file over 32 KB is refused without quoting it', () => {
  const big = 'S'.repeat(40 * 1024);
  const r = create(
    pod({ volumes: [{ name: 'blob', secret: { secretName: 'big' } }] }),
    ctx({ refs: refs({ secrets: [secret('big', { 'data.bin': big })] }) }),
  ).result;
  assert.ok(!r.ok && 'refusal' in r);
  assert.equal(r.refusal.reason, RefusalReasons.CONFIG_FILE_TOO_LARGE);
  assert.ok(!r.refusal.message.includes('SSSS'));
});

test('image pull secrets become registry credentials', () => {
  const json = JSON.stringify({
    auths: {
      'https://index.docker.io/v1/': { username: 'u1', password: 'p1' },
      'registry.example.com:5000': { auth: b64('u2:p:2') },
      'bad.example': { email: 'x' },
    },
  });
  const s1 = {
    metadata: { name: 'regcred' },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': b64(json) },
  };
  const s2 = {
    metadata: { name: 'legacy' },
    type: 'kubernetes.io/dockercfg',
    data: {
      '.dockercfg': b64(
        JSON.stringify({
          'old.example': { username: 'u3', password: 'p3' },
          'registry.example.com:5000': { username: 'dup', password: 'dup' },
        }),
      ),
    },
  };
  const s3 = {
    metadata: { name: 'broken' },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': b64('{"auths": hunter2') },
  };
  const { req, warnings } = ok(
    pod({
      imagePullSecrets: [{ name: 'regcred' }, { name: 'legacy' }, { name: 'broken' }, { name: 'nowhere' }],
    }),
    ctx({ refs: refs({ secrets: [s1, s2, s3] }) }),
  );
  assert.deepEqual(req.imageRegistryCredential, [
    { server: 'index.docker.io', userName: 'u1', password: 'p1' },
    { server: 'registry.example.com:5000', userName: 'u2', password: 'p:2' },
    { server: 'old.example', userName: 'u3', password: 'p3' },
  ]);
  const pull = warnings.filter((w) => w.startsWith('spec.imagePullSecrets'));
  assert.equal(pull.length, 2, 'one for the broken secret, one for the absent one');
  assert.ok(
    pull.every((w) => !w.includes('hunter2')),
    'a malformed secret is never quoted',
  );
});

test('DNS: ClusterFirst uses the cluster DNS, None and Default pass through', () => {
  const clusterDNS = { nameservers: ['10.96.0.10'], clusterDomain: 'cluster.local' };
  const first = ok(
    pod({ dnsConfig: { options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }], searches: ['corp'] } }),
    ctx({ clusterDNS }),
  ).req;
  assert.equal(first.dnsPolicy, 'None');
  assert.deepEqual(first.dnsConfig, {
    nameServer: ['10.96.0.10'],
    search: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp'],
    option: [{ name: 'ndots', value: '2' }, { name: 'edns0' }],
  });
  const none = ok(
    pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'] } }),
    ctx({ clusterDNS }),
  ).req;
  assert.equal(none.dnsPolicy, 'None');
  assert.deepEqual(none.dnsConfig, { nameServer: ['1.1.1.1'] });
  assert.equal(ok(pod({ dnsPolicy: 'Default' }), ctx({ clusterDNS })).req.dnsPolicy, 'Default');
  const bare = ok(pod());
  assert.equal(bare.req.dnsPolicy, undefined);
  assert.ok(bare.warnings.some((w) => w.includes('cluster DNS')));
});

test('hostname, subdomain and FQDN', () => {
  const clusterDNS = { nameservers: ['10.96.0.10'], clusterDomain: 'cluster.local' };
  assert.equal(ok(pod({ hostname: 'h1', subdomain: 'svc1' }), ctx({ clusterDNS })).req.hostName, 'h1');
  assert.equal(
    ok(pod({ hostname: 'h1', subdomain: 'svc1', setHostnameAsFQDN: true }), ctx({ clusterDNS })).req.hostName,
    'h1.svc1.shop.svc.cluster.local',
  );
  assert.equal(
    ok(pod({}, { name: `${'n'.repeat(62)}-x` })).req.hostName,
    'n'.repeat(62),
    'cut at 63, no trailing dash',
  );
});

test('init containers map with their own fields', () => {
  const { req } = ok(
    pod({
      initContainers: [
        container({
          name: 'migrate',
          image: 'migrate:1',
          command: ['migrate'],
          args: ['up'],
          env: [{ name: 'A', value: '1' }],
        }),
      ],
    }),
  );
  assert.deepEqual(req.initContainer, [
    {
      name: 'migrate',
      image: 'migrate:1',
      command: ['migrate'],
      arg: ['up'],
      environmentVar: [{ key: 'A', value: '1' }],
    },
  ]);
});

test('refusals from validatePod come back as data; a pod without UID is refused', () => {
  const r = create(pod({ hostNetwork: true })).result;
  assert.ok(!r.ok && 'refusal' in r);
  assert.equal(r.refusal.reason, RefusalReasons.HOST_NETWORK);
  const noUid = create(pod({}, { uid: undefined })).result;
  assert.ok(!noUid.ok && 'refusal' in noUid);
  assert.equal(noUid.refusal.reason, RefusalReasons.IDENTITY);
});

test('the SDK serialises the request to ECI wire parameters', () => {
  const r = podToCreateRequest(
    pod({
      containers: [
        container({
          env: [{ name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
          livenessProbe: { tcpSocket: { port: 80 } },
        }),
      ],
      volumes: [{ name: 'n', nfs: { server: 's', path: '/p' } }],
      securityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '1' }] },
    }),
    ctx(),
  );
  assert.ok(r.ok);
  const q = wireQuery(r.request);
  assert.equal(q.ClientToken, '0a1b2c3d-0000-4000-8000-000000000001');
  assert.equal(q.VSwitchId, 'vsw-a,vsw-b');
  assert.equal(q['Container.1.Image'], 'nginx:1.27');
  assert.equal(q['Container.1.EnvironmentVar.1.Key'], 'IP');
  assert.equal(q['Container.1.EnvironmentVar.1.FieldRef.FieldPath'], 'status.podIP');
  assert.equal(q['Container.1.LivenessProbe.TcpSocket.Port'], '80');
  assert.equal(q['Volume.1.Type'], 'NFSVolume');
  assert.equal(q['Volume.1.NFSVolume.Server'], 's');
  assert.equal(q['Tag.5.Key'], 'eci-virtual-node/pod-uid');
  assert.equal(q['HostSecurityContext.Sysctl.1.Name'], 'net.core.somaxconn');
});

test('no Secret value appears in warnings, refusals or missing lists', () => {
  const value = 'TOPSECRET-VALUE';
  const s = secret('db', { pw: value, 'bad=name': value });
  const p = pod({
    initContainers: [
      container({ name: 'i', env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'pw' } } }] }),
    ],
    containers: [
      container({
        envFrom: [{ secretRef: { name: 'db' } }],
        env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'db', key: 'absent' } } }],
      }),
    ],
  });
  const r = podToCreateRequest(p, ctx({ refs: refs({ secrets: [s] }) }));
  const text = JSON.stringify(r.ok ? r.warnings : 'refusal' in r ? r.refusal : r.missing);
  assert.ok(!text.includes(value));
  assert.ok(!text.includes(b64(value)));
});

describe('cloud-privilege annotations and the namespace allow-list', () => {
  const withAnnotation = (key: string, value: string) =>
    pod({}, { namespace: 'team-a', annotations: { [key]: value } });
  const refused: [string, string, string][] = [
    ['k8s.aliyun.com/eci-ram-role-name', 'admin-role', 'RAM role'],
    ['k8s.aliyun.com/eci-security-group', 'sg-other', 'security group'],
    ['k8s.aliyun.com/eci-vswitch', 'vsw-a,vsw-other', 'vSwitch'],
    ['k8s.aliyun.com/eci-eip-instanceid', 'eip-123', 'EIP'],
    ['k8s.aliyun.com/eci-with-eip', 'true', 'permission to create an EIP'],
  ];
  for (const [key, value, what] of refused) {
    test(`${key}=${value} off the list is refused, naming the annotation`, () => {
      const r = create(withAnnotation(key, value)).result;
      assert.ok(!r.ok && 'refusal' in r, JSON.stringify(r));
      assert.equal(r.refusal.reason, 'CloudPrivilegeNotAllowed');
      assert.equal(r.refusal.field, `metadata.annotations['${key}']`);
      assert.match(r.refusal.message, new RegExp(`namespace team-a.*${what}`));
    });
  }

  test('the controller’s own vSwitches and security group need no allowance', () => {
    ok(withAnnotation('k8s.aliyun.com/eci-vswitch', 'vsw-b,vsw-a'));
    ok(withAnnotation('k8s.aliyun.com/eci-security-group', 'sg-1'));
  });

  test('listed values are allowed; * allows any', () => {
    const c = ctx({
      privileges: {
        ramRoles: ['oss-reader'],
        securityGroups: ['*'],
        vSwitches: [],
        eips: ['eip-123'],
        createEip: false,
      },
    });
    assert.equal(
      ok(withAnnotation('k8s.aliyun.com/eci-ram-role-name', 'oss-reader'), c).req.ramRoleName,
      'oss-reader',
    );
    ok(withAnnotation('k8s.aliyun.com/eci-security-group', 'sg-any'), c);
    ok(withAnnotation('k8s.aliyun.com/eci-eip-instanceid', 'eip-123'), c);
    assert.ok(!create(withAnnotation('k8s.aliyun.com/eci-ram-role-name', 'admin-role'), c).result.ok);
  });
});

test('the annotations marked as cloud privileges are exactly those the allow-list holds back', () => {
  // A valid value of every supported annotation (other than the controller's own placement).
  const sample: Record<string, string> = {
    'k8s.aliyun.com/eci-vswitch': 'vsw-other',
    'k8s.aliyun.com/eci-schedule-strategy': 'VSwitchOrdered',
    'k8s.aliyun.com/eci-use-specs': '2-4Gi',
    'k8s.aliyun.com/eci-instance-type': 'ecs.c6.large',
    'k8s.aliyun.com/eci-spot-strategy': 'SpotAsPriceGo',
    'k8s.aliyun.com/eci-spot-price-limit': '0.5',
    'k8s.aliyun.com/eci-spot-duration': '1',
    'k8s.aliyun.com/eci-fail-strategy': 'fail-back',
    'k8s.aliyun.com/pod-fail-on-create-err': 'true',
    'k8s.aliyun.com/eci-max-pending-minute': '30',
    'k8s.aliyun.com/eci-custom-hosts': '[{"host":"a.com","ip":"10.0.0.1"}]',
    'k8s.aliyun.com/eci-custom-tags': 'env:test',
    'k8s.aliyun.com/eci-ram-role-name': 'AliyunECIContainerGroupRole',
    'k8s.aliyun.com/eci-resource-group-id': 'rg-1',
    'k8s.aliyun.com/eci-cpu-option-core': '2',
    'k8s.aliyun.com/eci-cpu-option-ht': '1',
    'k8s.aliyun.com/eci-auto-imc': 'true',
    'k8s.aliyun.com/eci-image-cache': 'true',
    'k8s.aliyun.com/imc-perfect-match': 'true',
    'k8s.aliyun.com/imc-match-count-request': '1',
    'k8s.aliyun.com/eci-imc-id': 'imc-abc',
    'k8s.aliyun.com/eci-image-snapshot-id': 'imc-abc',
    'k8s.aliyun.com/acr-instance-ids': 'cri-abc',
    'k8s.aliyun.com/acr-instance-id': 'cri-abc',
    'k8s.aliyun.com/plain-http-registry': 'harbor.local',
    'k8s.aliyun.com/insecure-registry': 'harbor.local',
    'k8s.aliyun.com/eci-data-cache-bucket': 'default',
    'k8s.aliyun.com/eci-security-group': 'sg-other',
    'k8s.aliyun.com/eci-eip-instanceid': 'eip-abc',
    'k8s.aliyun.com/eci-with-eip': 'true',
    'k8s.aliyun.com/eci-enable-ipv6': 'true',
    'k8s.aliyun.com/eci-ipv6-bandwidth-enable': 'true',
    'k8s.aliyun.com/eci-ipv6-bandwidth': '100M',
    'k8s.aliyun.com/eci-private-ip-address': '192.168.0.9',
    'k8s.aliyun.com/eci-fixed-ip': 'true',
    'k8s.aliyun.com/eci-fixed-ip-retain-hour': '24',
    'kubernetes.io/ingress-bandwidth': '40M',
    'kubernetes.io/egress-bandwidth': '20M',
    'k8s.aliyun.com/eci-custom-dnsconfig': '{"nameservers":"10.0.0.2"}',
    'k8s.aliyun.com/eci-extra-ephemeral-storage': '50Gi',
    'k8s.aliyun.com/eci-ntp-server': '100.100.3.1',
    'k8s.aliyun.com/eci-sls-enable': 'false',
    'k8s.aliyun.com/eci-core-pattern': '/pod/core',
  };
  // Annotations that only mean something beside another one.
  const companion: Record<string, Record<string, string>> = {
    'k8s.aliyun.com/acr-service-arns': { 'k8s.aliyun.com/acr-instance-ids': 'cri-abc' },
    'k8s.aliyun.com/acr-user-arns': { 'k8s.aliyun.com/acr-instance-ids': 'cri-abc' },
    'k8s.aliyun.com/eci-data-cache-pl': { 'k8s.aliyun.com/eci-data-cache-bucket': 'default' },
    'k8s.aliyun.com/eci-data-cache-provisionedIops': { 'k8s.aliyun.com/eci-data-cache-bucket': 'default' },
    'k8s.aliyun.com/eci-data-cache-burstingEnabled': { 'k8s.aliyun.com/eci-data-cache-bucket': 'default' },
  };
  const companionValue: Record<string, string> = {
    'k8s.aliyun.com/acr-service-arns': 'acs:ram::1:role/a',
    'k8s.aliyun.com/acr-user-arns': 'acs:ram::1:role/b',
    'k8s.aliyun.com/eci-data-cache-pl': 'PL1',
    'k8s.aliyun.com/eci-data-cache-provisionedIops': '1000',
    'k8s.aliyun.com/eci-data-cache-burstingEnabled': 'true',
    'k8s.aliyun.com/eip-bandwidth': '5',
    'k8s.aliyun.com/eip-isp': 'BGP',
    'k8s.aliyun.com/eip-common-bandwidth-package-id': 'cbwp-1',
  };
  for (const key of [
    'k8s.aliyun.com/eip-bandwidth',
    'k8s.aliyun.com/eip-isp',
    'k8s.aliyun.com/eip-common-bandwidth-package-id',
  ])
    companion[key] = { 'k8s.aliyun.com/eci-with-eip': 'true' };
  const all: Record<string, boolean> = {
    ...Object.fromEntries(Object.keys(sample).map((k) => [k, false])),
    ...Object.fromEntries(Object.keys(companion).map((k) => [k, false])),
  };
  const supported = ANNOTATIONS.filter((d) => d.state === 'supported');
  assert.deepEqual(
    supported.map((d) => d.key).filter((k) => !(k in all)),
    [],
    'every supported annotation has a sample value here',
  );
  for (const d of supported) {
    const annotations = { ...(companion[d.key] ?? {}), [d.key]: sample[d.key] ?? companionValue[d.key]! };
    const r = podToCreateRequest(pod({}, { annotations }), ctx());
    const heldBack = !r.ok && 'refusal' in r && r.refusal.reason === RefusalReasons.CLOUD_PRIVILEGE;
    const selfHeldBack = heldBack && r.refusal.field === `metadata.annotations['${d.key}']`;
    assert.equal(selfHeldBack, d.privileged === true, `${d.key}: ${JSON.stringify(r.ok ? 'created' : r)}`);
    if (!d.privileged && !companion[d.key]) assert.ok(r.ok, `${d.key}: ${JSON.stringify(r)}`);
  }
});
