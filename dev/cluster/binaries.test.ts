import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, hasCode } from '../../src/util/errors.ts';
import {
  controlPlaneBinDir,
  controlPlaneBuilt,
  ensureControlPlaneBinaries,
  metricsServerBinDir,
} from './binaries.ts';
import { isAlive } from './processes.ts';

describe('control-plane binaries', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'evn-bin-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uses a finished build from the cache without building', async () => {
    const env = { ECI_VN_CACHE: join(dir, 'done'), PATH: '/nonexistent' };
    for (const d of [controlPlaneBinDir(env), metricsServerBinDir(env)]) {
      await mkdir(d, { recursive: true });
      await writeFile(join(d, '.complete'), '');
    }
    assert.equal(await controlPlaneBuilt(env), true);
    assert.equal(await ensureControlPlaneBinaries({ env, progress: () => {} }), controlPlaneBinDir(env));
  });

  it('builds metrics-server beside the control plane, in a directory of its own version', () => {
    const env = { ECI_VN_CACHE: '/c' };
    assert.equal(controlPlaneBinDir(env), '/c/control-plane/k8s-v1.34.4-etcd-v3.6.16/bin');
    assert.equal(metricsServerBinDir(env), '/c/control-plane/metrics-server-v0.8.0/bin');
  });

  it('fails with GO_MISSING when a build is needed and Go is not on PATH', async () => {
    const env = { ECI_VN_CACHE: join(dir, 'nogo'), PATH: '/nonexistent' };
    await assert.rejects(ensureControlPlaneBinaries({ env, progress: () => {} }), (e) =>
      hasCode(e, ErrorCodes.GO_MISSING),
    );
  });

  it('fails with BUILD_FAILED and the build output when the build fails', async () => {
    const fakeBin = join(dir, 'fakebin');
    await mkdir(fakeBin);
    const go = join(fakeBin, 'go');
    await writeFile(
      go,
      '#!/bin/sh\n[ "$1" = env ] && { echo go1.25.0; exit 0; }\necho "simulated go failure" >&2\nexit 1\n',
    );
    await chmod(go, 0o755);
    const env = { ECI_VN_CACHE: join(dir, 'broken'), PATH: `${fakeBin}:/usr/bin:/bin`, HOME: dir };
    const lines: string[] = [];
    await assert.rejects(
      ensureControlPlaneBinaries({ env, progress: (l) => lines.push(l) }),
      (e: Error) => hasCode(e, ErrorCodes.BUILD_FAILED) && /simulated go failure/.test(e.message),
    );
    assert.match(lines[0] ?? '', /building control plane \(first time\)/);
    assert.ok(
      lines.some((l) => l.includes('simulated go failure')),
      'the build output streams to progress',
    );
  });

  it('stops the whole build, not only bash, when aborted', async () => {
    const fakeBin = join(dir, 'slowbin');
    await mkdir(fakeBin);
    const pidFile = join(dir, 'slow-go.pid');
    await writeFile(
      join(fakeBin, 'go'),
      `#!/bin/sh\n[ "$1" = env ] && { echo go1.25.0; exit 0; }\necho $$ > ${pidFile}\nexec sleep 60\n`,
      { mode: 0o755 },
    );
    const env = { ECI_VN_CACHE: join(dir, 'slow'), PATH: `${fakeBin}:/usr/bin:/bin`, HOME: dir };
    const abort = new AbortController();
    const build = ensureControlPlaneBinaries({ env, progress: () => {}, signal: abort.signal });
    let goPid = 0;
    for (let i = 0; i < 100 && !goPid; i++) {
      await sleep(50);
      goPid = Number(await readFile(pidFile, 'utf8').catch(() => '0'));
    }
    assert.ok(goPid > 0, 'the fake go started');
    abort.abort();
    await assert.rejects(build, (e: Error) => e.name === 'AbortError');
    for (let i = 0; i < 40 && (await isAlive(goPid)); i++) await sleep(50);
    assert.equal(await isAlive(goPid), false);
  });
});
