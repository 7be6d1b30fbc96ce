import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { ErrorCodes, ProductError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { GroupRecord, ImageCacheRecord } from './model.ts';

/**
 * Durable state: an append-only journal of whole-record upserts and deletes, plus snapshots.
 *
 * - `append` resolves only after the record is on disk (write + fdatasync). Records that arrive while a
 *   sync is in flight are written together by the next one (group commit), so N concurrent writers cost
 *   about two syncs, not N.
 * - Every line is `<crc32 hex> <seq> <json>`: the CRC covers the sequence number and the record, and
 *   sequence numbers run 0, 1, 2 … through a file (0 is a header naming the file's kind and
 *   generation). A flipped byte, a lost, repeated or misplaced line, or a file put in the wrong place is
 *   therefore detected, not read past.
 * - Generation g is `snapshot.g.jsonl` (the state before `journal.g.log`, complete only when it ends
 *   with an `end` line counting its records) followed by `journal.g.log`. Compaction opens journal
 *   g+1, then writes snapshot g+1 from the live state while writes continue into journal g+1. Records
 *   are whole-record upserts, so a snapshot that caught some later changes is still correct once
 *   journal g+1 is replayed over it. Generation g is kept until g+2 exists: the previous generation is
 *   what a damaged newest snapshot is rebuilt from.
 *
 * Damage, on start:
 * - a torn last line of the newest journal (a crash mid-write; that record was never acknowledged) is
 *   the only damage cut off silently;
 * - a damaged snapshot is moved to `quarantine/` and the state is rebuilt from the previous
 *   generation, losing nothing;
 * - anything else (a bad line with good ones after it, a missing journal) means acknowledged writes
 *   cannot be read back: the emulator refuses to start (EVN_STATE_CORRUPT, naming the file, line and
 *   byte) unless `recovery: 'salvage'` is asked for, which moves the damaged files to `quarantine/`,
 *   keeps every intact record and says how many lines were lost.
 *
 * The directory is 0700 and the files 0600: groups hold resolved Secret values (environment
 * variables, volumes).
 */

export type JournalRecord =
  | { t: 'group'; g: GroupRecord }
  | { t: 'del'; id: string }
  | { t: 'imc'; r: ImageCacheRecord }
  | { t: 'imc-del'; id: string }
  | { t: 'reset' };

type FileKind = 'snapshot' | 'journal';
type Header = { t: 'hdr'; v: 2; kind: FileKind; gen: number };
type Line = JournalRecord | Header | { t: 'end'; n: number };

/** What to do when acknowledged records cannot be read back. */
export type Recovery = 'refuse' | 'salvage';

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

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const QUARANTINE = 'quarantine';

function crcHex(s: string): string {
  return crc32(s).toString(16).padStart(8, '0');
}

export function encodeLine(seq: number, rec: Line): string {
  const payload = `${seq} ${JSON.stringify(rec)}`;
  return `${crcHex(payload)} ${payload}\n`;
}

/** The sequence number and record on a line, or null when the line is torn or corrupt. */
export function decodeLine(line: string): { seq: number; rec: Line } | null {
  if (line.length < 12 || line[8] !== ' ') return null;
  const payload = line.slice(9);
  if (crcHex(payload) !== line.slice(0, 8)) return null;
  const sp = payload.indexOf(' ');
  if (sp < 1 || !/^\d+$/.test(payload.slice(0, sp))) return null;
  try {
    return { seq: Number(payload.slice(0, sp)), rec: JSON.parse(payload.slice(sp + 1)) as Line };
  } catch {
    return null;
  }
}

/**
 * A line of the first format (`<crc32 hex> <json>`, no sequence numbers, no header), read once so an
 * existing state directory upgrades in place; the first start rewrites it in the current format.
 */
function decodeV1Line(line: string): Line | null {
  if (line[8] !== ' ' || line[9] !== '{') return null;
  const json = line.slice(9);
  if (crcHex(json) !== line.slice(0, 8)) return null;
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

interface Damage {
  /** 1-based line number and byte offset of the first bad line. */
  line: number;
  offset: number;
  why: string;
}

interface FileScan {
  /** Records in order (headers and end lines removed), intact ones only. */
  records: JournalRecord[];
  /** Bytes up to the end of the last good line before any damage. */
  goodBytes: number;
  /** A snapshot's `end` line was read and its count matched. */
  complete: boolean;
  /** Only the last line is bad or unterminated: what a crash mid-write leaves. */
  tornTail: boolean;
  /** Damage that is not a torn last line. */
  damage: Damage | undefined;
  /** Lines that could not be read (the torn tail not counted). */
  lostLines: number;
}

/**
 * Reads a file and judges every line: CRC, sequence, header. Never stops at the first bad line, so
 * it can tell a torn tail (nothing good after it) from damage in the middle (good lines after it).
 */
async function scanFile(file: string, kind: FileKind, gen: number): Promise<FileScan> {
  const scan: FileScan = {
    records: [],
    goodBytes: 0,
    complete: false,
    tornTail: false,
    damage: undefined,
    lostLines: 0,
  };
  let expected = 0;
  let lineNo = 0;
  let offset = 0;
  let v1 = false;
  /** The first bad line not yet known to be followed by a good one. */
  let pendingBad: Damage | undefined;
  let pendingCount = 0;
  let carry = Buffer.alloc(0);
  let n = 0;
  const judge = (text: string, length: number) => {
    lineNo++;
    const at = offset;
    offset += length;
    const bad = (why: string) => {
      pendingBad ??= { line: lineNo, offset: at, why };
      pendingCount++;
    };
    let seq: number;
    let rec: Line;
    if (lineNo === 1 && decodeLine(text) === null && decodeV1Line(text) !== null) v1 = true;
    if (v1) {
      const r = decodeV1Line(text);
      if (r === null) return bad('CRC mismatch or unreadable record');
      seq = expected;
      rec = r;
    } else {
      const d = decodeLine(text);
      if (d === null) return bad('CRC mismatch or unreadable record');
      ({ seq, rec } = d);
      if (seq < expected) return bad(`sequence ${seq} again or out of order, ${expected} was expected`);
      if (seq === 0) {
        const h = rec as Header;
        if (h.t !== 'hdr' || h.v !== 2 || h.kind !== kind || h.gen !== gen) {
          return bad(`header says ${JSON.stringify(rec)}, expected ${kind} generation ${gen}`);
        }
      }
      if (seq > expected && pendingBad === undefined) {
        // Intact lines on both sides of a gap: lines went missing.
        scan.damage ??= { line: lineNo, offset: at, why: `sequence ${seq} where ${expected} was expected` };
      }
    }
    // A good line: whatever was bad before it was damage in the middle of the file.
    if (pendingBad !== undefined) scan.damage ??= pendingBad;
    // Records lost are the numbers skipped (bad lines in between are those records, or garbage).
    scan.lostLines += seq - expected;
    pendingBad = undefined;
    pendingCount = 0;
    expected = seq + 1;
    if (scan.damage === undefined) scan.goodBytes = offset;
    if (rec.t === 'hdr') return;
    if (rec.t === 'end') {
      scan.complete = rec.n === scan.records.length && scan.damage === undefined;
      return;
    }
    scan.records.push(rec);
  };
  const stream = createReadStream(file);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let buf = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
      let nl: number;
      while ((nl = buf.indexOf(10)) >= 0) {
        judge(buf.subarray(0, nl).toString('utf8'), nl + 1);
        buf = buf.subarray(nl + 1);
        if (++n % 2000 === 0) await yieldToLoop();
      }
      carry = Buffer.from(buf);
    }
  } finally {
    stream.destroy();
  }
  // Bytes after the last newline are a line a crash cut short.
  if (carry.length > 0) {
    lineNo++;
    pendingBad ??= { line: lineNo, offset, why: 'unterminated last line' };
    pendingCount++;
  }
  if (pendingBad !== undefined) {
    if (pendingCount === 1 && pendingBad.line === lineNo) scan.tornTail = true;
    else {
      scan.damage ??= pendingBad;
      scan.lostLines += pendingCount;
    }
  }
  if (!v1 && lineNo > 0 && expected === 0 && scan.damage === undefined && !scan.tornTail) {
    scan.damage = { line: 1, offset: 0, why: 'no header line' };
  }
  return scan;
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
  /** When acknowledged records cannot be read back: refuse to start (default) or salvage. */
  recovery?: Recovery;
}

