/**
 * Do ECI's template actions save the controller a call or a payload? For three pod shapes it builds
 * the CreateContainerGroup request the controller sends, creates the group, exports it
 * (ExportContainerGroupTemplate), and compares: request bytes on the wire for CreateContainerGroup
 * vs CreateContainerGroupFromTemplate, and for an image update UpdateContainerGroup vs
 * UpdateContainerGroupByTemplate; then the time of N creates each way against the emulator (the
 * official SDK, in-process emulator, quotas off). Calls per pod are counted too.
 *
 *   npx node bench/templates.ts [--creates 200] [--concurrency 8]
 *
 * Prints one line per figure. The emulator is local, so latency differences show the cost of the
 * payload and of parsing it, not the network; bytes are what the network would carry.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { CreateContainerGroupRequest } from '@alicloud/eci20180808';
import OpenApiUtil from '@alicloud/openapi-util';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { startEmulator } from '../src/emulator/server.ts';
import { EciClient } from '../src/providers/eci/eci-client.ts';
import { configMap, container, ctx, pod, refs } from '../test/support/eci-mapping-fixtures.ts';
import { podToCreateRequest, podUpdateToRequest } from '../src/providers/eci/mapping/index.ts';
import { systemClock } from '../src/util/clock.ts';
import { pct } from './harness.ts';

const { values } = parseArgs({
  options: { creates: { type: 'string', default: '200' }, concurrency: { type: 'string', default: '8' } },
});
const CREATES = Number(values.creates);
const CONCURRENCY = Number(values.concurrency);

const log = pino({ level: 'silent' });
const emu = await startEmulator({
  port: 0,
  logger: log,
  config: { logLevel: 'silent', quotas: { enabled: false } },
});
const eci = new EciClient({
  credentials: { accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret },
  regionId: emu.regionId,
  endpoint: emu.endpoint,
  protocol: emu.protocol,
  clock: systemClock,
  log,
  quotaMultiplier: 1000,
});

function appContainer(name: string, envs: number): V1Container {
  return container({
    name,
    image: `registry.example.com/team/${name}:1.4.2`,
    command: ['/bin/app'],
    args: ['--port=8080', '--log-level=info'],
    env: Array.from({ length: envs }, (_, i) => ({ name: `SETTING_${i}`, value: `value-${i}-of-${name}` })),
    ports: [{ containerPort: 8080 }],
    resources: { limits: { cpu: '500m', memory: '512Mi' } },
    readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 },
    livenessProbe: { tcpSocket: { port: 8080 }, initialDelaySeconds: 10 },
    volumeMounts: [{ name: 'config', mountPath: '/etc/app' }],
  });
}

const shapes: { name: string; pod: V1Pod }[] = [
  {
    name: 'small (1 container)',
    pod: pod({ containers: [container({ name: 'web', image: 'nginx:1.27' })] }),
  },
  {
    name: 'typical (2 containers, 10 env, a 2 KiB ConfigMap)',
    pod: pod({
      containers: [appContainer('api', 10), appContainer('sidecar', 10)],
      volumes: [{ name: 'config', configMap: { name: 'app-config' } }],
    }),
  },
  {
    name: 'large (6 containers, 30 env, a 16 KiB ConfigMap)',
    pod: pod({
      containers: Array.from({ length: 6 }, (_, i) => appContainer(`c${i}`, 30)),
      volumes: [{ name: 'config', configMap: { name: 'app-config' } }],
    }),
  },
];

const bytes = (query: Record<string, string>) =>
  Buffer.byteLength(
    Object.entries(query)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&'),
  );
const wire = (model: { toMap(): Record<string, unknown> }) =>
  bytes(OpenApiUtil.default.query(model.toMap()) as Record<string, string>);

let uid = 0;
function requestFor(p: V1Pod, configBytes: number): CreateContainerGroupRequest {
  const r = podToCreateRequest(
    {
      ...p,
      metadata: { ...p.metadata, uid: `00000000-0000-4000-8000-${(++uid).toString().padStart(12, '0')}` },
    },
    ctx({
      vSwitchIds: ['vsw-emulator-h'],
      securityGroupId: 'sg-emulator',
      refs: refs({ configMaps: [configMap('app-config', { 'app.yaml': 'x'.repeat(configBytes) })] }),
    }),
  );
  if (!r.ok) throw new Error(JSON.stringify(r));
  r.request.regionId = emu.regionId;
  return r.request;
}

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < n; i = next++) {
        const t = performance.now();
        await fn(i);
        ms.push(performance.now() - t);
      }
    }),
  );
  return ms.sort((a, b) => a - b);
}

const out = (s: string) => process.stdout.write(`${s}\n`);
out(`templates: ${CREATES} creates per way, concurrency ${CONCURRENCY}`);
for (const [i, shape] of shapes.entries()) {
  const configBytes = [0, 2048, 16384][i]!;
  const req = requestFor(shape.pod, configBytes);
  const createBytes = wire(req);
  const id = await eci.createContainerGroup(req);
  const template = await eci.exportContainerGroupTemplate(id);
  // What CreateContainerGroupFromTemplate carries: the template (without the source group's ID).
  const { ContainerGroupId: _source, ...fresh } = template;
  const fromTemplateBytes = bytes({
    RegionId: emu.regionId,
    Template: JSON.stringify(fresh),
    ClientToken: 'x'.repeat(36),
  });

  // An in-place image update: UpdateContainerGroup with the images vs the whole template again.
  const updated = structuredClone(shape.pod);
  updated.spec!.containers[0]!.image = `${updated.spec!.containers[0]!.image}-next`;
  const upd = podUpdateToRequest(shape.pod, updated, { containerGroupId: id, regionId: emu.regionId });
  const updateBytes = upd ? wire(upd) : 0;
  const byTemplate = structuredClone(template) as { Spec: { Containers: { Image: string }[] } };
  byTemplate.Spec.Containers[0]!.Image = updated.spec!.containers[0]!.image!;
  const byTemplateBytes = bytes({ RegionId: emu.regionId, Template: JSON.stringify(byTemplate) });

  let n = 0;
  // Requests are built before the clock starts: only sending (flatten, sign, HTTP, emulator) is timed.
  const prebuilt = Array.from({ length: CREATES + 20 }, () => requestFor(shape.pod, configBytes));
  const oneDirect = () => eci.createContainerGroup(prebuilt.pop()!);
  const oneTemplate = () => eci.createContainerGroupFromTemplate(fresh, `tpl-${i}-${++n}-${Date.now()}`);
  // Warm both paths up, then alternate rounds so neither gets the cold start or a fuller emulator.
  await timed(20, oneDirect);
  await timed(20, oneTemplate);
  const direct: number[] = [];
  const viaTemplate: number[] = [];
  for (let round = 0; round < 4; round++) {
    direct.push(...(await timed(CREATES / 4, oneDirect)));
    viaTemplate.push(...(await timed(CREATES / 4, oneTemplate)));
  }
  direct.sort((a, b) => a - b);
  viaTemplate.sort((a, b) => a - b);
  await emu.core.reset();
  // Client CPU per request: building and flattening the parameters (before signing and sending).
  const cpu = (fn: () => unknown) => {
    const t = performance.now();
    for (let k = 0; k < 200; k++) fn();
    return (performance.now() - t) / 200;
  };
  const buildDirect = cpu(() => wire(requestFor(shape.pod, configBytes)));
  const buildTemplate = cpu(() => bytes({ Template: JSON.stringify(fresh) }));
  out(`shape: ${shape.name}`);
  out(
    `  client build+flatten ms per request: CreateContainerGroup ${buildDirect.toFixed(2)}, template JSON ${buildTemplate.toFixed(2)} (the template still has to be made from the pod first)`,
  );
  out(
    `  create request bytes: CreateContainerGroup ${createBytes}, CreateContainerGroupFromTemplate ${fromTemplateBytes} (${((fromTemplateBytes / createBytes - 1) * 100).toFixed(0)} %)`,
  );
  out(
    `  image update bytes: UpdateContainerGroup ${updateBytes}, UpdateContainerGroupByTemplate ${byTemplateBytes} (${((byTemplateBytes / Math.max(1, updateBytes) - 1) * 100).toFixed(0)} %)`,
  );
  out(
    `  create latency ms p50/p95: CreateContainerGroup ${pct(direct, 50).toFixed(1)}/${pct(direct, 95).toFixed(1)}, FromTemplate ${pct(viaTemplate, 50).toFixed(1)}/${pct(viaTemplate, 95).toFixed(1)}`,
  );
  out(
    '  calls per new pod: CreateContainerGroup 1; FromTemplate 1, plus an ExportContainerGroupTemplate for each distinct pod spec',
  );
}
await emu.close();
