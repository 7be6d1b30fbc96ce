import assert from 'node:assert/strict';
import { appendFile, chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { pino } from 'pino';
import { hasCode } from '../../util/errors.ts';
import { decodeLine, encodeLine, FileJournal, type JournalRecord, type Recovery } from './journal.ts';
import type { ImageCacheRecord } from './model.ts';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'eci-journal-'));
  dirs.push(d);
  return d;
}

function cache(id: string, name = id): ImageCacheRecord {
  return {
    id,
    seq: 1,
    name,
    images: ['nginx'],
    size: 20,
    status: 'Ready',
    progress: '100%',
    createdAt: 0,
    statusSince: 0,
    tags: [],
    containerGroupId: 'eci-x',
    events: [],
  };
}

/** A tiny state machine standing in for the store. */
class State {
  readonly caches = new Map<string, ImageCacheRecord>();
  apply = (rec: JournalRecord) => {
    if (rec.t === 'imc') this.caches.set(rec.r.id, rec.r);
    if (rec.t === 'imc-del') this.caches.delete(rec.id);
    if (rec.t === 'reset') this.caches.clear();
  };
  *records(): Iterable<JournalRecord> {
    for (const r of this.caches.values()) yield { t: 'imc', r };
  }
}

async function openJournal(
  dir: string,
  state: State,
  compactBytes = 1 << 30,
  recovery: Recovery = 'refuse',
): Promise<FileJournal> {
  return FileJournal.open(
    { dir, fsync: true, compactBytes, logger, recovery, source: () => state.records() },
    state.apply,
  );
}

/** Writes six image caches a..f into a fresh state directory, one record per journal line. */
async function sixRecords(): Promise<string> {
  const dir = await tempDir();
  const j = await openJournal(dir, new State());
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) await j.append({ t: 'imc', r: cache(id) });
  await j.close();
  return dir;
}

async function newest(dir: string, kind: 'journal' | 'snapshot'): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.startsWith(`${kind}.`));
  files.sort((x, y) => Number(/\.(\d+)\./.exec(x)![1]) - Number(/\.(\d+)\./.exec(y)![1]));
  return join(dir, files.at(-1)!);
}

/** Flips one byte inside line `line` (1-based) of a file. */
async function flipByte(file: string, line: number): Promise<void> {
  const buf = await readFile(file);
  let at = 0;
  for (let i = 1; i < line; i++) at = buf.indexOf(10, at) + 1;
  at += 20;
  buf[at] = buf[at]! ^ 0x04;
  await writeFile(file, buf);
}

async function loadError(dir: string): Promise<Error> {
  try {
    await (await openJournal(dir, new State())).close();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the state to be refused');
}

describe('journal lines', () => {
  it('round-trip and detect corruption, including a changed sequence number', () => {
    const line = encodeLine(7, { t: 'del', id: 'a' });
    assert.deepEqual(decodeLine(line.trimEnd()), { seq: 7, rec: { t: 'del', id: 'a' } });
    assert.equal(decodeLine(line.trimEnd().replace('"a"', '"b"')), null);
    assert.equal(decodeLine(line.trimEnd().replace(' 7 ', ' 8 ')), null);
    assert.equal(decodeLine(line.slice(0, 12)), null);
  });
});

describe('FileJournal', () => {
  it('makes concurrent appends durable with few syncs (group commit) and replays them', async () => {
    const dir = await tempDir();
    const s1 = new State();
    const j = await openJournal(dir, s1);
    const writes = Array.from({ length: 200 }, (_, i) => {
      const r = cache(`imc-${i}`);
      s1.caches.set(r.id, r);
      return j.append({ t: 'imc', r });
    });
    await Promise.all(writes);
    assert.equal(j.stats.records, 200);
    assert.ok(j.stats.syncs < 20, `200 concurrent appends took ${j.stats.syncs} syncs`);
    await j.append({ t: 'imc-del', id: 'imc-7' });
    await j.close();

    const s2 = new State();
    const j2 = await openJournal(dir, s2);
    await j2.close();
    assert.equal(s2.caches.size, 199);
    assert.ok(!s2.caches.has('imc-7'));
  });

  it('cuts a torn tail and keeps everything before it', async () => {
    const dir = await tempDir();
    const s1 = new State();
    const j = await openJournal(dir, s1);
    await j.append({ t: 'imc', r: cache('a') });
    await j.append({ t: 'imc', r: cache('b') });
    await j.close();
    const journal = (await readdir(dir)).find((f) => f.startsWith('journal.'))!;
    const torn = encodeLine(3, { t: 'imc', r: cache('c') });
    await appendFile(join(dir, journal), torn.slice(0, torn.length - 7));

    const s2 = new State();
    const j2 = await openJournal(dir, s2);
    await j2.append({ t: 'imc', r: cache('d') });
    await j2.close();
    assert.deepEqual([...s2.caches.keys()].sort(), ['a', 'b']);

    const s3 = new State();
    await (await openJournal(dir, s3)).close();
    assert.deepEqual([...s3.caches.keys()].sort(), ['a', 'b', 'd']);
  });

  it('sets aside a newest snapshot that is incomplete and rebuilds from the previous generation', async () => {
    const dir = await tempDir();
    const s1 = new State();
    const j = await openJournal(dir, s1);
    await j.append({ t: 'imc', r: cache('a') });
    await j.close();
    const files = await readdir(dir);
    const gen = Math.max(...files.map((f) => Number(/\.(\d+)\./.exec(f)?.[1] ?? 0)));
    await writeFile(
      join(dir, `snapshot.${gen + 1}.jsonl`),
      encodeLine(0, { t: 'hdr', v: 2, kind: 'snapshot', gen: gen + 1 } as never) +
        encodeLine(1, { t: 'imc', r: cache('ghost') }),
    );
    const s2 = new State();
    const j2 = await openJournal(dir, s2);
    await j2.close();
    assert.deepEqual([...s2.caches.keys()], ['a']);
    assert.deepEqual(
      j2.report.quarantined.map((f) => f.split('/').at(-1)),
      [`snapshot.${gen + 1}.jsonl`],
    );
  });

  it('compacts when the journal grows, without losing writes made meanwhile', async () => {
    const dir = await tempDir();
    const s1 = new State();
    const j = await openJournal(dir, s1, 4096);
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const r = cache(`imc-${i}`, `round-${round}`);
          s1.caches.set(r.id, r);
          return j.append({ t: 'imc', r });
        }),
      );
    }
    await j.close();
    assert.ok(j.stats.compactions >= 1, 'compacted at least once');
    const s2 = new State();
    await (await openJournal(dir, s2)).close();
    assert.equal(s2.caches.size, 50);
    for (const r of s2.caches.values()) assert.equal(r.name, 'round-4');
    const snapshot = (await readdir(dir)).find((f) => f.startsWith('snapshot.'))!;
    assert.match(await readFile(join(dir, snapshot), 'utf8'), /"t":"end"/);
  });
});

