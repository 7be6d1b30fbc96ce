import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAlive, readOwnedPid, startDetached, stopProcess, tailLog } from './processes.ts';

// A long-running stand-in for a control-plane binary whose arguments carry the state-dir marker.
const IDLE = 'console.log("hello from", process.argv.at(-1)); setInterval(() => {}, 1000);';

describe('detached processes', () => {
  let dir: string;
  const marker = () => join(dir, 'marker');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'evn-proc-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts a detached process with a PID file and its output in the log, and stops it', async () => {
    const spec = {
      name: 'idler',
      binary: process.execPath,
      args: ['-e', IDLE, marker()],
      cwd: dir,
      logFile: join(dir, 'idler.log'),
      pidFile: join(dir, 'idler.pid'),
    };
    await writeFile(spec.logFile, 'output of an earlier run\n');
    const proc = await startDetached(spec);
    try {
      assert.equal(Number((await readFile(spec.pidFile, 'utf8')).trim()), proc.pid);
      const owner = { binary: process.execPath, marker: marker() };
      assert.equal(await readOwnedPid(spec.pidFile, owner), proc.pid);
      assert.equal(await readOwnedPid(spec.pidFile, { ...owner, marker: join(dir, 'other') }), undefined);
      assert.equal(await readOwnedPid(spec.pidFile, { ...owner, binary: '/usr/bin/etcd' }), undefined);

      let tail = '';
      for (let i = 0; i < 100 && !tail.includes('hello'); i++) {
        await new Promise((r) => setTimeout(r, 50));
        tail = await tailLog(spec.logFile, proc.logOffset);
      }
      assert.equal(tail, `hello from ${marker()}`, 'only this run is in the tail');
    } finally {
      await stopProcess(proc.pid);
    }
    assert.equal(await isAlive(proc.pid), false);
    assert.equal(await readOwnedPid(spec.pidFile, { binary: process.execPath, marker: marker() }), undefined);
  });

  it('does not claim a PID that now belongs to another program', async () => {
    // A process we did not start (different arguments) whose PID ended up in our PID file.
    const stranger = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => stranger.once('spawn', resolve));
      const pidFile = join(dir, 'stale.pid');
      await writeFile(pidFile, `${stranger.pid}\n`);
      assert.equal(await readOwnedPid(pidFile, { binary: process.execPath, marker: marker() }), undefined);
      assert.equal(await isAlive(stranger.pid!), true);
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  it('reports a missing PID file, garbage in it, and a dead PID as not ours', async () => {
    const owner = { binary: process.execPath, marker: marker() };
    assert.equal(await readOwnedPid(join(dir, 'missing.pid'), owner), undefined);
    await writeFile(join(dir, 'junk.pid'), 'not a pid\n');
    assert.equal(await readOwnedPid(join(dir, 'junk.pid'), owner), undefined);
    await writeFile(join(dir, 'one.pid'), '1\n');
    assert.equal(await readOwnedPid(join(dir, 'one.pid'), owner), undefined);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const stubborn = await startDetached({
      name: 'stubborn',
      binary: process.execPath,
      args: [
        '-e',
        'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000);',
        marker(),
      ],
      cwd: dir,
      logFile: join(dir, 'stubborn.log'),
      pidFile: join(dir, 'stubborn.pid'),
    });
    for (let i = 0; i < 100 && !(await tailLog(stubborn.logFile, stubborn.logOffset)).includes('up'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await stopProcess(stubborn.pid, 300);
    assert.equal(await isAlive(stubborn.pid), false);
  });
});
