import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentile, raceChartSvg, raceTable, requestsTable, ticks, type RaceRun } from './race-report.ts';

function run(peer: string, pods: number, seconds: number, extra: Partial<RaceRun> = {}): RaceRun {
  const ready = Array.from({ length: pods }, (_, i) => ((i + 1) / pods) * seconds);
  return {
    peer,
    label: peer === 'kwok' ? 'KWOK' : peer,
    pods,
    ready,
    latencies: ready.map((t) => t / 2),
    seconds,
    deleteSeconds: 3,
    peakRssMiB: 100,
    peerCpu: 4,
    apiserverCpu: 10,
    requests: new Map([
      ['POST pods', pods],
      ['PATCH pods/status', pods],
    ]),
    notes: [],
    ...extra,
  };
}

test('percentile is nearest-rank over ascending values', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 51);
  assert.equal(percentile(xs, 99), 100);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('the race table gives each figure its ratio to KWOK and to VK tuned at the same pod count', () => {
  const runs = [
    run('kwok', 1000, 5),
    run('vk-tuned', 1000, 4, { peakRssMiB: 150 }),
    run('vk', 1000, 200),
    run('ours', 1000, 20, {
      peakRssMiB: 500,
      peerCpu: 14,
      requests: new Map([
        ['POST pods', 1000],
        ['PATCH pods/status', 2000],
        ['POST events', 3000],
      ]),
    }),
    // Another pod count: compared with its own KWOK only.
    run('kwok', 5000, 50),
    run('ours', 5000, 100, { ready: [1, 2], deleteSeconds: null }),
  ];
  const table = raceTable(runs);
  const rows = table.split('\n');
  assert.equal(rows.length, 2 + runs.length);
  const ours1k = rows.find((r) => r.startsWith('| ours ') && r.includes(' 1,000 '))!;
  // 50 pods/s against KWOK's 200 and VK tuned's 250.
  assert.match(ours1k, /\| 50\.0 \(÷K 0\.25, ÷V 0\.20\)/);
  assert.match(ours1k, /\| 500 \(÷K 5\.00, ÷V 3\.33\)/);
  assert.match(ours1k, /\| 14\.0 \(÷K 3\.50, ÷V 3\.50\)/);
  assert.match(ours1k, /\| 6\.0 \(÷K 3\.00, ÷V 3\.00\) \|$/);
  // KWOK has no ratio to itself.
  assert.match(
    rows.find((r) => r.startsWith('| KWOK ') && r.includes(' 1,000 '))!,
    /\| 200\.0 \(÷V 0\.80\)/,
  );
  const ours5k = rows.find((r) => r.startsWith('| ours ') && r.includes(' 5,000 '))!;
  assert.match(ours5k, /100\.0 \(2 Ready\)/);
  assert.match(ours5k, /not all gone/);
  assert.match(ours5k, /\| 0\.0 \(÷K 0\.00\)/);
});

test('requests per pod by verb and resource: largest first, a column per run, and the total', () => {
  const table = requestsTable([
    run('kwok', 100, 1),
    run('ours', 100, 2, {
      requests: new Map([
        ['POST pods', 100],
        ['POST events', 300],
        ['GET secrets', 1],
        // Under 0.01 per pod: left out of the rows, counted in the total.
        ['GET configmaps', 0.4],
      ]),
    }),
  ]);
  const rows = table.split('\n');
  assert.match(rows[0]!, /\| requests per pod +\| KWOK 100 \| ours 100 \|/);
  assert.deepEqual(
    rows.slice(2).map((r) =>
      r
        .split('|')
        .map((c) => c.trim())
        .filter(Boolean),
    ),
    [
      ['POST events', '0.00', '3.00'],
      ['POST pods', '1.00', '1.00'],
      ['PATCH pods/status', '1.00', '0.00'],
      ['GET secrets', '0.00', '0.01'],
      ['all', '2.00', '4.01'],
    ],
  );
});

test('ticks are round steps up to the maximum', () => {
  assert.deepEqual(ticks(72.5), [0, 20, 40, 60]);
  assert.deepEqual(ticks(1000, 4), [0, 500, 1000]);
  assert.deepEqual(ticks(0.9), [0, 0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(ticks(0), [0]);
});

test('the chart has a panel per pod count and a line per run, and escapes what it prints', () => {
  const svg = raceChartSvg(
    [run('kwok', 1000, 5), run('ours', 1000, 20, { label: 'ours <tuned> & co' }), run('kwok', 5000, 40)],
    'race',
  );
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>$/);
  assert.equal(svg.match(/<polyline /g)?.length, 3);
  assert.match(svg, /1,000 pods: Running\+Ready over time/);
  assert.match(svg, /5,000 pods: Running\+Ready over time/);
  assert.match(svg, /ours &lt;tuned&gt; &amp; co \(50\.0\/s\)/);
  assert.doesNotMatch(svg, /NaN/);
  // A 10,000-pod line stays a few hundred points.
  const big = raceChartSvg([run('kwok', 10_000, 70)], 'race');
  const points = /points="([^"]*)"/.exec(big)![1]!.split(' ').length;
  assert.ok(points <= 700, `${points} points`);
});
