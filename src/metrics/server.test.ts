import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { freshness, startMetricsServer } from './server.ts';

test('/livez fails with the reason when the Lease is stale, and /readyz includes the liveness checks', async () => {
  let now = 1_000_000;
  let renewed = now;
  const lease = freshness({
    name: 'node-lease',
    what: 'the node Lease was last renewed',
    lastAt: () => renewed,
    maxAgeMs: 80_000,
    now: () => now,
    startedAt: now,
  });
  let synced = false;
  const srv = await startMetricsServer(0, '127.0.0.1', {
    registry: new Registry(),
    live: [lease],
    ready: [{ name: 'pods-synced', check: () => (synced ? undefined : 'not synced') }],
  });
  const get = async (p: string) => {
    const r = await fetch(`http://127.0.0.1:${srv.port}${p}`);
    return { status: r.status, text: await r.text() };
  };
  try {
    assert.deepEqual(await get('/livez'), { status: 200, text: 'ok' });
    assert.equal((await get('/readyz')).status, 503, 'not ready before the informer syncs');
    assert.match((await get('/readyz')).text, /\[-\]pods-synced failed: not synced/);
    synced = true;
    assert.equal((await get('/readyz')).status, 200);
    now += 81_000;
    const live = await get('/livez');
    assert.equal(live.status, 503);
    assert.match(
      live.text,
      /\[-\]node-lease failed: the node Lease was last renewed 81 s ago \(more than 80 s\)/,
    );
    assert.equal((await get('/healthz')).status, 503, '/healthz is /livez');
    assert.equal((await get('/readyz')).status, 503, 'readiness includes liveness');
    renewed = now;
    assert.match(
      (await get('/readyz?verbose')).text,
      /\[\+\]node-lease ok\n\[\+\]pods-synced ok\nreadyz check passed/,
    );
  } finally {
    await srv.close();
  }
});
