import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { splitKey } from '../kube/watch-stats.ts';

export interface MetricsSources {
  /** Requests sent to the API server, by HTTP method. */
  kubeRequests: () => ReadonlyMap<string, number>;
  /** ECI OpenAPI calls, by action. */
  eciCalls: () => ReadonlyMap<string, number>;
  /** Pods known to the controller, and container groups in its index. */
  pods: () => number;
  groups: () => number;
  ready: () => boolean;
  /** Watch restarts and relists, keyed as `WatchStats` keys them (resource and reason). */
  watchRestarts: () => ReadonlyMap<string, number>;
  watchRelists: () => ReadonlyMap<string, number>;
  /** Containers whose log is being polled for `kubectl logs -f` (one poller each, however many follow). */
  logPollers?: () => number;
}

/**
 * Prometheus metrics and health on one small HTTP server. Counters are read from their owners at
 * scrape time (one owner per piece of state), so nothing on the hot path pays for metrics.
 */
export async function startMetricsServer(
  port: number,
  host: string,
  src: MetricsSources,
): Promise<{ port: number; close(): Promise<void> }> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'eci_virtual_node_' });
  const fromMap = (name: string, help: string, label: string, read: () => ReadonlyMap<string, number>) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        for (const [k, v] of read()) this.set({ [label]: k }, v);
      },
    });
  fromMap(
    'eci_virtual_node_kube_requests_total',
    'Requests sent to the Kubernetes API server',
    'method',
    src.kubeRequests,
  );
  fromMap(
    'eci_virtual_node_eci_calls_total',
    'ECI OpenAPI calls made (including retries)',
    'action',
    src.eciCalls,
  );
  const byResourceAndReason = (name: string, help: string, read: () => ReadonlyMap<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: ['resource', 'reason'],
      registers: [registry],
      collect() {
        // The owner keeps the running totals; a scrape copies them in.
        this.reset();
        for (const [k, v] of read()) this.inc(splitKey(k), v);
      },
    });
  byResourceAndReason(
    'eci_virtual_node_watch_restarts_total',
    'Watch requests that ended and were reopened, by resource and why they ended',
    src.watchRestarts,
  );
  byResourceAndReason(
    'eci_virtual_node_watch_relists_total',
    'Full lists of a watched resource, by resource and why (initial, expired)',
    src.watchRelists,
  );
  new Gauge({
    name: 'eci_virtual_node_pods',
    help: 'Pods bound to the virtual node',
    registers: [registry],
    collect() {
      this.set(src.pods());
    },
  });
  new Gauge({
    name: 'eci_virtual_node_container_groups',
    help: 'ECI container groups owned by the virtual node',
    registers: [registry],
    collect() {
      this.set(src.groups());
    },
  });
  if (src.logPollers) {
    const read = src.logPollers;
    new Gauge({
      name: 'eci_virtual_node_log_pollers',
      help: 'Containers whose log is polled for kubectl logs -f (one poller per container)',
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
    } else if (req.url === '/readyz') {
      const ok = src.ready();
      res.writeHead(ok ? 200 : 503).end(ok ? 'ok' : 'not ready');
    } else {
      res.writeHead(404).end();
    }
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
