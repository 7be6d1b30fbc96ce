// Reads the profiles the race writes for our controller and says where the time and the memory go: the
// functions with the most self time in a V8 CPU profile (`--cpu-prof`), and what holds the memory in a
// V8 heap snapshot (the dominator tree: what would be freed if an object went, summed by class, and the
// heaviest chains from the GC roots down).
//
// Written here rather than taken from a library: the packages that analyse heap snapshots offline pull
// in a headless browser (memlab needs puppeteer, which downloads Chrome at install), and a snapshot of a
// controller holding 10,000 pods is larger than the longest string V8 can hold, so it cannot simply be
// JSON.parse'd; the few hundred lines below stream it into typed arrays instead.
//
//   npx node bench/profile-summary.ts <file.cpuprofile | file.heapsnapshot>...
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------------
// CPU profiles

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  /** `name (file:line)`, one entry per function however many call paths reach it. */
  fn: string;
  ms: number;
  /** Share of the time the thread was not idle. */
  share: number;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A dependency's package (`node_modules/@scope/name`), else the file itself. */
function packageOf(file: string): string {
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  return m ? `node_modules/${m[1]}` : file;
}

/** Repository-relative paths, and `node_modules/<pkg>/…` for dependencies. */
function shortUrl(url: string): string {
  const p = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = p.lastIndexOf('/node_modules/');
  if (nm >= 0) return p.slice(nm + 1);
  return p.startsWith(ROOT) ? path.relative(ROOT, p) : p;
}

/**
 * The `top` functions by self time, from a `.cpuprofile` (sample time deltas summed per function).
 * Shares are of the samples where the thread was not idle; functions matching `exclude` are left out
 * of the list and of the shares.
 */
export function topSelfTime(
  profile: CpuProfile,
  top = 10,
  opts: { exclude?: RegExp; by?: 'function' | 'package' } = {},
): SelfTime[] {
  const nameOf = new Map<number, string>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const where = f.url ? ` (${shortUrl(f.url)}:${f.lineNumber + 1})` : '';
    const fn = `${f.functionName || '(anonymous)'}${where}`;
    if (opts.exclude?.test(fn)) continue;
    nameOf.set(n.id, opts.by === 'package' && f.url ? packageOf(shortUrl(f.url)) : fn);
  }
  const us = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const key = nameOf.get(samples[i]!);
    if (key === undefined) continue;
    us.set(key, (us.get(key) ?? 0) + Math.max(0, deltas[i] ?? 0));
  }
  const counted = [...us].filter(([key]) => key !== '(idle)');
  const busy = counted.reduce((a, [, t]) => a + t, 0);
  return counted
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, t]) => ({ fn, ms: t / 1000, share: busy > 0 ? t / busy : 0 }));
}

export async function readCpuProfile(file: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
}

// ---------------------------------------------------------------------------------------------------
// Heap snapshots

interface SnapshotMeta {
  node_fields: string[];
  node_types: [string[], ...unknown[]];
  edge_fields: string[];
  edge_types: [string[], ...unknown[]];
}

/** A heap snapshot's graph in flat arrays, laid out as V8 writes it. */
export interface HeapGraph {
  meta: SnapshotMeta;
  nodes: Float64Array;
  edges: Uint32Array;
  strings: string[];
}

/**
 * Streams a `.heapsnapshot` into typed arrays. The file is JSON with a small header, then the flat
 * `nodes` and `edges` number arrays, other sections we skip, and the `strings` array last.
 */
export async function readHeapSnapshot(file: string): Promise<HeapGraph> {
  const parser = new SnapshotParser();
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 }))
    parser.feed(chunk as string);
  return parser.finish();
}

/** Parses a snapshot fed in chunks of any size. Exported for tests. */
export class SnapshotParser {
  #mode: 'header' | 'seek' | 'nodes' | 'edges' | 'strings' | 'done' = 'header';
  #buf = '';
  #meta: SnapshotMeta | undefined;
  #nodes = new Float64Array(0);
  #edges = new Uint32Array(0);
  #fill = 0;
  #num = -1;
  #strings: string[] = [];
  /** A string literal cut by a chunk boundary. */
  #lit: string | undefined;
  #seen = new Set<string>();

