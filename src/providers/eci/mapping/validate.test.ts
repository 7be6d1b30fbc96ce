import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { container, pod } from '../../../../test/support/eci-mapping-fixtures.ts';
import { RefusalReasons as R, type RefusalReason } from './types.ts';
import { normalizeCapability, RULES, sysctlKind, validatePod, volumeSource } from './validate.ts';

const many = (n: number) => Array.from({ length: n }, (_, i) => container({ name: `c${i}` }));

const refused: [string, V1Pod, RefusalReason, string][] = [
  ['a null container', pod({ containers: [null as never] }), R.INVALID_SPEC, 'spec.containers[0]'],
  ['no containers', pod({ containers: [] }), R.INVALID_SPEC, 'spec.containers'],
  [
    'a container without image',
    pod({ containers: [{ name: 'a' } as never] }),
    R.INVALID_SPEC,
    'spec.containers[0].image',
  ],
  ...(['-1', 'abc', '1.5.5Gi', '10Xi'] as const).map((q): [string, V1Pod, RefusalReason, string] => [
    `memory limit ${q}`,
    pod({ containers: [container({ resources: { limits: { memory: q } } })] }),
    R.INVALID_QUANTITY,
    'spec.containers[0].resources.limits.memory',
  ]),
  [
    'cpu request -1 on an init container',
    pod({ initContainers: [container({ name: 'i', resources: { requests: { cpu: '-1' } } })] }),
    R.INVALID_QUANTITY,
    'spec.initContainers[0].resources.requests.cpu',
  ],
  ...([0, 70000, '70000'] as const).map((port): [string, V1Pod, RefusalReason, string] => [
    `liveness probe port ${port}`,
    pod({ containers: [container({ livenessProbe: { httpGet: { path: '/', port } } })] }),
    R.INVALID_PORT,
    'spec.containers[0].livenessProbe.httpGet.port',
  ]),
  [
    'readiness tcp port 0',
    pod({ containers: [container({ readinessProbe: { tcpSocket: { port: 0 } } })] }),
    R.INVALID_PORT,
    'spec.containers[0].readinessProbe.tcpSocket.port',
  ],
  [
    'preStop port 70000',
    pod({ containers: [container({ lifecycle: { preStop: { httpGet: { port: 70000 } } } })] }),
    R.INVALID_PORT,
    'spec.containers[0].lifecycle.preStop.httpGet.port',
  ],
  [
    'container port 0',
    pod({ containers: [container({ ports: [{ containerPort: 0 }] })] }),
    R.INVALID_PORT,
    'spec.containers[0].ports[0].containerPort',
  ],
  [
    'an annotation that is not a string',
    pod({}, { annotations: { 'k8s.aliyun.com/eci-use-specs': 2 as never } }),
    R.INVALID_SPEC,
    "metadata.annotations['k8s.aliyun.com/eci-use-specs']",
  ],
  ['windows', pod({ os: { name: 'windows' } }), R.WINDOWS, 'spec.os.name'],
  [
    'daemonset',
    pod({}, { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: 'u' }] }),
    R.DAEMONSET,
    'metadata.ownerReferences[0]',
  ],
  ['hostNetwork', pod({ hostNetwork: true }), R.HOST_NETWORK, 'spec.hostNetwork'],
  ['hostPID', pod({ hostPID: true }), R.HOST_PID, 'spec.hostPID'],
  ['hostIPC', pod({ hostIPC: true }), R.HOST_IPC, 'spec.hostIPC'],
  [
    'ephemeral containers',
    pod({ ephemeralContainers: [{ name: 'dbg', image: 'busybox' }] }),
    R.EPHEMERAL_CONTAINERS,
    'spec.ephemeralContainers',
  ],
  ['21 containers', pod({ containers: many(21) }), R.TOO_MANY_CONTAINERS, 'spec.containers'],
  ['21 init containers', pod({ initContainers: many(21) }), R.TOO_MANY_CONTAINERS, 'spec.initContainers'],
  [
    '21 volumes',
    pod({ volumes: Array.from({ length: 21 }, (_, i) => ({ name: `v${i}`, emptyDir: {} })) }),
    R.TOO_MANY_VOLUMES,
    'spec.volumes',
  ],
  [
    'hostPath',
    pod({ volumes: [{ name: 'h', hostPath: { path: '/var' } }] }),
    R.HOST_PATH,
    'spec.volumes[0].hostPath',
  ],
  [
    'persistentVolumeClaim',
    pod({ volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'c' } }] }),
    R.VOLUME_TYPE,
    'spec.volumes[0].persistentVolumeClaim',
  ],
  ['csi', pod({ volumes: [{ name: 'd', csi: { driver: 'x' } }] }), R.VOLUME_TYPE, 'spec.volumes[0].csi'],
  [
    'gitRepo',
    pod({ volumes: [{ name: 'g', gitRepo: { repository: 'r' } }] }),
    R.VOLUME_TYPE,
    'spec.volumes[0].gitRepo',
  ],
  ['bare volume', pod({ volumes: [{ name: 'x' }] }), R.VOLUME_TYPE, 'spec.volumes[0]'],
  [
    'hugepages emptyDir',
    pod({ volumes: [{ name: 'h', emptyDir: { medium: 'HugePages' } }] }),
    R.EMPTY_DIR_MEDIUM,
    'spec.volumes[0].emptyDir.medium',
  ],
  [
    'clusterTrustBundle projection',
    pod({ volumes: [{ name: 'p', projected: { sources: [{ clusterTrustBundle: { path: 'ca' } }] } }] }),
    R.PROJECTION,
    'spec.volumes[0].projected.sources[0]',
  ],
  ['resource claims', pod({ resourceClaims: [{ name: 'gpu' }] }), R.RESOURCE_CLAIMS, 'spec.resourceClaims'],
  [
    'sidecar init container',
    pod({ initContainers: [container({ name: 'proxy', restartPolicy: 'Always' })] }),
    R.SIDECAR,
    'spec.initContainers[0].restartPolicy',
  ],
  [
    'privileged',
    pod({ containers: [container({ securityContext: { privileged: true } })] }),
    R.PRIVILEGED,
    'spec.containers[0].securityContext.privileged',
  ],
  [
    'privileged init',
    pod({ initContainers: [container({ name: 'i', securityContext: { privileged: true } })] }),
    R.PRIVILEGED,
    'spec.initContainers[0].securityContext.privileged',
  ],
  [
    'SYS_ADMIN',
    pod({
      containers: [container({ securityContext: { capabilities: { add: ['NET_ADMIN', 'SYS_ADMIN'] } } })],
    }),
    R.CAPABILITY,
    'spec.containers[0].securityContext.capabilities.add',
  ],
  [
    'unknown sysctl',
    pod({ securityContext: { sysctls: [{ name: 'kernel.pid_max', value: '1' }] } }),
    R.SYSCTL,
    'spec.securityContext.sysctls[0]',
  ],
  [
    'hostPort',
    pod({ containers: [container({ ports: [{ containerPort: 80, hostPort: 8080 }] })] }),
    R.HOST_PORT,
    'spec.containers[0].ports[0].hostPort',
  ],
  [
    'SCTP',
    pod({ containers: [container({ ports: [{ containerPort: 80, protocol: 'SCTP' }] })] }),
    R.PROTOCOL,
    'spec.containers[0].ports[0].protocol',
  ],
  [
    'raw block device',
    pod({ containers: [container({ volumeDevices: [{ name: 'd', devicePath: '/dev/x' }] })] }),
    R.VOLUME_DEVICE,
    'spec.containers[0].volumeDevices',
  ],
  [
    'gRPC probe',
    pod({ containers: [container({ livenessProbe: { grpc: { port: 9000 } } })] }),
    R.PROBE,
    'spec.containers[0].livenessProbe.grpc',
  ],
  [
    'unknown named probe port',
    pod({ containers: [container({ readinessProbe: { httpGet: { port: 'web' } } })] }),
    R.PORT_NAME,
    'spec.containers[0].readinessProbe',
  ],
  [
    'unknown named hook port',
    pod({ containers: [container({ lifecycle: { preStop: { tcpSocket: { port: 'x' } } } })] }),
    R.PORT_NAME,
    'spec.containers[0].lifecycle.preStop',
  ],
  [
    'bad annotation',
    pod({}, { annotations: { 'k8s.aliyun.com/eci-use-specs': 'huge' } }),
    R.ANNOTATION,
    "metadata.annotations['k8s.aliyun.com/eci-use-specs']",
  ],
  [
    'GPU without instance type',
    pod({ containers: [container({ resources: { limits: { 'nvidia.com/gpu': '1' } } })] }),
    R.GPU_NEEDS_INSTANCE_TYPE,
    "spec.containers[0].resources.limits['nvidia.com/gpu']",
  ],
  [
    'one container too big',
    pod({ containers: [container({ resources: { limits: { cpu: '96', memory: '8Gi' } } })] }),
    R.RESOURCES_TOO_LARGE,
    'spec.containers[0].resources',
  ],
  [
    'sum too big',
    pod({
      containers: [
        container({ name: 'a', resources: { limits: { cpu: '40', memory: '100Gi' } } }),
        container({ name: 'b', resources: { limits: { cpu: '40', memory: '100Gi' } } }),
      ],
    }),
    R.RESOURCES_TOO_LARGE,
    'spec.containers',
  ],
];