describe('FileJournal damage', () => {
  it('a flipped byte mid-journal stops the start, names the file and line, and changes nothing', async () => {
    const dir = await sixRecords();
    const journal = await newest(dir, 'journal');
    await flipByte(journal, 3); // the header is line 1, so this is record b
    const before = await readFile(journal);
    const err = await loadError(dir);
    assert.ok(hasCode(err, 'EVN_STATE_CORRUPT'), String(err));
    assert.match(err.message, /journal\.\d+\.log line 3 \(byte \d+\)/);
    assert.match(err.message, /--recover-state/);
    assert.deepEqual(await readFile(journal), before, 'nothing was cut');
  });

  it('with recovery salvage, every intact record survives and the damaged journal is kept aside', async () => {
    const dir = await sixRecords();
    const journal = await newest(dir, 'journal');
    await flipByte(journal, 3);
    const s = new State();
    const j = await openJournal(dir, s, 1 << 30, 'salvage');
    await j.close();
    assert.deepEqual([...s.caches.keys()].sort(), ['a', 'c', 'd', 'e', 'f']);
    assert.equal(j.report.lostLines, 1);
    assert.equal(j.report.quarantined.length, 1);
    assert.ok((await readdir(join(dir, 'quarantine'), { recursive: true })).some((f) => f.endsWith('.log')));
    // The salvaged state is clean from now on.
    const again = new State();
    await (await openJournal(dir, again)).close();
    assert.equal(again.caches.size, 5);
  });

  it('a line lost from the middle of a journal (sequence gap) is damage, not a shorter history', async () => {
    const dir = await sixRecords();
    const journal = await newest(dir, 'journal');
    const lines = (await readFile(journal, 'utf8')).split('\n');
    lines.splice(3, 1);
    await writeFile(journal, lines.join('\n'));
    const err = await loadError(dir);
    assert.ok(hasCode(err, 'EVN_STATE_CORRUPT'));
    assert.match(err.message, /sequence 4 where 3 was expected/);
  });

  it('a bad line in the newest snapshot loses nothing: the previous generation rebuilds it', async () => {
    const dir = await sixRecords();
    // A second start writes snapshot g+1 holding a..f and keeps generation g beside it.
    await (await openJournal(dir, new State())).close();
    const snapshot = await newest(dir, 'snapshot');
    await flipByte(snapshot, 4);
    const s = new State();
    const j = await openJournal(dir, s);
    await j.close();
    assert.deepEqual([...s.caches.keys()].sort(), ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.equal(j.report.quarantined.length, 1);
  });

  it('a missing journal in the chain is damage', async () => {
    const dir = await sixRecords();
    await (await openJournal(dir, new State())).close();
    const files = (await readdir(dir)).filter((f) => f.startsWith('journal.')).sort();
    // Keep the snapshots, drop the older journal: generation g's changes are gone.
    const snapshots = (await readdir(dir)).filter((f) => f.startsWith('snapshot.')).sort();
    await rm(join(dir, snapshots.at(-1)!));
    await rm(join(dir, files[0]!));
    const err = await loadError(dir);
    assert.ok(hasCode(err, 'EVN_STATE_CORRUPT'));
  });

  it('reads a state directory of the first format and rewrites it in the current one', async () => {
    const dir = await tempDir();
    const v1 = (rec: unknown) => {
      const json = JSON.stringify(rec);
      return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
    };
    await writeFile(join(dir, 'snapshot.4.jsonl'), v1({ t: 'imc', r: cache('a') }) + v1({ t: 'end', n: 1 }));
    await writeFile(join(dir, 'journal.4.log'), v1({ t: 'imc', r: cache('b') }));
    const s = new State();
    await (await openJournal(dir, s)).close();
    assert.deepEqual([...s.caches.keys()].sort(), ['a', 'b']);
    const again = new State();
    await (await openJournal(dir, again)).close();
    assert.deepEqual([...again.caches.keys()].sort(), ['a', 'b']);
  });

  it('keeps the directory 0700 and its files 0600, tightening what an older version left open', async () => {
    const dir = await sixRecords();
    await chmod(dir, 0o755);
    for (const f of await readdir(dir)) await chmod(join(dir, f), 0o644);
    await (await openJournal(dir, new State())).close();
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    for (const f of await readdir(dir)) assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);
  });
});
