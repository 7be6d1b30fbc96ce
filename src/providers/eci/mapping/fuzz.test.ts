import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { parseProfile } from '../../../config/profile.ts';
import { parseSelectors } from '../../../webhook/selectors.ts';
import { configMap, ctx, pod, refs, secret } from '../../../../test/support/eci-mapping-fixtures.ts';
import { podToCreateRequest } from './pod-to-group.ts';
import { validatePod } from './validate.ts';

/**
 * Odd pod specs and eci-profiles, generated from a seed: each is a valid pod (or profile) with a few
 * fields replaced by nulls, wrong types, out-of-range numbers, broken quantities, prototype keys or
 * oversized values. The mapping must never throw: it builds a request, waits for a missing object, or
 * refuses naming the field at fault. The seed is printed so a failure can be replayed.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20260511);
const PODS = Number(process.env.FUZZ_PODS ?? 300);
const PROFILES = Number(process.env.FUZZ_PROFILES ?? 100);

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rich(): V1Pod {
  return pod(
    {
      initContainers: [{ name: 'init', image: 'busybox', command: ['sh', '-c', 'true'] }],
      containers: [
        {
          name: 'app',
          image: 'nginx:1.27',
          command: ['nginx'],
          args: ['-g', 'daemon off;'],
          env: [
            { name: 'A', value: 'a' },
            { name: 'FROM_CM', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } },
            { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'password' } } },
            { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          envFrom: [{ configMapRef: { name: 'cm' } }],
          ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
          resources: { limits: { cpu: '500m', memory: '1Gi' }, requests: { cpu: '250m', memory: '512Mi' } },
          livenessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 10 },
          readinessProbe: { tcpSocket: { port: 80 } },
          lifecycle: { preStop: { exec: { command: ['sleep', '1'] } } },
          volumeMounts: [
            { name: 'data', mountPath: '/data' },
            { name: 'cfg', mountPath: '/etc/cfg' },
          ],
          securityContext: { runAsUser: 1000, capabilities: { add: ['NET_ADMIN'] } },
        },
      ],
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'cfg', configMap: { name: 'cm' } },
      ],
      dnsConfig: { nameservers: ['1.1.1.1'], searches: ['a.b'], options: [{ name: 'ndots', value: '2' }] },
      hostAliases: [{ ip: '10.0.0.1', hostnames: ['db'] }],
      securityContext: { sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }] },
    },
    { annotations: { 'k8s.aliyun.com/eci-use-specs': '2-4Gi' }, labels: { app: 'web' } },
  );
}

const ODD: ((r: () => number) => unknown)[] = [
  () => null,
  () => undefined,
  () => '',
  () => 'abc',
  () => -1,
  () => 0,
  () => 70_000,
  () => Number.POSITIVE_INFINITY,
  () => Number.NaN,
  () => true,
  () => [],
  () => [null],
  () => ({}),
  () => ({ __proto__: { polluted: true } }),
  () => JSON.parse('{"__proto__": {"x": 1}, "constructor": {"prototype": {"y": 2}}}'),
  () => '1.5.5Gi',
  () => '-1',
  () => '10Xi',
  () => 'x'.repeat(100_000),
  () => '\u0000\uffff\ud800',
  (r) => Array.from({ length: 100 + Math.floor(r() * 200) }, (_, i) => ({ name: `n${i}` })),
  (r) => Math.floor(r() * 2 ** 40) - 2 ** 39,
];

/** Every path to a value in `o` (objects and arrays), so a mutation can land anywhere. */
function paths(
  o: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  if (o === null || typeof o !== 'object') return out;
  for (const [k, v] of Object.entries(o)) {
    const p = [...prefix, Array.isArray(o) ? Number(k) : k];
    out.push(p);
    paths(v, p, out);
  }
  return out;
}