test('each refusal rule: the pod ECI cannot run, the field at fault and the code', () => {
  for (const [name, p, reason, field] of refused) {
    const r = validatePod(p);
    assert.ok(r, name);
    assert.equal(r.reason, reason, name);
    assert.equal(r.field, field, name);
    assert.ok(r.message.length > 20, `${name}: the message says why and what to change`);
  }
});

test('every rule is exercised by the table', () => {
  const hit = new Set<string>();
  for (const [, p] of refused) {
    // As validatePod runs them: later rules may rely on the shape the first one checked.
    for (const rule of RULES) {
      if (rule.check(p)) {
        hit.add(rule.name);
        break;
      }
    }
  }
  assert.deepEqual(
    RULES.map((r) => r.name).filter((n) => !hit.has(n)),
    [],
  );
});

const accepted: [string, V1Pod][] = [
  ['plain', pod()],
  [
    '20 containers and 20 volumes',
    pod({
      containers: many(20),
      volumes: Array.from({ length: 20 }, (_, i) => ({ name: `v${i}`, emptyDir: {} })),
    }),
  ],
  [
    'default and NET_ADMIN capabilities',
    pod({
      containers: [
        container({ securityContext: { capabilities: { add: ['CAP_NET_ADMIN', 'NET_RAW', 'chown'] } } }),
      ],
    }),
  ],
  [
    'allowed sysctls',
    pod({
      securityContext: {
        sysctls: [
          { name: 'net.core.somaxconn', value: '1024' },
          { name: 'kernel.shm_rmid_forced', value: '1' },
        ],
      },
    }),
  ],
  ['memory emptyDir', pod({ volumes: [{ name: 'm', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } }] })],
  [
    'named probe port',
    pod({
      containers: [
        container({
          ports: [{ name: 'http', containerPort: 80 }],
          readinessProbe: { httpGet: { port: 'http' } },
        }),
      ],
    }),
  ],
  [
    'GPU with spec annotation',
    pod(
      { containers: [container({ resources: { limits: { 'nvidia.com/gpu': '1' } } })] },
      { annotations: { 'k8s.aliyun.com/eci-use-specs': 'ecs.gn6i-c4g1.xlarge' } },
    ),
  ],
  ['hostPort 0', pod({ containers: [container({ ports: [{ containerPort: 80, hostPort: 0 }] })] })],
  [
    'ReplicaSet owner',
    pod({}, { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u' }] }),
  ],
];

test('pods ECI can run pass', () => {
  for (const [name, p] of accepted) assert.equal(validatePod(p), null, name);
});

test('helpers: capabilities, sysctls, volume source', () => {
  assert.equal(normalizeCapability('cap_net_admin'), 'NET_ADMIN');
  assert.equal(sysctlKind('net.ipv4.ping_group_range'), 'safe');
  assert.equal(sysctlKind('net.core.somaxconn'), 'unsafe');
  assert.equal(sysctlKind('kernel.msgmax'), 'unsafe');
  assert.equal(sysctlKind('vm.swappiness'), null);
  assert.equal(volumeSource({ name: 'x', nfs: { server: 's', path: '/' } }), 'nfs');
});
