import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import type { Logger } from '../util/log.ts';
import type { GroupRecord, ImageCacheRecord } from './model.ts';

/**
 * Durable state: an append-only journal of whole-record upserts and deletes, plus snapshots.
 *
 * - `append` resolves only after the record is on disk (write + fdatasync). Records that arrive while a
 *   sync is in flight are written together by the next one (group commit), so N concurrent writers cost
 *   about two syncs, not N.
 * - Every line is `<crc32 hex> <json>`; a torn or corrupt tail (a crash mid-write) is detected and cut
 *   off on start.
 * - Generation g is `snapshot.g.jsonl` (the state before `journal.g.log`, complete only when it ends
 *   with an `end` line) followed by `journal.g.log`. Compaction opens journal g+1, then writes snapshot
 *   g+1 from the live state while writes continue into journal g+1. Records are whole-record upserts, so
 *   a snapshot that caught some later changes is still correct once journal g+1 is replayed over it.
 *   Only when snapshot g+1 is complete are generation g's files removed; a crash at any point leaves a
 *   loadable set.
 */

export type JournalRecord =
  | { t: 'group'; g: GroupRecord }
  | { t: 'del'; id: string }
  | { t: 'imc'; r: ImageCacheRecord }
  | { t: 'imc-del'; id: string }
  | { t: 'reset' };

type Line = JournalRecord | { t: 'end'; n: number };

export interface Journal {
  /** Resolves once `rec` is durable; rejects if it cannot be made durable. */
  append(rec: JournalRecord): Promise<void>;
  /** Waits for pending writes and closes files. */
  close(): Promise<void>;
  readonly stats: JournalStats;
}

export interface JournalStats {
  records: number;
  syncs: number;
  bytes: number;
  compactions: number;
}

