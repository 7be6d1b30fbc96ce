import { randomUUID } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, ProductError } from '../../src/util/errors.ts';
import { isAlive } from './processes.ts';

/**
 * Runs `fn` while holding `lockFile`, so that concurrent `cluster up`/`down` on one state directory
 * (e.g. several test files starting the shared test cluster) run one after the other instead of
 * starting two etcds. A lock whose holder process is gone is taken over. Two waiters that find the
 * same stale lock at the same instant can still both proceed; that needs a crash and a race at once.
 */
export async function withLock<T>(
  lockFile: string,
  opts: { timeoutMs: number; signal?: AbortSignal; onWait?: (holder: number) => void },
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let told = false;
  // The PID is written before the lock appears (link is atomic), so no reader sees an empty lock.
  const mine = `${lockFile}.${process.pid}.${randomUUID()}`;
  await writeFile(mine, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      try {
        await link(mine, lockFile);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (!Number.isSafeInteger(holder) || holder <= 0 || !(await isAlive(holder))) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw new ProductError(
          ErrorCodes.TIMEOUT,
          `another eci-virtual-node process (pid ${holder}) is still starting or stopping this cluster; ` +
            `if that process is gone, remove ${lockFile}`,
        );
      }
      if (!told) opts.onWait?.(holder);
      told = true;
      await sleep(200, undefined, { signal: opts.signal });
    }
  } finally {
    await rm(mine, { force: true });
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}
