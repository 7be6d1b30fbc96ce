import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import v8 from 'node:v8';
import { readHeapSnapshot, SnapshotParser, summarizeHeap, topSelfTime } from './profile-summary.ts';

const NODE_TYPES = [
  'hidden',
  'array',
  'string',
  'object',
  'code',
  'closure',
  'regexp',
  'number',
  'native',
  'synthetic',
];
const EDGE_TYPES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'];

/**
 * root ─a→ Holder ─items→ Item(100) ─next→ Item(3)   Item(100) is also reachable weakly from Other: still Holder's.
 * root ─b→ Other        Holder ─d→ Item(50) ←d─ Other: two strong owners, so the root dominates it.
 * root ─s→ Item(1) shortcut only: not retained through the shortcut, so unreachable.
 * Item(50) ─[0]→ (string) 7 bytes, its name full of JSON escapes.
 */
function snapshotJson(): string {
  const strings = [
    '',
    'Holder',
    'Other',
    'Item',
    'a',
    'b',
    'items',
    'd',
    'quote"d \\ back\\',
    '(GC roots)',
    's',
    'next',
  ];
  const s = (x: string) => strings.indexOf(x);
  const t = (x: string) => NODE_TYPES.indexOf(x);
  const e = (x: string) => EDGE_TYPES.indexOf(x);
  const F = 7; // node fields
  // [type, name, id, self_size, edge_count, trace_node_id, detachedness]
  const nodes = [
    [t('synthetic'), s('(GC roots)'), 1, 0, 3],
    [t('object'), s('Holder'), 3, 10, 2],
    [t('object'), s('Other'), 5, 5, 2],
    [t('object'), s('Item'), 7, 100, 1],
    [t('object'), s('Item'), 9, 50, 1],
    [t('string'), s('quote"d \\ back\\'), 11, 7, 0],
    [t('object'), s('Item'), 13, 1, 0],
    [t('object'), s('Item'), 15, 3, 0],
  ].map((n) => [...n, 0, 0]);
  const at = (i: number) => i * F;
  // [type, name_or_index, to_node]
  const edges = [
    [e('property'), s('a'), at(1)],
    [e('property'), s('b'), at(2)],
    [e('shortcut'), s('s'), at(6)],
    [e('property'), s('items'), at(3)],
    [e('property'), s('d'), at(4)],
    [e('weak'), s('items'), at(3)],
    [e('property'), s('d'), at(4)],
    [e('property'), s('next'), at(7)],
    [e('element'), 0, at(5)],
  ];
  const meta = {
    node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
    node_types: [NODE_TYPES, 'string', 'number', 'number', 'number', 'number', 'number'],
    edge_fields: ['type', 'name_or_index', 'to_node'],
    edge_types: [EDGE_TYPES, 'string_or_number', 'node'],
  };
  // The layout V8 writes: one line per node and edge, sections in this order.
  return (
    `{"snapshot":{"meta":${JSON.stringify(meta)},"node_count":${nodes.length},"edge_count":${edges.length},"trace_function_count":0},\n` +
    `"nodes":[${nodes.map((n) => n.join(',')).join(',\n')}],\n` +
    `"edges":[${edges.map((x) => x.join(',')).join(',\n')}],\n` +
    `"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[1,2,3],\n` +
    `"strings":[${strings.map((x) => JSON.stringify(x)).join(',\n')}]}`
  );
}

test('a heap snapshot parses the same whatever the chunk boundaries', () => {
  const json = snapshotJson();
  const whole = new SnapshotParser();
  whole.feed(json);
  const expected = whole.finish();
  assert.deepEqual(expected.strings, JSON.parse(json).strings);
  for (const size of [1, 2, 3, 5, 7, 64]) {
    const p = new SnapshotParser();
    for (let i = 0; i < json.length; i += size) p.feed(json.slice(i, i + size));
    assert.deepEqual(p.finish(), expected, `chunks of ${size}`);
  }
});

test('a truncated heap snapshot is an error, not a partial summary', () => {
  const json = snapshotJson();
  const p = new SnapshotParser();
  p.feed(json.slice(0, json.indexOf('"strings"')));
  assert.throws(() => p.finish(), /ends early/);
});

test('retained sizes follow the dominator tree: weak and shortcut edges keep nothing alive', () => {
  const p = new SnapshotParser();
  p.feed(snapshotJson());
  const s = summarizeHeap(p.finish(), { minShare: 0 });
  assert.equal(s.totalBytes, 10 + 5 + 100 + 3 + 50 + 7);
  assert.equal(s.objects, 7);
  const byName = new Map(s.classes.map((c) => [c.name, c]));
  assert.deepEqual(byName.get('Holder'), { name: 'Holder', count: 1, shallow: 10, retained: 113 });
  assert.deepEqual(byName.get('Other'), { name: 'Other', count: 1, shallow: 5, retained: 5 });
  // The Item held by another Item counts once, within its holder's retained size.
  assert.deepEqual(byName.get('Item'), { name: 'Item', count: 3, shallow: 153, retained: 160 });
  assert.deepEqual(byName.get('(string)'), { name: '(string)', count: 1, shallow: 7, retained: 7 });
  assert.deepEqual(
    s.retainers.map((r) => [r.depth, r.name, r.retained]),
    [
      [0, 'Holder.a', 113],
      [1, 'Item.items', 103],
      [2, 'Item.next', 3],
      // Held by two objects, so by neither: the root dominates it, through no edge of its own.
      [0, 'Item', 57],
      [1, '(string)[0]', 7],
      [0, 'Other.b', 5],
    ],
  );
});

