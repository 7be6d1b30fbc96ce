/**
 * Lets pending promise continuations and I/O callbacks run (one macrotask turn each) until `done`
 * holds, for unit tests on a fake clock: nothing waits on wall time, and a condition that never
 * comes fails after `turns` turns with `what` in the message instead of hanging the run.
 */
export async function settle(what: string, done: () => boolean, turns = 2000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (done()) return;
    await new Promise((r) => setImmediate(r));
  }
  if (!done()) throw new Error(`never happened: ${what}`);
}

/** Lets `n` macrotask turns pass, so whatever was going to happen without time moving has happened. */
export async function turns(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}
