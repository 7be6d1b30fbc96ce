// What the race prints and draws: one table of every run with its ratios to KWOK and to
// virtual-kubelet at the same pod count, the API server's requests per pod by verb and resource, and
// an SVG chart of pods Running+Ready over time.

/** One peer's run at one pod count. */
export interface RaceRun {
  /** Peer id: kwok, vk, vk-tuned, ours, ours-default. */
  peer: string;
  /** How the table names it. */
  label: string;
  pods: number;
  /** Seconds from the first create until each pod was seen Running+Ready, ascending. */
  ready: number[];
  /** Startup latency (create → Running+Ready seen) of each pod that got there, in seconds, ascending. */
  latencies: number[];
  /** Seconds until the last pod was Running+Ready, or until the run gave up. */
  seconds: number;
  /** Seconds from deleting the pods until none was left; null when they were not all gone in time. */
  deleteSeconds: number | null;
  peakRssMiB: number;
  /** CPU seconds over the run (first create → last pod gone), of the peer and of the API server. */
  peerCpu: number;
  apiserverCpu: number;
  /** `VERB resource[/subresource]` → requests the API server served over the run (all clients). */
  requests: Map<string, number>;
  /** Shown under the table (e.g. a run that did not finish, a profiled run). */
  notes: string[];
}

/** Nearest-rank percentile of ascending values. */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

export const podsPerSecond = (r: RaceRun): number => r.ready.length / r.seconds;

const PEER_ORDER = ['kwok', 'vk', 'vk-tuned', 'ours', 'ours-default'];