export interface LoadReport {
  /** The generation the state was rebuilt from. */
  base: number | undefined;
  /** Files moved to quarantine (relative to the state directory). */
  quarantined: string[];
  /** Lines that could not be read and were dropped (salvage only). */
  lostLines: number;
}

export class FileJournal implements Journal {
  readonly stats: JournalStats = { records: 0, syncs: 0, bytes: 0, compactions: 0 };
  /** What loading found and did. */
  report: LoadReport = { base: undefined, quarantined: [], lostLines: 0 };
  readonly #opts: FileJournalOptions;
  #fh: FileHandle | undefined;
  #gen = 0;
  #seq = 0;
  #journalBytes = 0;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #compacting: Promise<void> | undefined;
  #broken: unknown;
  #closed = false;

  private constructor(opts: FileJournalOptions) {
    this.#opts = opts;
  }

  /**
   * Loads the state in `dir` (calling `apply` for every record in order), then compacts it into a
   * fresh generation and returns the open journal. Throws EVN_STATE_CORRUPT when acknowledged records
   * cannot be read back and `recovery` is not 'salvage'.
   */
  static async open(opts: FileJournalOptions, apply: (rec: JournalRecord) => void): Promise<FileJournal> {
    const j = new FileJournal(opts);
    await mkdir(opts.dir, { recursive: true, mode: DIR_MODE });
    await j.#tighten(opts.dir, DIR_MODE);
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
    for (const f of files)
      if (/^(snapshot|journal)\.\d+\./.test(f)) await j.#tighten(join(opts.dir, f), FILE_MODE);

    const loaded = await j.#load(snapshots, journals);
    for (const rec of loaded) apply(rec);
    j.#gen = Math.max(0, ...snapshots, ...journals) + 1;
    await j.#writeSnapshot(j.#gen);
    await j.#openJournal(j.#gen);
    await j.#removeGenerationsBefore(j.#gen - 1);
    return j;
  }

