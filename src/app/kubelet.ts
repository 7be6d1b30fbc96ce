import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClients } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import { KubeletAuth } from '../kubelet/auth.ts';
import { apiServerAuthBackend } from '../kubelet/auth-backend.ts';
import { ClientCA } from '../kubelet/client-ca.ts';
import { LogFollowHub } from '../kubelet/log-follow.ts';
import { startKubeletApi } from '../kubelet/server.ts';
import { ServingCertificate } from '../kubelet/serving-cert.ts';
import { UsageReader } from '../kubelet/stats.ts';
import type { PodIOProvider } from '../providers/provider.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import type { RunConfig } from './run-config.ts';

export interface KubeletApiHandle {
  /** The port it listens on (the one the Node advertises). */
  port: number;
  follow: LogFollowHub;
  usage: UsageReader;
  /** Keeps the serving certificate and the client CA current until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/**
 * The kubelet API's pieces, wired: serving certificate, client CA, webhook-mode authentication and
 * authorisation against the API server, the shared log pollers, the usage cache, and the server.
 * Listens before returning, so the Node can advertise the port it really has.
 */
export async function startKubelet(o: {
  cfg: RunConfig;
  kube: KubeClients;
  events: Pick<EventRecorder, 'post'>;
  provider: PodIOProvider;
  pods: { get(namespace: string, name: string): V1Pod | undefined; list(): V1Pod[] };
  clock: Clock;
  log: Logger;
}): Promise<KubeletApiHandle> {
  const { cfg, kube, clock } = o;
  const log = o.log.child({ component: 'kubelet-api' });
  const k = cfg.kubelet;
  const cert = new ServingCertificate({
    nodeName: cfg.node.nodeName,
    ips: [cfg.node.nodeIp],
    dnsNames: [cfg.node.nodeName],
    files: k.tlsCertFile && k.tlsKeyFile ? { cert: k.tlsCertFile, key: k.tlsKeyFile } : undefined,
    certDir: k.certDir,
    approveOwn: k.approveOwnServingCsr,
    kube,
    event: (target, type, reason, message) => o.events.post(target, type, reason, message),
    clock,
    log,
  });
  const clientCA = new ClientCA({ kube, clock, log, file: k.clientCaFile });
  await Promise.all([cert.init(), clientCA.load()]);
  const follow = new LogFollowHub({ clock, log, callsPerMinute: k.logFollowCallsPerMinute });
  const usage = new UsageReader({
    pods: () => o.pods.list(),
    read: (pods, signal) => o.provider.podUsage(pods, signal),
    clock,
    ttlMs: k.metricsCacheMs,
  });
  const server = await startKubeletApi({
    port: cfg.node.kubeletPort,
    host: k.bindAddress,
    nodeName: cfg.node.nodeName,
    cert,
    clientCA,
    auth: new KubeletAuth({ backend: apiServerAuthBackend(kube, cfg.node.nodeName), clock }),
    pods: o.pods,
    provider: o.provider,
    follow,
    usage,
    startedAt: clock.now(),
    clock,
    log,
  });
  return {
    port: server.port,
    follow,
    usage,
    run: async (signal) => {
      await Promise.all([cert.run(signal), clientCA.run(signal)]);
    },
    close: () => server.close(),
  };
}