class RaceSummaryMarker {
  readonly payload = 'x'.repeat(8) + Math.random();
}

test("a real V8 snapshot of this process: totals near V8's own count, a known class found", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'heap-summary-'));
  const keep = Array.from({ length: 20_000 }, () => new RaceSummaryMarker());
  try {
    const file = v8.writeHeapSnapshot(path.join(dir, 'test.heapsnapshot'));
    // The snapshot counts the JS heap and the ArrayBuffers' backing stores (V8's "external" memory).
    const { used_heap_size: used, external_memory: external } = v8.getHeapStatistics();
    const s = summarizeHeap(await readHeapSnapshot(file));
    assert.ok(
      s.totalBytes > used * 0.5 && s.totalBytes < (used + external) * 1.5,
      `${s.totalBytes} vs V8's ${used} + ${external}`,
    );
    const marker = s.classes.find((c) => c.name === 'RaceSummaryMarker');
    assert.ok(marker, `RaceSummaryMarker among the top classes: ${s.classes.map((c) => c.name).join(', ')}`);
    assert.ok(marker.count >= keep.length);
    // Each retains its own concatenated string too.
    assert.ok(marker.retained > marker.shallow);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('CPU profile: self time per function, idle left out of the shares', () => {
  const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)') },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('reconcile', 'file:///x/src/pods/pod-controller.ts', 9) },
      { id: 4, callFrame: frame('', 'file:///x/node_modules/undici/lib/a.js', 0) },
      // The same function reached by another call path: one entry.
      { id: 5, callFrame: frame('reconcile', 'file:///x/src/pods/pod-controller.ts', 9) },
    ],
    samples: [2, 3, 4, 5, 3, 2],
    timeDeltas: [9000, 1000, 500, 1000, 1000, 9000],
  };
  const top = topSelfTime(profile, 5);
  assert.deepEqual(
    top.map((t) => [t.fn, t.ms, t.share]),
    [
      ['reconcile (/x/src/pods/pod-controller.ts:10)', 3, 3 / 3.5],
      ['(anonymous) (node_modules/undici/lib/a.js:1)', 0.5, 0.5 / 3.5],
    ],
  );
  assert.deepEqual(
    topSelfTime(profile, 5, { by: 'package' }).map((t) => [t.fn, t.ms]),
    [
      ['/x/src/pods/pod-controller.ts', 3],
      ['node_modules/undici', 0.5],
    ],
  );
  // What is excluded by function stays out of its package's sum too.
  assert.deepEqual(
    topSelfTime(profile, 5, { by: 'package', exclude: /^\(anonymous\)/ }).map((t) => t.fn),
    ['/x/src/pods/pod-controller.ts'],
  );
  const withoutUndici = topSelfTime(profile, 5, { exclude: /undici/ });
  assert.deepEqual(
    withoutUndici.map((t) => [t.fn, t.share]),
    [['reconcile (/x/src/pods/pod-controller.ts:10)', 1]],
  );
});

/** A snapshot from `[type, name, self]` nodes (node 0 the root) and `[from, type, name, to]` edges. */
function buildSnapshot(
  nodes: [string, string, number][],
  edges: [number, string, string | number, number][],
) {
  const strings = [''];
  const str = (x: string) => (strings.includes(x) ? strings.indexOf(x) : strings.push(x) - 1);
  const flatNodes = nodes.map(([type, name, self], i) => [
    NODE_TYPES.indexOf(type),
    str(name),
    i * 2 + 1,
    self,
    edges.filter((e) => e[0] === i).length,
    0,
    0,
  ]);
  const flatEdges = [...edges]
    .sort((a, b) => a[0] - b[0])
    .map(([, type, name, to]) => [
      EDGE_TYPES.indexOf(type),
      typeof name === 'number' ? name : str(name),
      to * 7,
    ]);
  const p = new SnapshotParser();
  p.feed(
    JSON.stringify({
      snapshot: {
        meta: {
          node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
          node_types: [NODE_TYPES, 'string', 'number', 'number', 'number', 'number', 'number'],
          edge_fields: ['type', 'name_or_index', 'to_node'],
          edge_types: [EDGE_TYPES, 'string_or_number', 'node'],
        },
        node_count: nodes.length,
        edge_count: edges.length,
      },
      nodes: flatNodes.flat(),
      edges: flatEdges.flat(),
      strings,
    }),
  );
  return p.finish();
}

test('objects too small to list alone are listed as a group of their class, then the largest opened', () => {
  // A cache holding three entries of 10 (+ a part of 6 in the largest), each under the threshold.
  const g = buildSnapshot(
    [
      ['synthetic', '', 0],
      ['object', 'Cache', 4],
      ['object', 'Entry', 10],
      ['object', 'Entry', 10],
      ['object', 'Entry', 10],
      ['object', 'Status', 6],
    ],
    [
      [0, 'property', 'cache', 1],
      [1, 'element', 0, 2],
      [1, 'element', 1, 3],
      [1, 'element', 2, 4],
      [4, 'property', 'status', 5],
    ],
  );
  const s = summarizeHeap(g, { minShare: 0.45 });
  assert.deepEqual(
    s.retainers.map((r) => [r.depth, r.name, r.shallow, r.retained]),
    [
      [0, 'Cache.cache', 4, 40],
      [1, '3 × Entry', 30, 36],
      [2, 'the largest: Entry[2]', 10, 16],
      // The threshold (45 % of 40 = 18 bytes) shared among three: 6; the Status part shows.
      [3, 'Status.status', 6, 6],
    ],
  );
});
