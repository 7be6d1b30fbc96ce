import type { LogLine } from './provider.ts';

/**
 * Where a reader of a growing log stands: the timestamp of the last line it delivered and how many
 * lines carrying exactly that timestamp it has delivered. Backends answer "lines since T" inclusively
 * and at coarser precision than their stamps, so the next answer repeats what was seen; this tells
 * the new lines from the repeats without gaps or duplicates, even when several lines share a stamp.
 */
export interface LogCursor {
  readonly time: string;
  readonly atTime: number;
}

export const START_CURSOR: LogCursor = { time: '', atTime: 0 };

/**
 * The lines of `answer` (oldest first, as the backend returned them) that come after `cursor`, and
 * the cursor after them. A line without a timestamp counts as written at the previous line's.
 */
export function advance(
  cursor: LogCursor,
  answer: readonly LogLine[],
): { fresh: LogLine[]; cursor: LogCursor } {
  const fresh: LogLine[] = [];
  let { time, atTime } = cursor;
  let skipAtCursor = cursor.atTime;
  let prev = '';
  for (const raw of answer) {
    const t = raw.time || prev;
    prev = t;
    if (t < cursor.time) continue;
    if (t === cursor.time && skipAtCursor > 0) {
      skipAtCursor--;
      continue;
    }
    fresh.push(raw.time ? raw : { ...raw, time: t });
    if (t === time) atTime++;
    else {
      time = t;
      atTime = 1;
    }
  }
  return { fresh, cursor: { time, atTime } };
}

/** The cursor after everything in `lines` was delivered. */
export function cursorAfter(lines: readonly LogLine[]): LogCursor {
  return advance(START_CURSOR, lines).cursor;
}

/** Epoch milliseconds of a fixed-width RFC 3339 stamp (the backend's `since` is millisecond-grained). */
export function stampMillis(time: string): number {
  return Date.parse(time.length > 23 ? `${time.slice(0, 23)}Z` : time);
}

/**
 * A timestamp as the kubelet writes it (RFC 3339, nine fractional digits, UTC, fixed width), from
 * any RFC 3339 form a backend may use; undefined when `text` is not one.
 */
export function normalizeStamp(text: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return undefined;
  const [, base, frac = '', zone] = m;
  const ms = Date.parse(`${base}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  const utc = new Date(ms).toISOString().slice(0, 19);
  return `${utc}.${frac.padEnd(9, '0')}Z`;
}

/** Splits a backend's `<stamp> <text>\n` lines; a line without a stamp keeps its whole text. */
export function parseStampedLines(content: string): LogLine[] {
  const lines = content.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => {
    const space = line.indexOf(' ');
    const time = space > 0 ? normalizeStamp(line.slice(0, space)) : undefined;
    return time ? { time, text: line.slice(space + 1) } : { time: '', text: line };
  });
}
