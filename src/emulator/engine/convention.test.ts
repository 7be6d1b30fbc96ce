import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interpret, parseDuration, planContainerRun, type RunPlan, splitWords } from './convention.ts';

describe('the exit-code convention', () => {
  const cases: {
    name: string;
    command?: string[];
    args?: string[];
    env?: Record<string, string>;
    want: RunPlan;
  }[] = [
    { name: 'no command runs forever', want: { kind: 'forever', output: [] } },
    {
      name: 'an unknown program runs forever',
      command: ['nginx', '-g', 'daemon off;'],
      want: { kind: 'forever', output: [] },
    },
    { name: 'true', command: ['true'], want: { kind: 'exits', runMs: 0, exitCode: 0, output: [] } },
    {
      name: '/bin/false',
      command: ['/bin/false'],
      want: { kind: 'exits', runMs: 0, exitCode: 1, output: [] },
    },
    {
      name: 'sleep',
      command: ['sleep'],
      args: ['2'],
      want: { kind: 'exits', runMs: 2000, exitCode: 0, output: [] },
    },
    {
      name: 'echo',
      command: ['echo', 'hi', 'there'],
      want: { kind: 'exits', runMs: 0, exitCode: 0, output: ['hi there'] },
    },
    {
      name: 'sh -c exit N',
      command: ['sh', '-c', 'exit 3'],
      want: { kind: 'exits', runMs: 0, exitCode: 3, output: [] },
    },
    {
      name: 'a script of known statements',
      command: ['/bin/bash', '-c'],
      args: ['echo "a b"; sleep 1.5 && echo done; exit 7'],
      want: { kind: 'exits', runMs: 1500, exitCode: 7, output: ['a b', 'done'] },
    },
    {
      name: '&& stops at a failure and the last status is the exit code',
      command: ['sh', '-c', 'false && echo never'],
      want: { kind: 'exits', runMs: 0, exitCode: 1, output: [] },
    },
    {
      name: '|| runs on failure',
      command: ['sh', '-ec', 'false || echo fallback'],
      want: { kind: 'exits', runMs: 0, exitCode: 0, output: ['fallback'] },
    },
    {
      name: 'a script with an unknown statement runs forever (keeping earlier output)',
      command: ['sh', '-c', 'echo starting; exec my-server'],
      want: { kind: 'forever', output: ['starting'] },
    },
    {
      name: 'the environment wins over the command',
      command: ['nginx'],
      env: { ECI_EMULATOR_EXIT_CODE: '4', ECI_EMULATOR_RUN_SECONDS: '0.5' },
      want: { kind: 'exits', runMs: 500, exitCode: 4, output: [] },
    },
    {
      name: 'ECI_EMULATOR_EXIT_CODE alone runs the default time',
      env: { ECI_EMULATOR_EXIT_CODE: '0' },
      want: { kind: 'exits', runMs: 1000, exitCode: 0, output: [] },
    },
    {
      name: 'ECI_EMULATOR_RUN_SECONDS alone exits 0',
      env: { ECI_EMULATOR_RUN_SECONDS: '3' },
      want: { kind: 'exits', runMs: 3000, exitCode: 0, output: [] },
    },
    {
      name: 'malformed env values are ignored',
      command: ['true'],
      env: { ECI_EMULATOR_EXIT_CODE: 'x' },
      want: { kind: 'exits', runMs: 0, exitCode: 0, output: [] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const env = Object.entries(c.env ?? {}).map(([key, value]) => ({ key, value }));
      assert.deepEqual(planContainerRun({ command: c.command ?? [], args: c.args ?? [], env }, 1), c.want);
    });
  }
});

describe('helpers', () => {
  it('parses durations', () => {
    assert.equal(parseDuration('5'), 5000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('0.5s'), 500);
    assert.equal(parseDuration('x'), null);
  });

  it('splits words with quotes', () => {
    assert.deepEqual(splitWords(`echo "a b" 'c d' e`), ['echo', 'a b', 'c d', 'e']);
    assert.equal(splitWords('echo "open'), null);
  });

  it('interprets exec commands', () => {
    assert.deepEqual(interpret(['echo', 'x']), { kind: 'exits', runMs: 0, exitCode: 0, output: ['x'] });
  });
});