  feed(chunk: string): void {
    let text = chunk;
    while (text.length > 0 && this.#mode !== 'done') {
      switch (this.#mode) {
        case 'header': {
          this.#buf += text;
          const m = /"nodes"\s*:\s*\[/.exec(this.#buf);
          if (!m) return;
          const header = JSON.parse(`${this.#buf.slice(0, m.index).replace(/,\s*$/, '')}}`) as {
            snapshot: { meta: SnapshotMeta; node_count: number; edge_count: number };
          };
          this.#meta = header.snapshot.meta;
          this.#nodes = new Float64Array(header.snapshot.node_count * this.#meta.node_fields.length);
          this.#edges = new Uint32Array(header.snapshot.edge_count * this.#meta.edge_fields.length);
          text = this.#buf.slice(m.index + m[0].length);
          this.#buf = '';
          this.#mode = 'nodes';
          this.#fill = 0;
          break;
        }
        case 'seek': {
          this.#buf += text;
          const m = /"(edges|strings)"\s*:\s*\[/.exec(this.#buf);
          if (!m || this.#seen.has(m[1]!)) {
            // Keep enough of the tail to find a key cut by the chunk boundary.
            this.#buf = this.#buf.slice(-32);
            return;
          }
          this.#seen.add(m[1]!);
          text = this.#buf.slice(m.index + m[0].length);
          this.#buf = '';
          this.#mode = m[1] as 'edges' | 'strings';
          this.#fill = 0;
          break;
        }
        case 'nodes':
        case 'edges':
          text = this.#numbers(text, this.#mode === 'nodes' ? this.#nodes : this.#edges);
          break;
        case 'strings':
          text = this.#stringLiterals(text);
          break;
      }
    }
  }

  /** Reads numbers into `into` until the array's `]`; returns the text after it. */
  #numbers(text: string, into: Float64Array | Uint32Array): string {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        this.#num = (this.#num < 0 ? 0 : this.#num * 10) + (c - 48);
        continue;
      }
      if (this.#num >= 0) {
        if (this.#fill >= into.length)
          throw new Error('heap snapshot holds more values than its header says');
        into[this.#fill++] = this.#num;
        this.#num = -1;
      }
      if (c === 93 /* ] */) {
        if (this.#fill !== into.length)
          throw new Error('heap snapshot holds fewer values than its header says');
        this.#mode = 'seek';
        this.#seen.add(into === this.#nodes ? 'nodes' : 'edges');
        return text.slice(i + 1);
      }
    }
    return '';
  }

  /** Reads JSON string literals until the array's `]`. */
  #stringLiterals(text: string): string {
    let i = 0;
    if (this.#lit !== undefined) {
      const end = literalEnd(text, 0, this.#lit);
      if (end < 0) {
        this.#lit += text;
        return '';
      }
      this.#strings.push(JSON.parse(this.#lit + text.slice(0, end + 1)) as string);
      this.#lit = undefined;
      i = end + 1;
    }
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 34 /* " */) {
        const end = literalEnd(text, i + 1, '"');
        if (end < 0) {
          this.#lit = text.slice(i);
          return '';
        }
        this.#strings.push(JSON.parse(text.slice(i, end + 1)) as string);
        i = end;
      } else if (c === 93 /* ] */) {
        this.#mode = 'done';
        return '';
      }
    }
    return '';
  }

  finish(): HeapGraph {
    if (this.#mode !== 'done' || !this.#meta)
      throw new Error(`heap snapshot ends early (while reading ${this.#mode})`);
    return { meta: this.#meta, nodes: this.#nodes, edges: this.#edges, strings: this.#strings };
  }
}

/**
 * Index of the quote closing a string literal in `text` from `from`, or -1 when the chunk ends first.
 * `before` is the literal's text so far, which tells whether `text` starts inside an escape.
 */
function literalEnd(text: string, from: number, before: string): number {
  let escaped = false;
  // An odd run of backslashes at the end of `before` escapes the first character of `text`.
  for (let j = before.length - 1; j > 0 && before.charCodeAt(j) === 92; j--) escaped = !escaped;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (escaped) escaped = false;
    else if (c === 92) escaped = true;
    else if (c === 34) return i;
  }
  return -1;
}

export interface ClassSize {
  name: string;
  count: number;
  /** The objects' own sizes. */
  shallow: number;
  /** What freeing them all would free: retained sizes of those not held through another of the class. */
  retained: number;
}

export interface Retainer {
  depth: number;
  /** `Class` or `Class.edge` (the property or element its dominator holds it by). */
  name: string;
  shallow: number;
  retained: number;
}

export interface HeapSummary {
  totalBytes: number;
  objects: number;
  /** By retained size. */
  classes: ClassSize[];
  /**
   * The dominator tree from the GC roots, descending into children that hold at least 1 % of the heap,
   * alone or as a group of one class (then into the group's largest, with the threshold shared out).
   */
  retainers: Retainer[];
}

/**
 * Dominators by the iterative algorithm of Cooper, Harvey and Kennedy ("A Simple, Fast Dominance
 * Algorithm"), over the edges that keep objects alive (weak and shortcut edges do not), then retained
 * sizes summed up the dominator tree — what DevTools' Summary and Retainers views show.
 */
export function summarizeHeap(g: HeapGraph, opts: { classes?: number; minShare?: number } = {}): HeapSummary {
  const nf = g.meta.node_fields.length;
  const ef = g.meta.edge_fields.length;
  const nType = g.meta.node_fields.indexOf('type');
  const nName = g.meta.node_fields.indexOf('name');
  const nSelf = g.meta.node_fields.indexOf('self_size');
  const nEdges = g.meta.node_fields.indexOf('edge_count');
  const eType = g.meta.edge_fields.indexOf('type');
  const eName = g.meta.edge_fields.indexOf('name_or_index');
  const eTo = g.meta.edge_fields.indexOf('to_node');
  const nodeTypes = g.meta.node_types[0];
  const edgeTypes = g.meta.edge_types[0];
  const weak = edgeTypes.indexOf('weak');
  const shortcut = edgeTypes.indexOf('shortcut');
  const n = g.nodes.length / nf;

  const firstEdge = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) firstEdge[i + 1] = firstEdge[i]! + g.nodes[i * nf + nEdges]! * ef;
  const strong = (e: number) => g.edges[e + eType] !== weak && g.edges[e + eType] !== shortcut;

  // Depth-first post-order from the root (node 0), on strong edges.
  const post = new Int32Array(n).fill(-1);
  const order = new Uint32Array(n);
  let count = 0;
  {
    const visited = new Uint8Array(n);
    const stack = new Uint32Array(n);
    const cursor = new Uint32Array(n);
    let sp = 0;
    stack[sp++] = 0;
    visited[0] = 1;
    cursor[0] = firstEdge[0]!;
    while (sp > 0) {
      const v = stack[sp - 1]!;
      let pushed = false;
      while (cursor[v]! < firstEdge[v + 1]!) {
        const e = cursor[v]!;
        cursor[v] = e + ef;
        if (!strong(e)) continue;
        const w = g.edges[e + eTo]! / nf;
        if (visited[w]) continue;
        visited[w] = 1;
        cursor[w] = firstEdge[w]!;
        stack[sp++] = w;
        pushed = true;
        break;
      }
      if (!pushed) {
        sp--;
        post[v] = count;
        order[count++] = v;
      }
    }
  }

  // Predecessors of each reachable node (strong edges only), in compressed rows.
  const predStart = new Uint32Array(n + 1);
  for (let v = 0; v < n; v++) {
    if (post[v]! < 0) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += ef)
      if (strong(e)) predStart[g.edges[e + eTo]! / nf + 1]!++;
  }
  for (let i = 0; i < n; i++) predStart[i + 1]! += predStart[i]!;
  const preds = new Uint32Array(predStart[n]!);
  const fillAt = predStart.slice(0, n);
  for (let v = 0; v < n; v++) {
    if (post[v]! < 0) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += ef)
      if (strong(e)) preds[fillAt[g.edges[e + eTo]! / nf]!++] = v;
  }