function setPath(o: unknown, path: (string | number)[], value: unknown): void {
  let node = o as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

function oddPod(r: () => number): { pod: V1Pod; changed: string[] } {
  const p = rich();
  const changed: string[] = [];
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const all = paths(p).filter((x) => x[0] !== 'apiVersion' && x[0] !== 'kind');
    if (all.length === 0) break;
    const target = all[Math.floor(r() * all.length)]!;
    const value = ODD[Math.floor(r() * ODD.length)]!(r);
    try {
      setPath(p, target, value);
      changed.push(target.join('.'));
    } catch {
      // The path went away with an earlier mutation.
    }
  }
  return { pod: p, changed };
}

const FIELD = /^(spec|metadata)([.[]|$)/;

describe(`odd pod specs (seed ${SEED})`, () => {
  it(`${PODS} mutated pods: never a throw; built, waiting, or refused naming a field`, () => {
    const r = rng(SEED);
    const outcomes = { ok: 0, refused: 0, missing: 0 };
    const context = ctx({
      refs: refs({
        configMaps: [configMap('cm', { k: 'v' })],
        secrets: [secret('s', { password: 'hunter2-secret' })],
      }),
    });
    for (let i = 0; i < PODS; i++) {
      const { pod: p, changed } = oddPod(r);
      const where = `case ${i} (changed ${changed.join(', ')})`;
      let result: ReturnType<typeof podToCreateRequest>;
      try {
        validatePod(p);
        result = podToCreateRequest(p, context);
      } catch (err) {
        assert.fail(`${where} threw: ${(err as Error).stack}`);
      }
      if (result.ok) outcomes.ok++;
      else if ('refusal' in result) {
        outcomes.refused++;
        assert.match(
          result.refusal.field,
          FIELD,
          `${where}: refusal names no field: ${JSON.stringify(result.refusal)}`,
        );
        assert.ok(result.refusal.message.length > 0, where);
        assert.ok(
          !/\n\s+at /.test(result.refusal.message),
          `${where}: a stack trace in ${result.refusal.message}`,
        );
        assert.ok(
          !result.refusal.message.includes('hunter2-secret'),
          `${where}: a Secret value in the refusal`,
        );
      } else outcomes.missing++;
    }
    assert.ok(
      outcomes.refused > PODS / 4,
      `refused ${outcomes.refused} of ${PODS}: the mutations reach the checks`,
    );
    console.log(`mapping fuzz: ${PODS} pods, ${JSON.stringify(outcomes)}`);
  });

  it(`${PROFILES} mutated eci-profiles: parsed, or refused naming the key`, () => {
    const r = rng(SEED + 1);
    const base = {
      vSwitchIds: 'vsw-a,vsw-b',
      securityGroupId: 'sg-1',
      enableClusterIp: 'true',
      selectors: JSON.stringify([
        { name: 's', objectSelector: { matchLabels: { a: 'b' } }, effect: { annotations: { x: 'y' } } },
      ]),
    };
    let refused = 0;
    for (let i = 0; i < PROFILES; i++) {
      const data: Record<string, unknown> = { ...base };
      const key = Object.keys(base)[Math.floor(r() * 4)]!;
      const odd = ODD[Math.floor(r() * ODD.length)]!(r);
      data[key] = r() < 0.5 ? odd : (JSON.stringify(odd) ?? String(odd));
      if (key === 'selectors' && r() < 0.5) {
        const sel = JSON.parse(base.selectors) as unknown[];
        const all = paths(sel);
        setPath(sel, all[Math.floor(r() * all.length)]!, odd);
        data.selectors = JSON.stringify(sel);
      }
      try {
        parseProfile(data as Record<string, string>, parseSelectors);
      } catch (err) {
        refused++;
        const e = err as Error & { key?: string };
        assert.equal(e.name, 'ProfileError', `case ${i} (${key}) threw ${e.stack}`);
        assert.ok(e.message.includes(key), `case ${i}: ${e.message} names ${key}`);
      }
    }
    console.log(`profile fuzz: ${PROFILES} profiles, ${refused} refused`);
  });
});