  /** Narrows permissions of what we own; a directory shared on purpose keeps its mode, with a warning. */
  async #tighten(path: string, mode: number): Promise<void> {
    const st = await stat(path);
    if ((st.mode & 0o777) === mode) return;
    try {
      await chmod(path, mode);
    } catch (err) {
      this.#opts.logger.warn(
        { path, err },
        'emulator state: cannot restrict permissions; it holds secret values',
      );
    }
  }

  #corrupt(file: string, d: Damage, detail: string): ProductError {
    return new ProductError(
      ErrorCodes.STATE_CORRUPT,
      `emulator state in ${this.#opts.dir} is damaged: ${file} line ${d.line} (byte ${d.offset}): ${d.why}; ${detail}. ` +
        'Refusing to start so that no acknowledged change is silently lost. To start from what can be read, ' +
        `keeping the damaged files under ${join(this.#opts.dir, QUARANTINE)}: eci-virtual-node emulator ` +
        `--state-dir ${this.#opts.dir} --recover-state`,
    );
  }

  /** The records to replay, in order; decides on damage as the class comment says. */
  async #load(snapshots: number[], journals: number[]): Promise<JournalRecord[]> {
    const { dir, logger } = this.#opts;
    const salvage = this.#opts.recovery === 'salvage';
    const quarantine: string[] = [];
    // The newest snapshot that is complete and undamaged is the base; a damaged one is set aside and
    // the previous generation (snapshot g-1 + journal g-1) stands in for it.
    let base: number | undefined;
    let records: JournalRecord[] = [];
    for (const g of [...snapshots].reverse()) {
      const file = `snapshot.${g}.jsonl`;
      const s = await scanFile(join(dir, file), 'snapshot', g);
      if (s.complete && s.damage === undefined && !s.tornTail) {
        base = g;
        records = s.records;
        break;
      }
      logger.warn(
        { file, line: s.damage?.line, why: s.damage?.why ?? (s.tornTail ? 'torn' : 'incomplete') },
        'emulator state: a damaged snapshot goes to quarantine; rebuilding from the previous generation',
      );
      quarantine.push(file);
    }
    const chain = journals.filter((g) => base === undefined || g >= base);
    // Every generation from the base on must have its journal: a gap is lost acknowledged writes.
    const first = base ?? chain[0];
    const newest = Math.max(-1, ...snapshots, ...journals);
    if (first !== undefined) {
      for (let g = first; g <= newest; g++) {
        if (chain.includes(g)) continue;
        // The newest generation may lack a journal if a crash came between its snapshot and journal.
        if (g === newest && snapshots.includes(g)) continue;
        const d: Damage = { line: 0, offset: 0, why: 'the file is missing' };
        if (!salvage) throw this.#corrupt(`journal.${g}.log`, d, 'the changes it held are gone');
        logger.error(
          { file: `journal.${g}.log` },
          'emulator state: a journal is missing; salvaging the rest',
        );
      }
    }
    if (base === undefined && quarantine.length > 0 && !salvage) {
      // Snapshots existed and none is intact: the state before the oldest journal is gone.
      const d: Damage = { line: 0, offset: 0, why: 'no intact snapshot to start from' };
      throw this.#corrupt(quarantine[0]!, d, 'the state before the oldest journal is unreadable');
    }
    let lost = 0;
    for (const [i, g] of chain.entries()) {
      const file = `journal.${g}.log`;
      const s = await scanFile(join(dir, file), 'journal', g);
      records.push(...s.records);
      if (s.damage !== undefined) {
        if (!salvage) {
          throw this.#corrupt(
            file,
            s.damage,
            `${s.lostLines} line(s) cannot be read and intact records follow`,
          );
        }
        lost += s.lostLines;
        quarantine.push(file);
        logger.error(
          { file, line: s.damage.line, offset: s.damage.offset, why: s.damage.why, lostLines: s.lostLines },
          'emulator state: salvaging a damaged journal; its unreadable lines are lost',
        );
      } else if (s.tornTail) {
        if (i === chain.length - 1) {
          // A crash mid-write: the torn record was never acknowledged.
          logger.warn({ file, keptBytes: s.goodBytes }, 'emulator state: cutting a torn last line');
          await truncate(join(dir, file), s.goodBytes);
        } else {
          const d: Damage = {
            line: 0,
            offset: s.goodBytes,
            why: 'torn last line in a journal that is not the newest',
          };
          if (!salvage) throw this.#corrupt(file, d, 'a later generation was written after it');
          quarantine.push(file);
        }
      }
    }
    this.report = { base, quarantined: await this.#quarantine(quarantine), lostLines: lost };
    return records;
  }

  /** Moves damaged files into quarantine/<time>/, never deleting them. */
  async #quarantine(files: string[]): Promise<string[]> {
    if (files.length === 0) return [];
    const dir = join(QUARANTINE, new Date().toISOString().replace(/[:.]/g, '-'));
    await mkdir(join(this.#opts.dir, dir), { recursive: true, mode: DIR_MODE });
    await this.#tighten(join(this.#opts.dir, QUARANTINE), DIR_MODE);
    const moved: string[] = [];
    for (const f of files) {
      await rename(join(this.#opts.dir, f), join(this.#opts.dir, dir, f));
      moved.push(join(dir, f));
    }
    await fsyncDir(this.#opts.dir);
    this.#opts.logger.warn({ files: moved }, 'emulator state: damaged files kept in quarantine');
    return moved;
  }

  async #openJournal(gen: number): Promise<void> {
    this.#fh = await open(join(this.#opts.dir, `journal.${gen}.log`), 'a', FILE_MODE);
    const header = encodeLine(0, { t: 'hdr', v: 2, kind: 'journal', gen });
    await this.#fh.write(header);
    await this.#fh.datasync();
    this.#seq = 1;
    this.#journalBytes = header.length;
    await fsyncDir(this.#opts.dir);
  }

  async #writeSnapshot(gen: number): Promise<void> {
    const final = join(this.#opts.dir, `snapshot.${gen}.jsonl`);
    const tmp = `${final}.tmp`;
    const fh = await open(tmp, 'w', FILE_MODE);
    try {
      let buf: string[] = [encodeLine(0, { t: 'hdr', v: 2, kind: 'snapshot', gen })];
      let size = 0;
      let n = 0;
      const flush = async () => {
        if (buf.length === 0) return;
        await fh.write(buf.join(''));
        buf = [];
        size = 0;
        await yieldToLoop();
      };
      for (const rec of this.#opts.source()) {
        n++;
        const line = encodeLine(n, rec);
        buf.push(line);
        size += line.length;
        if (size > 256 * 1024) await flush();
      }
      buf.push(encodeLine(n + 1, { t: 'end', n }));
      await flush();
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
    await fsyncDir(this.#opts.dir);
  }

  async #removeGenerationsBefore(gen: number): Promise<void> {
    for (const f of await readdir(this.#opts.dir)) {
      const m = /^(?:snapshot|journal)\.(\d+)\.(?:jsonl|log)$/.exec(f);
      if (m !== null && Number(m[1]) < gen) await rm(join(this.#opts.dir, f), { force: true });
    }
  }

  append(rec: JournalRecord): Promise<void> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    if (this.#closed) return Promise.reject(new Error('emulator journal is closed'));
    return new Promise<void>((resolve, reject) => {
      // Numbered when written, so lines stay in sequence across a rotation.
      this.#queue.push({ line: JSON.stringify(rec), resolve, reject });
      this.#flushing ??= this.#flushLoop();
    });
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        const first = this.#seq;
        const data = Buffer.from(
          batch
            .map((p, i) => {
              const payload = `${first + i} ${p.line}`;
              return `${crcHex(payload)} ${payload}\n`;
            })
            .join(''),
        );
        try {
          const fh = this.#fh;
          if (fh === undefined) throw new Error('emulator journal is not open');
          let off = 0;
          while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
          if (this.#opts.fsync) await fh.datasync();
          this.#seq = first + batch.length;
          this.stats.syncs++;
          this.stats.records += batch.length;
          this.stats.bytes += data.length;
          this.#journalBytes += data.length;
          for (const p of batch) p.resolve();
        } catch (err) {
          this.#broken = err;
          this.#opts.logger.error({ err }, 'emulator journal write failed; further writes are refused');
          for (const p of [...batch, ...this.#queue.splice(0)]) p.reject(err);
          return;
        }
        if (this.#journalBytes > this.#opts.compactBytes && this.#compacting === undefined)
          await this.#rotate();
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /** Starts generation gen+1 and writes its snapshot in the background. */
  async #rotate(): Promise<void> {
    const next = this.#gen + 1;
    const old = this.#fh;
    await this.#openJournal(next);
    this.#gen = next;
    await old?.close();
    this.#compacting = (async () => {
      try {
        await this.#writeSnapshot(next);
        // Generation next-1 stays as the one a damaged snapshot `next` would be rebuilt from.
        await this.#removeGenerationsBefore(next - 1);
        this.stats.compactions++;
      } catch (err) {
        this.#opts.logger.error(
          { err },
          'emulator snapshot failed; the journal keeps growing until the next try',
        );
      } finally {
        this.#compacting = undefined;
      }
    })();
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing !== undefined || this.#compacting !== undefined) {
      await this.#flushing;
      await this.#compacting;
    }
    await this.#fh?.close();
    this.#fh = undefined;
  }
}
