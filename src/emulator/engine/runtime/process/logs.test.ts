import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { selectLines } from '../../logs.ts';
import { LogWriter, parseCriLog, readRunLog } from './logs.ts';

describe('container log files', () => {
  it('writes each line stamped, in the CRI format, splitting long lines and keeping order', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'evn-logs-'));
    try {
      const file = path.join(dir, 'run.log');
      let t = Date.parse('2024-05-01T10:00:00.123Z');
      const w = new LogWriter(file, { maxBytes: 1 << 20, now: () => t });
      w.write('stdout', Buffer.from('hello\nwor'));
      w.write('stderr', Buffer.from('oops\n'));
      t += 1000;
      w.write('stdout', Buffer.from('ld\nno newline'));
      w.write('stdout', Buffer.from(`\n${'x'.repeat(20_000)}\n`));
      await w.close();
      const text = await readFile(file, 'utf8');
      assert.match(text.split('\n')[0]!, /^2024-05-01T10:00:00\.123000000Z stdout F hello$/);
      assert.match(
        text.split('\n')[1]!,
        /^2024-05-01T10:00:00\.123000001Z stderr F oops$/,
        'a sequence keeps lines of one millisecond in order',
      );
      assert.ok(text.includes(' stdout P '), 'a line over 16 KiB is written in pieces');
      const lines = await readRunLog(file);
      assert.deepEqual(
        lines.map((l) => l.text.slice(0, 12)),
        ['hello', 'oops', 'world', 'no newline', 'xxxxxxxxxxxx'],
      );
      assert.equal(lines[4]?.text.length, 20_000, 'pieces are joined again');
      assert.equal(lines[2]?.t, Date.parse('2024-05-01T10:00:01.123Z'));
      assert.equal(
        selectLines(lines, {
          previous: false,
          tail: 2,
          since: lines[2]!.t,
          limitBytes: 20,
          timestamps: false,
          now: t,
        }),
        'no newline\nxxxxxxxxx',
        'tail, since and the byte limit apply',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rotates once past its size, and reads the rotated part first', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'evn-logs-'));
    try {
      const file = path.join(dir, 'run.log');
      const w = new LogWriter(file, { maxBytes: 200, now: () => 0 });
      for (let i = 0; i < 20; i++) {
        w.write('stdout', Buffer.from(`line ${i}\n`));
        await new Promise((r) => setTimeout(r, 5));
      }
      await w.close();
      const lines = (await readRunLog(file)).map((l) => l.text);
      assert.ok(lines.length < 20, 'older parts are dropped');
      assert.equal(lines.at(-1), 'line 19');
      assert.deepEqual(
        lines,
        [...lines].sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))),
        'in order',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('skips what is not a CRI line', () => {
    assert.deepEqual(
      parseCriLog(
        'garbage\n2024-05-01T10:00:00.000000000Z stdout F ok\n2024-05-01T10:00:00.000000000Z stdout F\n',
      ).map((l) => l.text),
      ['ok', ''],
    );
  });
});