  const idom = new Int32Array(n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (post[a]! < post[b]!) a = idom[a]!;
      while (post[b]! < post[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let k = count - 2; k >= 0; k--) {
      const v = order[k]!;
      let d = -1;
      for (let p = predStart[v]!; p < predStart[v + 1]!; p++) {
        const u = preds[p]!;
        if (idom[u]! < 0) continue;
        d = d < 0 ? u : intersect(u, d);
      }
      if (d >= 0 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }

  const retained = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < count; k++) {
    const v = order[k]!;
    const self = g.nodes[v * nf + nSelf]!;
    total += self;
    retained[v]! += self;
    if (v !== 0) retained[idom[v]!]! += retained[v]!;
  }

  const className = (v: number): string => {
    const type = nodeTypes[g.nodes[v * nf + nType]!] ?? '?';
    const name = g.strings[g.nodes[v * nf + nName]!] ?? '';
    switch (type) {
      case 'object':
      case 'native':
      case 'synthetic':
        return name;
      case 'closure':
        return '(closure)';
      case 'string':
      case 'concatenated string':
      case 'sliced string':
        return '(string)';
      case 'array':
        return '(array)';
      case 'code':
        return '(compiled code)';
      case 'hidden':
        return '(system)';
      default:
        return `(${type})`;
    }
  };

  // Dominator-tree children, then a pre-order walk that credits each class with the retained size of
  // its outermost objects only (an object held through another of its class is already counted).
  const childStart = new Uint32Array(n + 1);
  for (let k = 0; k < count; k++) if (order[k] !== 0) childStart[idom[order[k]!]! + 1]!++;
  for (let i = 0; i < n; i++) childStart[i + 1]! += childStart[i]!;
  const children = new Uint32Array(childStart[n]!);
  const childFill = childStart.slice(0, n);
  for (let k = 0; k < count; k++) if (order[k] !== 0) children[childFill[idom[order[k]!]!]!++] = order[k]!;

  const classIds = new Map<string, number>();
  const classOf = new Int32Array(n);
  const byClass: ClassSize[] = [];
  for (let k = 0; k < count; k++) {
    const v = order[k]!;
    const name = className(v);
    let id = classIds.get(name);
    if (id === undefined) {
      id = byClass.length;
      classIds.set(name, id);
      byClass.push({ name, count: 0, shallow: 0, retained: 0 });
    }
    classOf[v] = id;
    byClass[id]!.count++;
    byClass[id]!.shallow += g.nodes[v * nf + nSelf]!;
  }
  {
    const onPath = new Int32Array(byClass.length);
    const stack: number[] = [0];
    const leaving = new Uint8Array(n);
    while (stack.length > 0) {
      const v = stack.pop()!;
      const c = classOf[v]!;
      if (leaving[v]) {
        onPath[c]!--;
        continue;
      }
      if (onPath[c] === 0 && v !== 0) byClass[c]!.retained += retained[v]!;
      onPath[c]!++;
      leaving[v] = 1;
      stack.push(v);
      for (let i = childStart[v]!; i < childStart[v + 1]!; i++) stack.push(children[i]!);
    }
  }

  const edgeName = (from: number, to: number): string => {
    for (let e = firstEdge[from]!; e < firstEdge[from + 1]!; e += ef) {
      if (g.edges[e + eTo]! / nf !== to) continue;
      const t = edgeTypes[g.edges[e + eType]!];
      const x = g.edges[e + eName]!;
      return t === 'element' || t === 'hidden' ? `[${x}]` : `.${g.strings[x] ?? x}`;
    }
    return '';
  };
  const minBytes = total * (opts.minShare ?? 0.01);
  const retainers: Retainer[] = [];
  // Children too small to list one by one are grouped by class (a Map of 10,000 pods holds 10,000
  // small objects, together large); one of a group stands for all, its parts listed against the
  // threshold divided among the group, so the shape of one pod's entry shows.
  const walk = (v: number, depth: number, min: number) => {
    const kids = Array.from(children.subarray(childStart[v]!, childStart[v + 1]!));
    const big = kids.filter((c) => retained[c]! >= min);
    const groups = new Map<string, number[]>();
    for (const c of kids) {
      if (retained[c]! >= min) continue;
      const k = className(c);
      const list = groups.get(k);
      if (list) list.push(c);
      else groups.set(k, [c]);
    }
    type Line = { retained: number; emit: () => void };
    const lines: Line[] = big.map((c) => ({
      retained: retained[c]!,
      emit: () => {
        retainers.push({
          depth,
          name: `${className(c)}${edgeName(v, c)}`,
          shallow: g.nodes[c * nf + nSelf]!,
          retained: retained[c]!,
        });
        if (depth < 12) walk(c, depth + 1, min);
      },
    }));
    for (const [name, members] of groups) {
      const sum = members.reduce((a, c) => a + retained[c]!, 0);
      if (members.length < 2 || sum < min) continue;
      lines.push({
        retained: sum,
        emit: () => {
          const largest = members.reduce((a, c) => (retained[c]! > retained[a]! ? c : a));
          retainers.push({
            depth,
            name: `${members.length} × ${name}`,
            shallow: members.reduce((a, c) => a + g.nodes[c * nf + nSelf]!, 0),
            retained: sum,
          });
          retainers.push({
            depth: depth + 1,
            name: `the largest: ${name}${edgeName(v, largest)}`,
            shallow: g.nodes[largest * nf + nSelf]!,
            retained: retained[largest]!,
          });
          if (depth < 12) walk(largest, depth + 2, min / members.length);
        },
      });
    }
    lines
      .sort((a, b) => b.retained - a.retained)
      .slice(0, 6)
      .forEach((l) => l.emit());
  };
  walk(0, 0, minBytes);

  return {
    totalBytes: total,
    objects: count,
    classes: byClass
      .filter((c) => c.name !== '' && c.retained > 0)
      .sort((a, b) => b.retained - a.retained)
      .slice(0, opts.classes ?? 15),
    retainers,
  };
}

/** Bytes in the unit that suits them. */
export function bytes(b: number): string {
  if (b >= 1048576) return `${(b / 1048576).toFixed(1)} MiB`;
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${b} B`;
}

/**
 * The top functions, then the same time by package or file. Times are the profiler's samples, taken on
 * wall-clock ticks: on a busy machine they exceed the CPU time, so read the shares.
 */
export function formatCpu(file: string, top: SelfTime[], byPackage: SelfTime[] = []): string {
  const lines = [`CPU profile ${file}: top ${top.length} functions by self time (share of non-idle samples)`];
  const line = (t: SelfTime) =>
    lines.push(`  ${t.ms.toFixed(0).padStart(7)} ms ${(t.share * 100).toFixed(1).padStart(5)} %  ${t.fn}`);
  top.forEach(line);
  if (byPackage.length > 0) {
    lines.push(`  by package or file (top ${byPackage.length}):`);
    byPackage.forEach(line);
  }
  return lines.join('\n');
}

export function formatHeap(file: string, s: HeapSummary): string {
  const lines = [
    `heap snapshot ${file}: ${bytes(s.totalBytes)} in ${s.objects.toLocaleString('en')} objects`,
    '  by class (retained = freed if all of them went):',
  ];
  for (const c of s.classes)
    lines.push(
      `  ${bytes(c.retained).padStart(10)} retained ${bytes(c.shallow).padStart(10)} own ${String(c.count).padStart(9)} × ${c.name}`,
    );
  lines.push(
    '  largest retainers (dominator tree from the GC roots; ≥ 1 % of the heap, alone or as a group):',
  );
  for (const r of s.retainers)
    lines.push(
      `  ${bytes(r.retained).padStart(10)}  ${'  '.repeat(r.depth)}${r.name} (own ${bytes(r.shallow)})`,
    );
  return lines.join('\n');
}

if (import.meta.main) {
  for (const file of process.argv.slice(2)) {
    if (file.endsWith('.cpuprofile')) {
      const profile = await readCpuProfile(file);
      // A heap snapshot taken during the run is the profiler's own work, not the program's.
      const exclude = /^writeHeapSnapshot /;
      console.log(
        formatCpu(
          file,
          topSelfTime(profile, 10, { exclude }),
          topSelfTime(profile, 10, { exclude, by: 'package' }),
        ),
      );
    } else console.log(formatHeap(file, summarizeHeap(await readHeapSnapshot(file))));
  }
}
