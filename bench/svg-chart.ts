// A line chart of pods Running over time, as a standalone SVG: one line per run (ours, and a peer's
// when one runs in the same invocation). Hand-written because a charting library would be the largest
// dependency of the repository for one picture; the format is a few dozen lines of SVG.

export interface Series {
  name: string;
  /** Seconds since the run's start of each pod reaching Running (any order). */
  runningAtS: number[];
}

const COLORS = ['#e8710a', '#1a73e8', '#188038', '#a142f4', '#d93025'];
const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Pods Running (y) over seconds since start (x), stepped, with axes, ticks and a legend. */
export function runningOverTimeSvg(
  series: Series[],
  o: { title: string; width?: number; height?: number },
): string {
  const W = o.width ?? 800;
  const H = o.height ?? 420;
  const m = { l: 64, r: 20, t: 40, b: 48 };
  const maxT = Math.max(1, ...series.flatMap((s) => s.runningAtS));
  const maxN = Math.max(1, ...series.map((s) => s.runningAtS.length));
  const x = (t: number) => m.l + (t / maxT) * (W - m.l - m.r);
  const y = (n: number) => H - m.b - (n / maxN) * (H - m.t - m.b);
  const ticks = (max: number) => {
    const step = niceStep(max / 5);
    return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
  };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  ];
  for (const t of ticks(maxT)) {
    parts.push(
      `<line x1="${x(t)}" y1="${m.t}" x2="${x(t)}" y2="${H - m.b}" stroke="#eee"/>`,
      `<text x="${x(t)}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  for (const n of ticks(maxN)) {
    parts.push(
      `<line x1="${m.l}" y1="${y(n)}" x2="${W - m.r}" y2="${y(n)}" stroke="#eee"/>`,
      `<text x="${m.l - 6}" y="${y(n) + 4}" text-anchor="end">${fmt(n)}</text>`,
    );
  }
  parts.push(
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">seconds since the first create</text>`,
    `<text x="16" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(m.t + H - m.b) / 2})">pods Running</text>`,
  );
  series.forEach((s, i) => {
    const sorted = [...s.runningAtS].sort((a, b) => a - b);
    let d = `M${x(0)},${y(0)}`;
    sorted.forEach((t, k) => (d += ` H${x(t).toFixed(1)} V${y(k + 1).toFixed(1)}`));
    const color = COLORS[i % COLORS.length]!;
    parts.push(
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"><title>${esc(s.name)}</title></path>`,
      `<rect x="${m.l + 12}" y="${m.t + 8 + i * 18}" width="12" height="12" fill="${color}"/>`,
      `<text x="${m.l + 30}" y="${m.t + 18 + i * 18}">${esc(s.name)} (${sorted.length} pods, last at ${fmt(sorted.at(-1) ?? 0)} s)</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const k of [1, 2, 5, 10]) if (k * p >= raw) return k * p;
  return 10 * p;
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
