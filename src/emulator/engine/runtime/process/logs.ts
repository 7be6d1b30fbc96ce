import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile, rename, stat } from 'node:fs/promises';
import type { LogLine } from '../../logs.ts';

/**
 * Container logs of the process runtime, one file per run in the CRI format the kubelet uses:
 * `<RFC 3339 nano time> <stdout|stderr> <F|P> <text>` — each line stamped when it was read from the
 * container, `P` for a piece of a line longer than 16 KiB. A run's file holds at most `maxBytes`; past
 * that it is rotated once (`.1`), so a chatty container costs bounded disk.
 */

const MAX_LINE = 16 * 1024;

/** RFC 3339 with nanoseconds from a millisecond clock plus a per-writer sequence (keeps order). */
function stamp(ms: number, seq: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, `.$1${String(seq % 1_000_000).padStart(6, '0')}Z`);
}

export class LogWriter {
  #out: WriteStream;
  readonly #file: string;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #partial = { stdout: '', stderr: '' };
  #bytes = 0;
  #seq = 0;
  #lastMs = 0;
  #rotating: Promise<void> | undefined;
  readonly #keep: (stream: 'stdout' | 'stderr', line: string) => boolean;

  /** `keep` sees each whole line first; false leaves it out of the log. */
  constructor(
    file: string,
    o: { maxBytes: number; now: () => number; keep?: (stream: 'stdout' | 'stderr', line: string) => boolean },
  ) {
    this.#file = file;
    this.#maxBytes = o.maxBytes;
    this.#now = o.now;
    this.#keep = o.keep ?? (() => true);
    this.#out = createWriteStream(file, { flags: 'a' });
    this.#out.on('error', () => undefined);
  }

  write(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    let text = this.#partial[stream] + chunk.toString('utf8');
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      if (this.#keep(stream, text.slice(0, nl))) this.#line(stream, 'F', text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    while (text.length > MAX_LINE) {
      this.#record(stream, 'P', text.slice(0, MAX_LINE));
      text = text.slice(MAX_LINE);
    }
    this.#partial[stream] = text;
  }

  /** Writes what is left of unterminated lines and closes the file. */
  async close(): Promise<void> {
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.#partial[s] !== '') this.#line(s, 'F', this.#partial[s]);
      this.#partial[s] = '';
    }
    await this.#rotating;
    await new Promise<void>((resolve) => this.#out.end(resolve));
  }

  #line(stream: 'stdout' | 'stderr', tag: 'F' | 'P', text: string): void {
    while (text.length > MAX_LINE) {
      this.#record(stream, 'P', text.slice(0, MAX_LINE));
      text = text.slice(MAX_LINE);
    }
    this.#record(stream, tag, text);
  }

  #record(stream: 'stdout' | 'stderr', tag: 'F' | 'P', text: string): void {
    const ms = this.#now();
    this.#seq = ms === this.#lastMs ? this.#seq + 1 : 0;
    this.#lastMs = ms;
    const rec = `${stamp(ms, this.#seq)} ${stream} ${tag} ${text}\n`;
    this.#bytes += Buffer.byteLength(rec);
    this.#out.write(rec);
    if (this.#bytes > this.#maxBytes && this.#rotating === undefined) this.#rotate();
  }

  #rotate(): void {
    const old = this.#out;
    this.#out = createWriteStream(`${this.#file}.new`, { flags: 'w' });
    this.#out.on('error', () => undefined);
    this.#bytes = 0;
    this.#rotating = new Promise<void>((resolve) => old.end(resolve))
      .then(() => rename(this.#file, `${this.#file}.1`))
      .then(() => rename(`${this.#file}.new`, this.#file))
      .catch(() => undefined)
      .finally(() => (this.#rotating = undefined));
  }
}

/** Parses CRI log lines (joining `P` pieces) into timestamped lines. */
export function parseCriLog(text: string): LogLine[] {
  const out: LogLine[] = [];
  const pending: Record<string, { t: number; stamp: string; text: string } | undefined> = {};
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/s.exec(raw) ?? /^(\S+) (stdout|stderr) ([FP])$/.exec(raw);
    if (m === null) continue;
    const [, st, stream, tag, body = ''] = m;
    const t = Date.parse(st!);
    const prev = pending[stream!];
    const merged = prev === undefined ? { t, stamp: st!, text: body } : { ...prev, text: prev.text + body };
    if (tag === 'P') pending[stream!] = merged;
    else {
      pending[stream!] = undefined;
      out.push(merged);
    }
  }
  for (const p of Object.values(pending)) if (p !== undefined) out.push(p);
  return out;
}

/** The lines of a run's log (its rotated part first). Empty when the run left no file. */
export async function readRunLog(file: string): Promise<LogLine[]> {
  const parts: string[] = [];
  for (const f of [`${file}.1`, file, `${file}.new`]) {
    const st = await stat(f).catch(() => undefined);
    if (st !== undefined) parts.push(await readFile(f, 'utf8'));
  }
  return parseCriLog(parts.join(''));
}
