import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runningOverTimeSvg } from '../bench/svg-chart.ts';

test('the benchmark chart draws one stepped line per run, ending at its pod count', () => {
  const svg = runningOverTimeSvg(
    [
      { name: 'eci-virtual-node', runningAtS: [3, 1, 2, 4] },
      { name: 'peer <poll 5 s>', runningAtS: [5, 10] },
    ],
    { title: 'pods Running over time' },
  );
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(paths.length, 2);
  // Four steps up for the first run (sorted by time), two for the second.
  assert.equal(paths[0]!.match(/ V/g)?.length, 4);
  assert.equal(paths[1]!.match(/ V/g)?.length, 2);
  assert.match(svg, /eci-virtual-node \(4 pods, last at 4 s\)/);
  assert.match(svg, /peer &lt;poll 5 s&gt; \(2 pods, last at 10 s\)/, 'names are escaped');
});
