import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { splitKey } from '../kube/watch-stats.ts';

/** What the metrics read from their owners at scrape time (one owner per piece of state). */
export interface MetricsSources {
  /** Requests sent to the API server, by HTTP method (`WATCH` for watches). */
  kubeRequests: () => ReadonlyMap<string, number>;
  /** ECI OpenAPI calls, by action (retries included). */
  eciCalls: () => ReadonlyMap<string, number>;
  pods: () => number;
  groups: () => number;
  /** Watch restarts and relists, keyed as `WatchStats` keys them (resource and reason). */
  watchRestarts: () => ReadonlyMap<string, number>;
  watchRelists: () => ReadonlyMap<string, number>;
  /** The pod work queue, as `WorkQueue.stats()` reports it. */
  queue: () => {
    depth: number;
    adds: number;
    retries: number;
    longestRunningMs: number;
    unfinishedMs: number;
  };
  /** When the ECI status feed last brought the group index up to date (ms epoch). */
  statusFeedLastSuccessAt: () => number | undefined;
  /** Containers whose log is being polled for `kubectl logs -f` (one poller each, however many follow). */
  logPollers?: () => number;
  now: () => number;
}

const PREFIX = 'eci_virtual_node_';

/**
 * The controller's Prometheus metrics, named the way Prometheus and client-go name theirs: `_total`
 * counters are counters, latencies are histograms in seconds, the work queue has client-go's
 * `workqueue_*` figures (labelled name="pods"), and the standard `process_*` and `nodejs_*` series
 * keep their standard names so stock dashboards work. docs/metrics.md lists every series.
 *
 * Counters the owners keep (requests, calls, watch restarts) are copied in at scrape time, so nothing
 * on the hot path pays for them; the histograms are observed as things happen.
 */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly #kubeLatency: Histogram<'verb' | 'code'>;
  readonly #eciLatency: Histogram<'action' | 'code'>;
  readonly #podStartup: Histogram;

  constructor(o: { version: string; kubernetesVersion: string }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: `${PREFIX}build_info`,
      help: 'Always 1; the labels say which build runs',
      labelNames: ['version', 'nodejs_version', 'kubernetes_api'],
      registers,
    }).set({ version: o.version, nodejs_version: process.version, kubernetes_api: o.kubernetesVersion }, 1);
    this.#kubeLatency = new Histogram({
      name: `${PREFIX}kube_request_duration_seconds`,
      help: 'Kubernetes API server request latency (watches excluded), by verb and HTTP status code',
      labelNames: ['verb', 'code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#eciLatency = new Histogram({
      name: `${PREFIX}eci_request_duration_seconds`,
      help: 'ECI OpenAPI call latency per attempt, by action and result (OK or the cloud error code)',
      labelNames: ['action', 'code'],
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers,
    });
    this.#podStartup = new Histogram({
      name: `${PREFIX}pod_startup_duration_seconds`,
      help: 'Time from a pod being bound to the virtual node to its status saying Running',
      buckets: [0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300, 600],
      registers,
    });
  }

  /** For `createKubeClients({ onRequest })`. */
  readonly observeKubeRequest = (verb: string, code: string, seconds: number): void => {
    this.#kubeLatency.observe({ verb, code }, seconds);
  };

  /** For `EciClient.observe`. */
  readonly observeEciCall = (action: string, code: string, seconds: number): void => {
    this.#eciLatency.observe({ action, code }, seconds);
  };

  /** For `PodController`'s `onPodRunning`. */
  readonly observePodRunning = (seconds: number): void => {
    this.#podStartup.observe(seconds);
  };

  /** Registers the series read from their owners at scrape time. */
  read(src: MetricsSources): void {
    const registers = [this.registry];
    const counterFromMap = (
      name: string,
      help: string,
      label: string,
      read: () => ReadonlyMap<string, number>,
    ) =>
      new Counter({
        name,
        help,
        labelNames: [label],
        registers,
        collect() {
          this.reset();
          for (const [k, v] of read()) this.inc({ [label]: k }, v);
        },
      });
    counterFromMap(
      `${PREFIX}kube_requests_total`,
      'Requests sent to the Kubernetes API server, by HTTP method (WATCH for watches)',
      'method',
      src.kubeRequests,
    );
    counterFromMap(
      `${PREFIX}eci_calls_total`,
      'ECI OpenAPI calls made, retries included, by action',
      'action',
      src.eciCalls,
    );
    const byResourceAndReason = (name: string, help: string, read: () => ReadonlyMap<string, number>) =>
      new Counter({
        name,
        help,
        labelNames: ['resource', 'reason'],
        registers,
        collect() {
          // The owner keeps the running totals; a scrape copies them in.
          this.reset();
          for (const [k, v] of read()) this.inc(splitKey(k), v);
        },
      });
    byResourceAndReason(
      `${PREFIX}watch_restarts_total`,
      'Watch requests that ended and were reopened, by resource and why they ended',
      src.watchRestarts,
    );
    byResourceAndReason(
      `${PREFIX}watch_relists_total`,
      'Full lists of a watched resource, by resource and why (initial, expired)',
      src.watchRelists,
    );
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge(`${PREFIX}pods`, 'Pods bound to the virtual node', src.pods);
    gauge(`${PREFIX}container_groups`, 'ECI container groups owned by the virtual node', src.groups);
    if (src.logPollers) {
      gauge(
        `${PREFIX}log_pollers`,
        'Containers whose log is polled for kubectl logs -f (one poller per container)',
        src.logPollers,
      );
    }
    gauge(
      `${PREFIX}status_feed_lag_seconds`,
      'Seconds since the ECI status feed last brought the group index up to date',
      () => {
        const at = src.statusFeedLastSuccessAt();
        return at === undefined ? 0 : Math.max(0, (src.now() - at) / 1000);
      },
    );
    // client-go's workqueue metrics, labelled name="pods".
    const queueGauge = (
      name: string,
      help: string,
      read: (s: ReturnType<MetricsSources['queue']>) => number,
    ) =>
      new Gauge({
        name: `${PREFIX}workqueue_${name}`,
        help,
        labelNames: ['name'],
        registers,
        collect() {
          this.set({ name: 'pods' }, read(src.queue()));
        },
      });
    const queueCounter = (
      name: string,
      help: string,
      read: (s: ReturnType<MetricsSources['queue']>) => number,
    ) =>
      new Counter({
        name: `${PREFIX}workqueue_${name}`,
        help,
        labelNames: ['name'],
        registers,
        collect() {
          this.reset();
          this.inc({ name: 'pods' }, read(src.queue()));
        },
      });
    queueGauge('depth', 'Keys waiting in the work queue', (s) => s.depth);
    queueCounter('adds_total', 'Keys added to the work queue', (s) => s.adds);
    queueCounter('retries_total', 'Keys requeued with backoff after a failure', (s) => s.retries);
    queueGauge(
      'longest_running_processor_seconds',
      'How long the longest-running key in progress has been processed',
      (s) => s.longestRunningMs / 1000,
    );
    queueGauge(
      'unfinished_work_seconds',
      'Seconds of work in progress, summed over the keys being processed',
      (s) => s.unfinishedMs / 1000,
    );
  }
}
