// The live configuration against an in-memory API server and a fake clock: eci-profile applied and
// refused while the controller runs, and the AccessKey secret rotated without a restart.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { EventTarget, EventType } from '../kube/events.ts';
import { FakeClock } from '../../test/support/fake-clock.ts';
import { FakeKube } from '../../test/support/fake-kube.ts';
import { settle, turns } from '../../test/support/turns.ts';
import { CREDENTIALS_NAMESPACE, CREDENTIALS_SECRET, LiveConfig, type Credentials } from './live-config.ts';

const START = Date.parse('2026-01-01T00:00:00Z');
const PROFILE = 'kube-system/eci-profile';
const SECRET = `${CREDENTIALS_NAMESPACE}/${CREDENTIALS_SECRET}`;

const profile = (data: Record<string, string>): V1ConfigMap => ({
  metadata: { name: 'eci-profile', namespace: 'kube-system' },
  data,
});
const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (id: string, key: string): V1Secret => ({
  metadata: { name: CREDENTIALS_SECRET, namespace: CREDENTIALS_NAMESPACE },
  data: { 'access-key-id': b64(id), 'access-key-secret': b64(key) },
});

interface Harness {
  kube: FakeKube;
  clock: FakeClock;
  live: LiveConfig<string>;
  events: { type: EventType; reason: string; message: string; target: EventTarget }[];
  rotations: (Credentials | undefined)[];
  /** Every log line written, as JSON text. */
  logs: string[];
  run: () => Promise<void>;
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

function harness(o: { seed?: (kube: FakeKube) => void; envCredentials?: Credentials } = {}): Harness {
  const clock = new FakeClock(START);
  const kube = new FakeKube({ now: () => clock.now() });
  o.seed?.(kube);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const events: Harness['events'] = [];
  const live = new LiveConfig<string>({
    kube: kube.clients,
    events: {
      record: async (target, type, reason, message) => {
        events.push({ target, type, reason, message });
      },
    },
    clock,
    log: pino({ level: 'debug' }, sink),
    // The webhook's real parser is tested with it; here any JSON array of strings will do.
    parseSelectors: (json) => {
      const v = JSON.parse(json) as unknown;
      if (!Array.isArray(v)) throw new Error('must be a JSON array');
      return v.map(String);
    },
    envCredentials: o.envCredentials,
  });
  const rotations: Harness['rotations'] = [];
  return {
    kube,
    clock,
    live,
    events,
    rotations,
    logs,
    run: async () => {
      await live.load();
      // Registered after load, as the controller does: what load found is the start, not a rotation.
      live.onCredentialsChange((c) => rotations.push(c));
      const ac = new AbortController();
      const running = live.run(ac.signal);
      stops.push(async () => {
        ac.abort();
        await running;
      });
      await settle('watching', () => kube.calls.filter((c) => c.startsWith('watch')).length >= 1);
      await turns();
    },
  };
}

describe('LiveConfig: eci-profile', () => {
  test('no profile and no secret: defaults from the environment, no credentials, no complaint', async () => {
    const h = harness();
    await h.run();
    assert.deepEqual(h.live.profile(), { selectors: [] });
    assert.equal(h.live.credentials(), undefined);
    assert.equal(h.events.length, 0);
  });

  test('a profile present at start is in force after load, and a change applies without a restart', async () => {
    const h = harness({
      seed: (k) => k.put('configmaps', profile({ vSwitchIds: 'vsw-a', securityGroupId: 'sg-1' })),
    });
    await h.run();
    assert.deepEqual(h.live.profile().vSwitchIds, ['vsw-a']);
    h.kube.put(
      'configmaps',
      profile({ vSwitchIds: 'vsw-b, vsw-c', securityGroupId: 'sg-2', selectors: '["x"]' }),
    );
    await settle('applied', () => h.live.profile().securityGroupId === 'sg-2');
    assert.deepEqual(h.live.profile().vSwitchIds, ['vsw-b', 'vsw-c']);
    assert.deepEqual(h.live.profile().selectors, ['x']);
  });

  test('a bad profile is refused with a Warning naming the key, and the last good one stays', async () => {
    const h = harness({
      seed: (k) => k.put('configmaps', profile({ vSwitchIds: 'vsw-a', securityGroupId: 'sg-1' })),
    });
    await h.run();
    h.kube.put('configmaps', profile({ vSwitchIds: 'vsw-b', securityGroupId: 'default' }));
    await settle('refused', () => h.events.length === 1);
    const e = h.events[0]!;
    assert.equal(e.type, 'Warning');
    assert.equal(e.reason, 'InvalidProfile');
    assert.deepEqual([e.target.kind, `${e.target.namespace}/${e.target.name}`], ['ConfigMap', PROFILE]);
    assert.match(e.message, /eci-profile key "securityGroupId": must be a security group ID like sg-xxx/);
    assert.match(e.message, /the previous profile stays in force/);
    assert.deepEqual(h.live.profile().vSwitchIds, ['vsw-a'], 'no half-applied profile: vSwitches kept too');
    assert.equal(h.live.profile().securityGroupId, 'sg-1');
  });

  test('selectors that do not parse are refused by name as well', async () => {
    const h = harness();
    await h.run();
    h.kube.put('configmaps', profile({ selectors: '{"not": "a list"}' }));
    await settle('refused', () => h.events.length === 1);
    assert.match(h.events[0]!.message, /key "selectors": must be a JSON array/);
    assert.deepEqual(h.live.profile().selectors, []);
  });

  test('the same bad version is reported once; a new bad version again; a fix clears it', async () => {
    const h = harness();
    await h.run();
    h.kube.put('configmaps', profile({ enableClusterIp: 'maybe' }));
    await settle('refused', () => h.events.length === 1);
    // The watch ends and its history is compacted: the relist hands over the same object (same
    // resourceVersion) again, which must not post a second Event.
    const lists = h.kube.count('listNamespacedConfigMap');
    h.kube.closeWatches();
    // Other objects change meanwhile, so the watch's last resourceVersion is older than what is kept.
    h.kube.put('configmaps', { metadata: { name: 'other', namespace: 'default' }, data: {} });
    h.kube.compact();
    for (let i = 0; i < 4 && h.kube.count('listNamespacedConfigMap') === lists; i++) {
      await h.clock.advance(1000);
      await turns();
    }
    assert.ok(h.kube.count('listNamespacedConfigMap') > lists, 'relisted');
    await turns(100);
    assert.equal(h.events.length, 1);
    h.kube.put('configmaps', profile({ enableClusterIp: 'perhaps' }));
    await settle('a new version is reported', () => h.events.length === 2);
    h.kube.put('configmaps', profile({ enableClusterIp: 'false' }));
    await settle('fixed', () => h.live.profile().enableClusterIp === false);
    h.kube.put('configmaps', profile({ enableClusterIp: 'maybe' }));
    await settle('the old mistake again is reported again', () => h.events.length === 3);
  });

  test('a deleted profile falls back to the environment', async () => {
    const h = harness({ seed: (k) => k.put('configmaps', profile({ vSwitchIds: 'vsw-a' })) });
    await h.run();
    h.kube.delete('configmaps', PROFILE);
    await settle('fallen back', () => h.live.profile().vSwitchIds === undefined);
    assert.equal(h.events.length, 0);
  });
});

describe('LiveConfig: credentials', () => {
  test('the secret is loaded at start, and a rotation reaches the listeners without a restart', async () => {
    const h = harness({ seed: (k) => k.put('secrets', secret('LTAI-one', 'secret-one')) });
    await h.run();
    assert.deepEqual(h.live.credentials(), { accessKeyId: 'LTAI-one', accessKeySecret: 'secret-one' });
    h.kube.put('secrets', secret('LTAI-two', 'secret-two'));
    await settle('rotated', () => h.rotations.length === 1);
    assert.deepEqual(h.rotations[0], { accessKeyId: 'LTAI-two', accessKeySecret: 'secret-two' });
    assert.deepEqual(h.live.credentials(), h.rotations[0]);
  });

  test('a secret written again with the same keys is not a rotation', async () => {
    const h = harness({ seed: (k) => k.put('secrets', secret('LTAI-one', 'secret-one')) });
    await h.run();
    const s = h.kube.get<V1Secret>('secrets', SECRET)!;
    h.kube.put('secrets', { ...s, metadata: { ...s.metadata, labels: { touched: 'yes' } } });
    await settle('seen', () => h.kube.get<V1Secret>('secrets', SECRET)?.metadata?.labels?.touched === 'yes');
    await turns(100);
    assert.equal(h.rotations.length, 0);
  });

  test('a secret that loses its keys is reported as no credentials, and restoring them rotates back', async () => {
    const h = harness({ seed: (k) => k.put('secrets', secret('LTAI-one', 'secret-one')) });
    await h.run();
    h.kube.put('secrets', {
      metadata: { name: CREDENTIALS_SECRET, namespace: CREDENTIALS_NAMESPACE },
      data: {},
    });
    await settle('lost', () => h.rotations.length === 1);
    assert.equal(h.rotations[0], undefined);
    h.kube.put('secrets', secret('LTAI-one', 'secret-one'));
    await settle('restored', () => h.rotations.length === 2);
    assert.equal(h.rotations[1]?.accessKeyId, 'LTAI-one');
  });

  test('credentials from the environment win: the secret is neither read nor watched', async () => {
    const env = { accessKeyId: 'LTAI-env', accessKeySecret: 'env-secret' };
    const h = harness({
      envCredentials: env,
      seed: (k) => k.put('secrets', secret('LTAI-one', 'secret-one')),
    });
    await h.run();
    assert.deepEqual(h.live.credentials(), env);
    assert.equal(h.kube.count('readNamespacedSecret'), 0);
    assert.equal(h.kube.count('listNamespacedSecret'), 0);
    h.kube.put('secrets', secret('LTAI-two', 'secret-two'));
    await turns(100);
    assert.equal(h.rotations.length, 0);
    assert.deepEqual(h.live.credentials(), env);
  });

  test('no AccessKey secret ever reaches the log', async () => {
    const h = harness({ seed: (k) => k.put('secrets', secret('LTAI-one', 'very-secret-one')) });
    await h.run();
    h.kube.put('secrets', secret('LTAI-two', 'very-secret-two'));
    await settle('rotated', () => h.rotations.length === 1);
    assert.ok(
      h.logs.some((l) => l.includes('ECI credentials (re)loaded')),
      'the rotation was logged',
    );
    assert.ok(!h.logs.some((l) => l.includes('very-secret')), 'without the secret');
  });
});