/** A journal for state that need not survive the process. */
export class MemoryJournal implements Journal {
  readonly stats: JournalStats = { records: 0, syncs: 0, bytes: 0, compactions: 0 };
  append(): Promise<void> {
    this.stats.records++;
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function encodeLine(rec: Line): string {
  const json = JSON.stringify(rec);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** The record on a line, or null when the line is torn or corrupt. */
export function decodeLine(line: string): Line | null {
  const sp = line.indexOf(' ');
  if (sp !== 8) return null;
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return null;
  try {
    return JSON.parse(json) as Line;
  } catch {
    return null;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Reads lines of a file; stops at the first bad line and reports where the good part ends. */
async function readLines(
  file: string,
  onRecord: (rec: Line) => void,
): Promise<{ goodBytes: number; bad: boolean; last: Line | undefined }> {
  let goodBytes = 0;
  let last: Line | undefined;
  let n = 0;
  let carry = Buffer.alloc(0);
  const stream = createReadStream(file);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let buf = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
      let nl: number;
      while ((nl = buf.indexOf(10)) >= 0) {
        const rec = decodeLine(buf.subarray(0, nl).toString('utf8'));
        if (rec === null) return { goodBytes, bad: true, last };
        goodBytes += nl + 1;
        last = rec;
        onRecord(rec);
        buf = buf.subarray(nl + 1);
        if (++n % 2000 === 0) await yieldToLoop();
      }
      carry = Buffer.from(buf);
    }
  } finally {
    stream.destroy();
  }
  // Bytes after the last newline are a line the crash cut short.
  return { goodBytes, bad: carry.length > 0, last };
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface FileJournalOptions {
  dir: string;
  fsync: boolean;
  compactBytes: number;
  logger: Logger;
  /** The live state as records, for snapshots. */
  source: () => Iterable<JournalRecord>;
}

export class FileJournal implements Journal {
  readonly stats: JournalStats = { records: 0, syncs: 0, bytes: 0, compactions: 0 };
  private readonly opts: FileJournalOptions;
  private fh: FileHandle | undefined;
  private gen = 0;
  private journalBytes = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private compacting: Promise<void> | undefined;
  private broken: unknown;
  private closed = false;

  private constructor(opts: FileJournalOptions) {
    this.opts = opts;
  }

  /**
   * Loads the state in `dir` (calling `apply` for every record in order), then compacts it into a
   * fresh generation and returns the open journal.
   */
  static async open(opts: FileJournalOptions, apply: (rec: JournalRecord) => void): Promise<FileJournal> {
    const j = new FileJournal(opts);
    await mkdir(opts.dir, { recursive: true });
    const files = await readdir(opts.dir);
    for (const f of files) if (f.endsWith('.tmp')) await rm(join(opts.dir, f), { force: true });
    const gens = (re: RegExp) =>
      files
        .map((f) => re.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
    const snapshots = gens(/^snapshot\.(\d+)\.jsonl$/);
    const journals = gens(/^journal\.(\d+)\.log$/);

    // The newest complete snapshot is the base; a torn one (crash during compaction) is skipped.
    let base: number | undefined;
    for (const g of [...snapshots].reverse()) {
      const records: JournalRecord[] = [];
      const r = await readLines(join(opts.dir, `snapshot.${g}.jsonl`), (rec) => {
        if (rec.t !== 'end') records.push(rec);
      });
      if (!r.bad && r.last?.t === 'end') {
        for (const rec of records) apply(rec);
        base = g;
        break;
      }
      opts.logger.warn({ file: `snapshot.${g}.jsonl` }, 'emulator state: ignoring an incomplete snapshot');
    }
    const toReplay = journals.filter((g) => base === undefined || g >= base);
    for (const [i, g] of toReplay.entries()) {
      const file = join(opts.dir, `journal.${g}.log`);
      const r = await readLines(file, (rec) => {
        if (rec.t !== 'end') apply(rec);
      });
      if (r.bad) {
        const lastFile = i === toReplay.length - 1;
        opts.logger.warn(
          { file: `journal.${g}.log`, keptBytes: r.goodBytes, tail: lastFile },
          'emulator state: cutting a torn or corrupt journal tail',
        );
        if (lastFile) await truncate(file, r.goodBytes);
      }
    }
    j.gen = Math.max(0, ...snapshots, ...journals) + 1;
    await j.writeSnapshot(j.gen);
    await j.openJournal(j.gen);
    await j.removeGenerationsBefore(j.gen);
    return j;
  }

  private async openJournal(gen: number): Promise<void> {
    this.fh = await open(join(this.opts.dir, `journal.${gen}.log`), 'a');
    this.journalBytes = 0;
    await fsyncDir(this.opts.dir);
  }

  private async writeSnapshot(gen: number): Promise<void> {
    const final = join(this.opts.dir, `snapshot.${gen}.jsonl`);
    const tmp = `${final}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      let buf: string[] = [];
      let size = 0;
      let n = 0;
      const flush = async () => {
        if (buf.length === 0) return;
        await fh.write(buf.join(''));
        buf = [];
        size = 0;
        await yieldToLoop();
      };
      for (const rec of this.opts.source()) {
        const line = encodeLine(rec);
        buf.push(line);
        size += line.length;
        n++;
        if (size > 256 * 1024) await flush();
      }
      buf.push(encodeLine({ t: 'end', n }));
      await flush();
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
    await fsyncDir(this.opts.dir);
  }

  private async removeGenerationsBefore(gen: number): Promise<void> {
    for (const f of await readdir(this.opts.dir)) {
      const m = /^(?:snapshot|journal)\.(\d+)\.(?:jsonl|log)$/.exec(f);
      if (m !== null && Number(m[1]) < gen) await rm(join(this.opts.dir, f), { force: true });
    }
  }

  append(rec: JournalRecord): Promise<void> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new Error('emulator journal is closed'));
    const line = encodeLine(rec);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const data = Buffer.from(batch.map((p) => p.line).join(''));
        try {
          const fh = this.fh;
          if (fh === undefined) throw new Error('emulator journal is not open');
          let off = 0;
          while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
          if (this.opts.fsync) await fh.datasync();
          this.stats.syncs++;
          this.stats.records += batch.length;
          this.stats.bytes += data.length;
          this.journalBytes += data.length;
          for (const p of batch) p.resolve();
        } catch (err) {
          this.broken = err;
          this.opts.logger.error({ err }, 'emulator journal write failed; further writes are refused');
          for (const p of [...batch, ...this.queue.splice(0)]) p.reject(err);
          return;
        }
        if (this.journalBytes > this.opts.compactBytes && this.compacting === undefined) await this.rotate();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Starts generation gen+1 and writes its snapshot in the background. */
  private async rotate(): Promise<void> {
    const next = this.gen + 1;
    const old = this.fh;
    await this.openJournal(next);
    this.gen = next;
    await old?.close();
    this.compacting = (async () => {
      try {
        await this.writeSnapshot(next);
        await this.removeGenerationsBefore(next);
        this.stats.compactions++;
      } catch (err) {
        this.opts.logger.error(
          { err },
          'emulator snapshot failed; the journal keeps growing until the next try',
        );
      } finally {
        this.compacting = undefined;
      }
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing !== undefined || this.compacting !== undefined) {
      await this.flushing;
      await this.compacting;
    }
    await this.fh?.close();
    this.fh = undefined;
  }
}
