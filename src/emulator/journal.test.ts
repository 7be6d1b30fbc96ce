import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { decodeLine, encodeLine, FileJournal, type JournalRecord } from './journal.ts';
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

async function openJournal(dir: string, state: State, compactBytes = 1 << 30): Promise<FileJournal> {
  return FileJournal.open(
    { dir, fsync: true, compactBytes, logger, source: () => state.records() },
    state.apply,
  );
}

describe('journal lines', () => {
  it('round-trip and detect corruption', () => {
    const line = encodeLine({ t: 'del', id: 'a' });
    assert.deepEqual(decodeLine(line.trimEnd()), { t: 'del', id: 'a' });
    assert.equal(decodeLine(line.trimEnd().replace('"a"', '"b"')), null);
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
    const torn = encodeLine({ t: 'imc', r: cache('c') });
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

  it('falls back to the previous snapshot when the newest one is incomplete', async () => {
    const dir = await tempDir();
    const s1 = new State();
    const j = await openJournal(dir, s1);
    await j.append({ t: 'imc', r: cache('a') });
    await j.close();
    // A crash during compaction leaves a newer snapshot without its end line.
    const files = await readdir(dir);
    const gen = Math.max(...files.map((f) => Number(/\.(\d+)\./.exec(f)?.[1] ?? 0)));
    await writeFile(join(dir, `snapshot.${gen + 1}.jsonl`), encodeLine({ t: 'imc', r: cache('ghost') }));
    const s2 = new State();
    await (await openJournal(dir, s2)).close();
    assert.deepEqual([...s2.caches.keys()], ['a']);
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
