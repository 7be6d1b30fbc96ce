import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudError } from '../engine/cloud-errors.ts';
import { Params, unflatten } from './params.ts';
import { readCreateSpec } from './spec.ts';

describe('unflatten', () => {
  const cases: { name: string; flat: Record<string, string>; want: unknown }[] = [
    { name: 'scalars', flat: { RegionId: 'r', Limit: '5' }, want: { RegionId: 'r', Limit: '5' } },
    {
      name: 'lists of structures, ordered by index',
      flat: { 'Tag.2.Key': 'b', 'Tag.1.Key': 'a', 'Tag.1.Value': '1' },
      want: { Tag: [{ Key: 'a', Value: '1' }, { Key: 'b' }] },
    },
    {
      name: 'lists of scalars, sparse indexes compacted',
      flat: { 'NtpServer.3': 'c', 'NtpServer.1': 'a' },
      want: { NtpServer: ['a', 'c'] },
    },
    {
      name: 'nested structures and lists',
      flat: {
        'Container.1.Name': 'c',
        'Container.1.Command.1': 'sh',
        'Container.1.Command.2': '-c',
        'Container.1.LivenessProbe.HttpGet.Port': '80',
        'DnsConfig.NameServer.1': '1.1.1.1',
      },
      want: {
        Container: [{ Name: 'c', Command: ['sh', '-c'], LivenessProbe: { HttpGet: { Port: '80' } } }],
        DnsConfig: { NameServer: ['1.1.1.1'] },
      },
    },
  ];
  for (const c of cases) {
    // The tree's objects have no prototype; compare their content.
    const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x));
    it(c.name, () => assert.deepEqual(plain(unflatten(new Map(Object.entries(c.flat)))), c.want));
  }

  it('keeps __proto__ and constructor as ordinary keys', () => {
    const t = unflatten(
      new Map([
        ['__proto__.DryRun', 'true'],
        ['constructor.prototype.DryRun', 'true'],
      ]),
    );
    assert.equal(Object.getPrototypeOf(t), null);
    assert.deepEqual(Object.keys(t), ['__proto__', 'constructor']);
    assert.equal(({} as Record<string, unknown>).DryRun, undefined);
    const p = new Params(t);
    assert.equal(p.has('toString'), false);
    assert.equal(p.string('hasOwnProperty'), undefined);
  });
});

function errorOf(fn: () => unknown): CloudError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CloudError) return e;
    throw e;
  }
  throw new Error('expected a CloudError');
}

describe('Params', () => {
  const p = Params.fromFlat(
    new Map([
      ['Limit', '21'],
      ['Bad', 'x'],
      ['Flag', 'yes'],
      ['Ids', '["a","b"]'],
      ['Tag.1.Key', 'k'],
    ]),
  );

  it('reads typed values and reports the cloud errors', () => {
    assert.equal(p.int('Limit'), 21);
    assert.equal(errorOf(() => p.int('Limit', { max: 20 })).code, 'InvalidParameter');
    assert.equal(errorOf(() => p.int('Bad')).code, 'InvalidParameter');
    assert.equal(errorOf(() => p.bool('Flag')).code, 'InvalidParameter');
    assert.equal(errorOf(() => p.requiredString('Missing')).code, 'MissingParameter');
    assert.deepEqual(p.jsonStrings('Ids'), ['a', 'b']);
    assert.equal(errorOf(() => p.jsonStrings('Ids', 1)).code, 'InvalidParameter.ValueExceeded');
    assert.equal(errorOf(() => p.jsonStrings('Bad')).code, 'InvalidParameter');
    assert.equal(p.list('Tag')[0]?.requiredString('Key'), 'k');
  });

  it('names nested parameters in messages', () => {
    const spec = Params.fromFlat(new Map([['Container.1.Name', 'c']]));
    const e = errorOf(() => readCreateSpec(spec));
    assert.equal(e.code, 'MissingParameter');
    assert.match(e.message, /"Container\.1\.Image"/);
  });
});

describe('readCreateSpec', () => {
  it('reads containers, probes, env and group resources', () => {
    const spec = readCreateSpec(
      Params.fromFlat(
        new Map([
          ['Container.1.Name', 'web'],
          ['Container.1.Image', 'nginx'],
          ['Container.1.Cpu', '0.5'],
          ['Container.1.Memory', '1'],
          ['Container.1.Port.1.Port', '80'],
          ['Container.1.EnvironmentVar.1.Key', 'A'],
          ['Container.1.EnvironmentVar.1.Value', '1'],
          ['Container.1.ReadinessProbe.InitialDelaySeconds', '3'],
          ['Container.1.ReadinessProbe.TcpSocket.Port', '80'],
          ['Container.2.Name', 'side'],
          ['Container.2.Image', 'busybox'],
          ['Container.2.Command.1', 'sleep'],
          ['Container.2.Arg.1', '10'],
          ['RestartPolicy', 'OnFailure'],
        ]),
      ),
    );
    assert.equal(spec.containers.length, 2);
    assert.equal(spec.restartPolicy, 'OnFailure');
    assert.deepEqual(spec.containers[0]!.env, [{ key: 'A', value: '1' }]);
    assert.deepEqual(spec.containers[0]!.readinessProbe, { initialDelaySeconds: 3, tcpSocket: { port: 80 } });
    assert.deepEqual(spec.containers[1]!.command, ['sleep']);
    assert.deepEqual(spec.containers[1]!.args, ['10']);
    assert.equal(spec.cpu, 0.5);
    assert.equal(spec.memory, 1);
  });

  it('rejects duplicate names and bad enums', () => {
    const dup = new Map([
      ['Container.1.Name', 'a'],
      ['Container.1.Image', 'x'],
      ['Container.2.Name', 'a'],
      ['Container.2.Image', 'y'],
    ]);
    assert.equal(errorOf(() => readCreateSpec(Params.fromFlat(dup))).code, 'InvalidParameter');
    const policy = new Map([
      ['Container.1.Name', 'a'],
      ['Container.1.Image', 'x'],
      ['RestartPolicy', 'Sometimes'],
    ]);
    assert.equal(errorOf(() => readCreateSpec(Params.fromFlat(policy))).code, 'InvalidParameter');
  });
});
