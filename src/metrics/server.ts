import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** One named check; returns undefined when fine, else why not. */
export interface HealthCheck {
  name: string;
  check: () => string | undefined;
}

/**
 * `/metrics`, and health the way kube-apiserver serves it: `/livez` (restart me) and `/readyz` (send me
 * traffic) answer `ok` or list what failed; `?verbose` lists every check as `[+]name ok` or
 * `[-]name failed: reason`; `/livez/<check>` asks one. `/healthz` is `/livez`, for older probes.
 */
export async function startMetricsServer(
  port: number,
  host: string,
  o: { registry: Registry; live: HealthCheck[]; ready: HealthCheck[] },
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://controller');
    if (url.pathname === '/metrics') {
      o.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': o.registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    const m = /^\/(livez|readyz|healthz)(?:\/([\w-]+))?$/.exec(url.pathname);
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    // Readiness includes liveness: a controller that should be restarted takes no traffic either.
    let checks = m[1] === 'readyz' ? [...o.live, ...o.ready] : o.live;
    if (m[2]) {
      checks = checks.filter((c) => c.name === m[2]);
      if (checks.length === 0) {
        res.writeHead(404).end(`no check ${m[2]}\n`);
        return;
      }
    }
    const results = checks.map((c) => ({ name: c.name, failure: safe(c.check) }));
    const failed = results.filter((r) => r.failure !== undefined);
    const verbose = url.searchParams.has('verbose');
    const lines = results
      .filter((r) => verbose || r.failure !== undefined)
      .map((r) => (r.failure === undefined ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.failure}`));
    const what = m[1] === 'healthz' ? 'livez' : m[1];
    lines.push(failed.length ? `${what} check failed` : `${what} check passed`);
    res.writeHead(failed.length ? 503 : 200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(verbose || failed.length ? `${lines.join('\n')}\n` : 'ok');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function safe(check: () => string | undefined): string | undefined {
  try {
    return check();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Liveness: fails when `lastAt` is older than `maxAgeMs` (and something has happened at all). */
export function freshness(o: {
  name: string;
  what: string;
  lastAt: () => number;
  maxAgeMs: number;
  now: () => number;
  startedAt: number;
}): HealthCheck {
  return {
    name: o.name,
    check: () => {
      // Before the first success, age counts from the start (startupProbe covers the first minutes).
      const at = Math.max(o.lastAt(), o.startedAt);
      const age = o.now() - at;
      return age > o.maxAgeMs
        ? `${o.what} ${Math.round(age / 1000)} s ago (more than ${Math.round(o.maxAgeMs / 1000)} s)`
        : undefined;
    },
  };
}
