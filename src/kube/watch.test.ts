import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { runWatchLoop, MIN_WATCH_TIMEOUT_S } from './watch.ts';
import { WatchStats, splitKey } from './watch-stats.ts';
import type { Clock } from '../util/clock.ts';
import { createLogger } from '../util/log.ts';

interface Obj {
  metadata: { name: string; resourceVersion: string };
}

const obj = (name: string, rv: number): Obj => ({ metadata: { name, resourceVersion: String(rv) } });
const line = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;
const gone = { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' };

/**
 * One scripted answer per watch request, in order; when the script runs out the request is held open
 * until the test ends, like a quiet watch.
 */
type Answer = (res: http.ServerResponse) => unknown;

/** Sleeps return at once but are recorded; `now` is real time plus the time slept. */
class InstantClock implements Clock {
  readonly sleeps: number[] = [];
  #slept = 0;
  now(): number {
    return Date.now() + this.#slept;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps.push(ms);
    this.#slept += ms;
    await new Promise((r) => setImmediate(r));
  }
}

describe('runWatchLoop against a scripted API server', () => {
  let server: http.Server;
  let base: string;
  let script: Answer[] = [];
  let watches: URLSearchParams[] = [];
  const held: http.ServerResponse[] = [];
  /** Connections to drop, after the first watch, before the server answers again. */
  let refuse = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (refuse > 0 && watches.length >= 1) {
        refuse--;
        req.socket.destroy();
        return;
      }
      watches.push(url.searchParams);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      const next = script.shift();
      if (next) void next(res);
      else held.push(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  beforeEach(() => {
    script = [];
    watches = [];
    refuse = 0;
  });

  /**
   * Runs the loop until `until` says stop (checked after every event and list), with the list
   * answering `listed` and the jitter pinned to half of each delay.
   */
  async function run(opts: {
    lists: () => { items: Obj[]; resourceVersion: string };
    until: (seen: { events: string[]; lists: number; watches: number }) => boolean;
  }) {
    const clock = new InstantClock();
    const stats = new WatchStats();
    const stop = new AbortController();
    const seen = { events: [] as string[], lists: 0, watches: 0 };
    const check = () => {
      seen.watches = watches.length;
      if (opts.until(seen)) stop.abort();
    };
    const timer = setInterval(check, 5);
    await runWatchLoop<Obj>(
      {
        kube: {
          watchStats: stats,
          openWatch: (path, { signal, idleTimeoutMs }) =>
            request(`${base}${path}`, { signal, bodyTimeout: idleTimeoutMs }),
        },
        path: '/api/v1/pods',
        fieldSelector: 'spec.nodeName=n',
        list: async () => {
          seen.lists++;
          const l = opts.lists();
          check();
          return l;
        },
        onEvent: (type, o) => {
          seen.events.push(`${type} ${o.metadata.name}@${o.metadata.resourceVersion}`);
          check();
        },
        clock,
        log: createLogger({ level: 'silent', name: 'watch-test' }),
        random: () => 0.5,
      },
      stop.signal,
    );
    clearInterval(timer);
    const counts = (m: ReadonlyMap<string, number>) =>
      Object.fromEntries([...m].map(([k, v]) => [`${splitKey(k).resource}/${splitKey(k).reason}`, v]));
    return {
      seen,
      sleeps: clock.sleeps,
      restarts: counts(stats.restarts()),
      relists: counts(stats.relists()),
    };
  }

  test('asks for bookmarks and a randomised server-side timeout of 5-10 minutes', async () => {
    const r = await run({ lists: () => ({ items: [], resourceVersion: '7' }), until: (s) => s.watches >= 1 });
    const q = watches[0]!;
    assert.equal(q.get('watch'), '1');
    assert.equal(q.get('allowWatchBookmarks'), 'true');
    assert.equal(q.get('resourceVersion'), '7');
    assert.equal(q.get('fieldSelector'), 'spec.nodeName=n');
    const t = Number(q.get('timeoutSeconds'));
    assert.ok(t >= MIN_WATCH_TIMEOUT_S && t < 2 * MIN_WATCH_TIMEOUT_S, `timeoutSeconds ${t}`);
    assert.deepEqual(r.relists, { 'pods/initial': 1 });
  });

  test('a watch the server ends resumes from the last resourceVersion at once, without a relist', async () => {
    script = [
      (res) => res.end(line('ADDED', obj('a', 11)) + line('BOOKMARK', obj('', 15))),
      (res) => res.end(line('MODIFIED', obj('a', 16))),
    ];
    const r = await run({
      lists: () => ({ items: [obj('x', 10)], resourceVersion: '10' }),
      until: (s) => s.watches >= 3,
    });
    assert.equal(r.seen.lists, 1, 'listed once');
    assert.deepEqual(r.seen.events, ['ADDED x@10', 'ADDED a@11', 'MODIFIED a@16']);
    assert.deepEqual(
      watches.map((q) => q.get('resourceVersion')),
      ['10', '15', '16'],
      'each watch resumes where the last one ended, bookmarks included',
    );
    assert.deepEqual(r.sleeps, [], 'no backoff for a normal end');
    assert.deepEqual(r.restarts, { 'pods/closed': 2 });
  });

  test('a quiet watch the server closes after a while is a normal end, not a failure', async () => {
    script = [(res) => void setTimeout(() => res.end(), 1_100)];
    const r = await run({ lists: () => ({ items: [], resourceVersion: '3' }), until: (s) => s.watches >= 2 });
    assert.deepEqual(r.sleeps, []);
    assert.deepEqual(r.restarts, { 'pods/closed': 1 });
    assert.equal(watches[1]!.get('resourceVersion'), '3');
  });

  test('410 Gone relists after a jittered delay that grows while the server keeps answering 410', async () => {
    script = Array.from({ length: 4 }, () => (res: http.ServerResponse) => res.end(line('ERROR', gone)));
    const r = await run({
      lists: () => ({ items: [], resourceVersion: '1' }),
      until: (s) => s.lists >= 5,
    });
    // Full jitter pinned at one half: 1 s, 2 s, 4 s, 8 s backoff → 500, 1000, 2000, 4000 ms.
    assert.deepEqual(r.sleeps, [500, 1000, 2000, 4000]);
    assert.deepEqual(r.relists, { 'pods/initial': 1, 'pods/expired': 4 });
    assert.deepEqual(r.restarts, { 'pods/expired': 4 });
  });

  test('an HTTP 410 answer relists too', async () => {
    const statusServer = http.createServer((_req, res) => {
      res.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify(gone));
    });
    await new Promise<void>((r) => statusServer.listen(0, '127.0.0.1', r));
    const saved = base;
    base = `http://127.0.0.1:${(statusServer.address() as AddressInfo).port}`;
    try {
      const r = await run({ lists: () => ({ items: [], resourceVersion: '1' }), until: (s) => s.lists >= 2 });
      assert.deepEqual(r.relists, { 'pods/initial': 1, 'pods/expired': 1 });
    } finally {
      base = saved;
      statusServer.closeAllConnections();
      await new Promise((r) => statusServer.close(r));
    }
  });

  test('ERROR events back off, do not reset the backoff, and resume without relisting', async () => {
    const boom = { kind: 'Status', code: 500, reason: 'InternalError', message: 'etcd hiccup' };
    script = Array.from({ length: 3 }, () => (res: http.ServerResponse) => res.end(line('ERROR', boom)));
    const r = await run({ lists: () => ({ items: [], resourceVersion: '9' }), until: (s) => s.watches >= 4 });
    assert.equal(r.seen.lists, 1);
    assert.deepEqual(r.sleeps, [125, 250, 500], 'the backoff grows across ERROR events');
    assert.deepEqual(r.restarts, { 'pods/error-event': 3 });
    assert.ok(watches.every((q) => q.get('resourceVersion') === '9'));
  });

  test('a watch that closes at once without a word backs off instead of reopening at once', async () => {
    script = Array.from({ length: 3 }, () => (res: http.ServerResponse) => res.end());
    const r = await run({ lists: () => ({ items: [], resourceVersion: '2' }), until: (s) => s.watches >= 4 });
    assert.deepEqual(r.sleeps, [125, 250, 500]);
    assert.deepEqual(r.restarts, { 'pods/closed-early': 3 });
  });

  test('while the server is unreachable the loop retries, capped at seconds, then resumes without relisting', async () => {
    script = [(res) => res.end(line('ADDED', obj('a', 21)))];
    refuse = 7;
    const r = await run({
      lists: () => ({ items: [], resourceVersion: '20' }),
      until: (s) => s.watches >= 2,
    });
    assert.equal(r.seen.lists, 1, 'no relist after an outage the watch can resume from');
    assert.equal(watches[1]!.get('resourceVersion'), '21');
    assert.deepEqual(r.sleeps, [125, 250, 500, 1000, 2000, 2500, 2500], 'full jitter over a 5 s cap');
    assert.deepEqual(r.restarts, { 'pods/closed': 1, 'pods/connect': 7 });
  });

  test('a line split across chunks, with multi-byte characters, is decoded whole', async () => {
    const named = obj('ünïcødé-名前', 31);
    const bytes = Buffer.from(line('ADDED', named));
    script = [
      async (res) => {
        for (let i = 0; i < bytes.length; i += 3) {
          res.write(bytes.subarray(i, i + 3));
          await new Promise((r) => setImmediate(r));
        }
        res.end();
      },
    ];
    const r = await run({
      lists: () => ({ items: [], resourceVersion: '30' }),
      until: (s) => s.events.length >= 1,
    });
    assert.deepEqual(r.seen.events, ['ADDED ünïcødé-名前@31']);
  });
});
