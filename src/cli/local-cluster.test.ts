// An installation without the development harness (the image: bin/ and src/ only) still answers help
// and --version, and `cluster`/`demo` say why they cannot run instead of crashing on a missing module.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('CLI without dev/ (as installed from the image)', () => {
  let dir: string;
  const cli = (...args: string[]) =>
    run(process.execPath, [join(dir, 'bin/eci-virtual-node.js'), ...args]).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'evn-no-dev-'));
    for (const part of ['bin', 'src', 'package.json'])
      await cp(join(ROOT, part), join(dir, part), { recursive: true });
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers --version and --help, listing cluster and demo', async () => {
    assert.equal((await cli('--version')).code, 0);
    const help = await cli('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /\bcluster\b/);
    assert.match(help.stdout, /\bdemo\b/);
  });

  for (const args of [['cluster', 'status'], ['demo']]) {
    it(`\`${args[0]}\` exits with an error naming dev/cluster and the source checkout`, async () => {
      const r = await cli(...args);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /\[EVN_NOT_FOUND\].*dev\/cluster.*source checkout/);
    });
  }
});