/** The runs the ratios are taken against: KWOK, and virtual-kubelet tuned (else stock), at the same N. */
function references(runs: readonly RaceRun[], pods: number) {
  const at = (peer: string) => runs.find((r) => r.pods === pods && r.peer === peer);
  return { kwok: at('kwok'), vk: at('vk-tuned') ?? at('vk') };
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

/** `value (÷K x, ÷V y)`: the ratio of a figure to KWOK's and VK's at the same N, where those ran. */
function withRatios(
  run: RaceRun,
  refs: { kwok?: RaceRun; vk?: RaceRun },
  figure: (r: RaceRun) => number,
  digits = 1,
): string {
  const v = figure(run);
  const parts: string[] = [];
  if (refs.kwok && refs.kwok !== run) parts.push(`÷K ${fmt(v / figure(refs.kwok), 2)}`);
  if (refs.vk && refs.vk !== run) parts.push(`÷V ${fmt(v / figure(refs.vk), 2)}`);
  return parts.length ? `${fmt(v, digits)} (${parts.join(', ')})` : fmt(v, digits);
}

function markdownTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function sortRuns(runs: readonly RaceRun[]): RaceRun[] {
  return [...runs].sort((a, b) => a.pods - b.pods || PEER_ORDER.indexOf(a.peer) - PEER_ORDER.indexOf(b.peer));
}

/**
 * The race table: one row per run, each figure followed by its ratio to KWOK (÷K) and to
 * virtual-kubelet (÷V, tuned where it ran) at the same pod count.
 */
export function raceTable(runs: readonly RaceRun[]): string {
  const rows = sortRuns(runs).map((r) => {
    const refs = references(runs, r.pods);
    const done = r.ready.length === r.pods ? '' : ` (${r.ready.length} Ready)`;
    return [
      r.label,
      r.pods.toLocaleString('en'),
      withRatios(r, refs, podsPerSecond),
      `${fmt(percentile(r.latencies, 50))} / ${fmt(percentile(r.latencies, 99))}`,
      `${fmt(r.seconds)}${done}`,
      r.deleteSeconds === null ? 'not all gone' : fmt(r.deleteSeconds),
      withRatios(r, refs, (x) => x.peakRssMiB, 0),
      withRatios(r, refs, (x) => x.peerCpu),
      withRatios(r, refs, (x) => x.apiserverCpu),
      withRatios(r, refs, (x) => total(x.requests) / x.pods, 1),
    ];
  });
  return markdownTable(
    [
      'run',
      'pods',
      'pods/s',
      'p50 / p99 s',
      'all Ready s',
      'delete s',
      'peak RSS MiB',
      'peer CPU-s',
      'apiserver CPU-s',
      'apiserver req/pod',
    ],
    rows,
  );
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * Requests per pod the API server served over each run, by verb and resource: rows that reach
 * `min` per pod in some run, largest first.
 */
export function requestsTable(runs: readonly RaceRun[], min = 0.01): string {
  const sorted = sortRuns(runs);
  const keys = new Map<string, number>();
  for (const r of sorted)
    for (const [k, v] of r.requests) keys.set(k, Math.max(keys.get(k) ?? 0, v / r.pods));
  const rows = [...keys]
    .filter(([, max]) => max >= min)
    .sort((a, b) => b[1] - a[1])
    .map(([k]) => [k, ...sorted.map((r) => fmt((r.requests.get(k) ?? 0) / r.pods, 2))]);
  rows.push(['all', ...sorted.map((r) => fmt(total(r.requests) / r.pods, 2))]);
  return markdownTable(['requests per pod', ...sorted.map((r) => `${r.label} ${shortCount(r.pods)}`)], rows);
}

const shortCount = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

const COLOURS: Record<string, string> = {
  kwok: '#1f77b4',
  vk: '#ff7f0e',
  'vk-tuned': '#2ca02c',
  ours: '#d62728',
  'ours-default': '#9467bd',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Round tick steps: 1, 2 or 5 times a power of ten, about `count` of them up to `max`. */
export function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const out: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/**
 * Pods Running+Ready over time, one panel per pod count and one line per run. Hand-written SVG: a
 * few polylines, axes and a legend do not need a charting library (and a dependency) in the product.
 */
export function raceChartSvg(runs: readonly RaceRun[], title: string): string {
  const counts = [...new Set(runs.map((r) => r.pods))].sort((a, b) => a - b);
  const W = 980;
  const PH = 320;
  const M = { left: 70, right: 250, top: 40, bottom: 45 };
  const plotW = W - M.left - M.right;
  const plotH = PH - M.top - M.bottom;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${PH * counts.length + 30}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  counts.forEach((pods, panel) => {
    const y0 = 30 + panel * PH;
    const inPanel = sortRuns(runs.filter((r) => r.pods === pods));
    const maxT = Math.max(1, ...inPanel.map((r) => r.seconds));
    const x = (t: number) => M.left + (t / maxT) * plotW;
    const y = (n: number) => y0 + M.top + plotH - (n / pods) * plotH;
    out.push(
      `<text x="${M.left}" y="${y0 + M.top - 10}" font-size="13">${pods.toLocaleString('en')} pods: Running+Ready over time</text>`,
    );
    for (const t of ticks(maxT)) {
      out.push(
        `<line x1="${x(t).toFixed(1)}" y1="${y(0)}" x2="${x(t).toFixed(1)}" y2="${y(pods)}" stroke="#eee"/>`,
        `<text x="${x(t).toFixed(1)}" y="${y(0) + 16}" text-anchor="middle">${t}</text>`,
      );
    }
    for (const n of ticks(pods, 4)) {
      out.push(
        `<line x1="${x(0)}" y1="${y(n).toFixed(1)}" x2="${x(maxT)}" y2="${y(n).toFixed(1)}" stroke="#eee"/>`,
        `<text x="${x(0) - 6}" y="${(y(n) + 4).toFixed(1)}" text-anchor="end">${n.toLocaleString('en')}</text>`,
      );
    }
    out.push(
      `<line x1="${x(0)}" y1="${y(0)}" x2="${x(maxT)}" y2="${y(0)}" stroke="black"/>`,
      `<line x1="${x(0)}" y1="${y(0)}" x2="${x(0)}" y2="${y(pods)}" stroke="black"/>`,
      `<text x="${x(maxT / 2)}" y="${y(0) + 34}" text-anchor="middle">seconds since the first create</text>`,
    );
    inPanel.forEach((r, i) => {
      const colour = COLOURS[r.peer] ?? '#333';
      // At most ~600 points a line: enough for the eye, and the file stays small at 10,000 pods.
      const every = Math.max(1, Math.ceil(r.ready.length / 600));
      const pts = [`${x(0)},${y(0)}`];
      r.ready.forEach((t, k) => {
        if (k % every === 0 || k === r.ready.length - 1)
          pts.push(`${x(t).toFixed(1)},${y(k + 1).toFixed(1)}`);
      });
      if (r.ready.length < r.pods) pts.push(`${x(r.seconds).toFixed(1)},${y(r.ready.length).toFixed(1)}`);
      out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.join(' ')}"/>`);
      const ly = y0 + M.top + 10 + i * 18;
      out.push(
        `<line x1="${W - M.right + 15}" y1="${ly}" x2="${W - M.right + 40}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`,
        `<text x="${W - M.right + 46}" y="${ly + 4}">${esc(r.label)} (${fmt(podsPerSecond(r))}/s)</text>`,
      );
    });
  });
  out.push('</svg>');
  return out.join('\n');
}
