import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import type { ContainerRef, PodIOProvider, SessionResult } from '../providers/provider.ts';
import type { Clock } from '../util/clock.ts';
import { describeError, ErrorCodes, ProductError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import type { KubeletAuth } from './auth.ts';
import { httpStatusFor } from './errors.ts';
import type { LogFollowHub } from './log-follow.ts';
import { containerOf, serveContainerLogs } from './logs.ts';
import {
  PORT_FORWARD_PROTOCOL,
  queryPorts,
  servePortForwardSpdy,
  servePortForwardWebSocket,
} from './port-forward.ts';
import {
  acceptWebSocket,
  isWebSocket,
  negotiate,
  offeredProtocols,
  refuseUpgrade,
  spdySession,
  SPDY_REMOTECOMMAND_PROTOCOLS,
  streamOptions,
  webSocketSession,
  type Session,
} from './remotecommand.ts';
import { resourceMetrics, statsSummary, type UsageReader } from './stats.ts';

export interface KubeletApiOptions {
  port: number;
  /** Listen address; default all interfaces. */
  host?: string;
  nodeName: string;
  /** The serving certificate now, and a way to hear of the next one. */
  cert: {
    readonly current: { certPem: string; keyPem: string };
    onChange(cb: (p: { certPem: string; keyPem: string }) => void): void;
  };
  /** The client CA bundle now (undefined: none published yet), and its changes. */
  clientCA: { readonly pem: string | undefined; onChange(cb: (pem: string) => void): void };
  auth: Pick<KubeletAuth, 'check'>;
  /** Pods bound to the node, from the informer's cache. */
  pods: { get(namespace: string, name: string): V1Pod | undefined; list(): V1Pod[] };
  provider: PodIOProvider;
  follow: LogFollowHub;
  usage: UsageReader;
  /** When the node (this process) started, for /stats/summary. */
  startedAt: number;
  clock: Clock;
  log: Logger;
  /** How long a client has to open its streams after the upgrade (kubelet: 30 s). */
  streamCreationTimeoutMs?: number;
  /** A stream connection without traffic this long is closed (kubelet: 4 h). */
  streamIdleTimeoutMs?: number;
}

export interface KubeletApi {
  port: number;
  close(): Promise<void>;
}

type Route =
  | { kind: 'healthz' }
  | { kind: 'pods' }
  | { kind: 'summary' }
  | { kind: 'resource' }
  | { kind: 'logs'; namespace: string; pod: string; container: string }
  | { kind: 'exec' | 'attach'; namespace: string; pod: string; uid?: string; container: string }
  | { kind: 'portForward'; namespace: string; pod: string; uid?: string };

/** The endpoint a path names, or undefined (404). Path segments are URL-decoded. */
export function route(path: string): Route | undefined {
  const parts = path.split('/').slice(1).map(decodeURIComponent);
  const [head, ...rest] = parts;
  switch (head) {
    case 'healthz':
      return rest.length === 0 ? { kind: 'healthz' } : undefined;
    case 'pods':
      return rest.length === 0 || (rest.length === 1 && rest[0] === '') ? { kind: 'pods' } : undefined;
    case 'stats':
      return rest.length === 1 && rest[0] === 'summary' ? { kind: 'summary' } : undefined;
    case 'metrics':
      return rest.length === 1 && rest[0] === 'resource' ? { kind: 'resource' } : undefined;
    case 'containerLogs':
      return rest.length === 3 && rest.every(Boolean)
        ? { kind: 'logs', namespace: rest[0]!, pod: rest[1]!, container: rest[2]! }
        : undefined;
    case 'exec':
    case 'attach':
      if (rest.length === 3 && rest.every(Boolean))
        return { kind: head, namespace: rest[0]!, pod: rest[1]!, container: rest[2]! };
      if (rest.length === 4 && rest.every(Boolean))
        return { kind: head, namespace: rest[0]!, pod: rest[1]!, uid: rest[2]!, container: rest[3]! };
      return undefined;
    case 'portForward':
      if (rest.length === 2 && rest.every(Boolean))
        return { kind: 'portForward', namespace: rest[0]!, pod: rest[1]! };
      if (rest.length === 3 && rest.every(Boolean))
        return { kind: 'portForward', namespace: rest[0]!, pod: rest[1]!, uid: rest[2]! };
      return undefined;
    default:
      return undefined;
  }
}

/**
 * The kubelet API on :10250: HTTPS with the cluster-issued (or given) serving certificate, every
 * request authenticated and authorised as kubelet's webhook mode does (see auth.ts), then routed to
 * logs, exec, attach, port-forward, stats, metrics, pods or healthz.
 */
export async function startKubeletApi(o: KubeletApiOptions): Promise<KubeletApi> {
  const tlsOptions = () => ({
    cert: o.cert.current.certPem,
    key: o.cert.current.keyPem,
    ...(o.clientCA.pem ? { ca: o.clientCA.pem } : {}),
  });
  const server = https.createServer({
    ...tlsOptions(),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
  });
  const refresh = () => server.setSecureContext(tlsOptions());
  o.cert.onChange(refresh);
  o.clientCA.onChange(refresh);
  const live = new Set<Duplex>();
  const stop = new AbortController();

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void handleRequest(o, req, res, stop.signal).catch((err: unknown) => {
      o.log.warn({ path: pathOf(req), err: describeError(err) }, 'kubelet API request failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' }).end(describeError(err));
      else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    live.add(socket);
    socket.once('close', () => live.delete(socket));
    socket.on('error', () => socket.destroy());
    void handleUpgrade(o, req, socket, head).catch((err: unknown) => {
      o.log.warn({ path: pathOf(req), err: describeError(err) }, 'kubelet API stream failed');
      if (!socket.destroyed) socket.destroy();
    });
  });
  server.on('tlsClientError', (err) => o.log.debug({ err: err.message }, 'kubelet API TLS handshake failed'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new ProductError(ErrorCodes.PORT_IN_USE, `--kubelet-port ${o.port}: the port is in use`)
          : err,
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  o.log.info({ port }, 'kubelet API listening');
  return {
    port,
    close: async () => {
      stop.abort();
      for (const s of live) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'https://kubelet').pathname;
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end(body);
}

/** The pod a request names (and, when the path carries one, with that UID), or NOT_FOUND. */
function findPod(o: KubeletApiOptions, namespace: string, name: string, uid?: string): V1Pod {
  const pod = o.pods.get(namespace, name);
  if (!pod || (uid !== undefined && pod.metadata?.uid !== uid)) {
    throw new ProductError(ErrorCodes.NOT_FOUND, `pod "${name}" does not exist`);
  }
  return pod;
}

async function handleRequest(
  o: KubeletApiOptions,
  req: IncomingMessage,
  res: ServerResponse,
  stop: AbortSignal,
): Promise<void> {
  const auth = await o.auth.check(req);
  if (!auth.ok) return text(res, auth.status, auth.message);
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const r = route(url.pathname);
  if (!r) return text(res, 404, '404 page not found\n');
  const get = req.method === 'GET' || req.method === 'HEAD';
  try {
    switch (r.kind) {
      case 'healthz':
        return text(res, 200, 'ok');
      case 'pods': {
        if (!get) return text(res, 405, 'method not allowed');
        const body = JSON.stringify({
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: {},
          items: o.pods.list(),
        });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
        return;
      }
      case 'summary': {
        if (!get) return text(res, 405, 'method not allowed');
        const s = await o.usage.snapshot();
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify(statsSummary(o.nodeName, o.startedAt, s)));
        return;
      }
      case 'resource': {
        if (!get) return text(res, 405, 'method not allowed');
        const s = await o.usage.snapshot();
        res
          .writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' })
          .end(resourceMetrics(s));
        return;
      }
      case 'logs': {
        const pod = findPod(o, r.namespace, r.pod);
        const signal = AbortSignal.any([stop, abortOnClose(res)]);
        await serveContainerLogs(
          { provider: o.provider, follow: o.follow, pod: (ns, n) => o.pods.get(ns, n), clock: o.clock },
          { pod, container: r.container },
          url.searchParams,
          res,
          signal,
        );
        return;
      }
      default:
        // exec, attach and portForward need a connection upgrade (SPDY or WebSocket).
        return text(res, 400, 'Upgrade request required');
    }
  } catch (err) {
    if (res.headersSent) throw err;
    return text(res, httpStatusFor(err), describeError(err));
  }
}

function abortOnClose(res: ServerResponse): AbortSignal {
  const c = new AbortController();
  res.once('close', () => c.abort());
  return c.signal;
}

async function handleUpgrade(
  o: KubeletApiOptions,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const auth = await o.auth.check(req);
  if (!auth.ok) return refuseUpgrade(socket, auth.status, auth.message);
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const r = route(url.pathname);
  if (!r || (r.kind !== 'exec' && r.kind !== 'attach' && r.kind !== 'portForward')) {
    return refuseUpgrade(socket, 404, '404 page not found\n');
  }
  const onProblem = (m: string) =>
    o.log.debug({ path: url.pathname, problem: m }, 'kubelet API stream problem');
  const common = {
    timeoutMs: o.streamCreationTimeoutMs ?? 30_000,
    idleTimeoutMs: o.streamIdleTimeoutMs ?? 4 * 3_600_000,
    onProblem,
  };
  let pod: V1Pod;
  try {
    pod = findPod(o, r.namespace, r.pod, r.uid);
    if (r.kind !== 'portForward') containerOf(pod, r.container);
  } catch (err) {
    return refuseUpgrade(socket, httpStatusFor(err), describeError(err));
  }
  const websocket = isWebSocket(req);
  if (!websocket && !/spdy\/3\.1/i.test(req.headers.upgrade ?? '')) {
    return refuseUpgrade(
      socket,
      400,
      `unable to upgrade: unsupported protocol ${JSON.stringify(req.headers.upgrade ?? '')}`,
    );
  }

  if (r.kind === 'portForward') {
    const dial = (port: number, signal: AbortSignal) => o.provider.portForward(pod, port, signal);
    const podName = `${r.namespace}/${r.pod}`;
    if (websocket) {
      const ports = queryPorts(url);
      if (typeof ports === 'string') return refuseUpgrade(socket, 400, ports);
      return servePortForwardWebSocket(await acceptWebSocket(req, socket, head), ports, { dial, podName });
    }
    const proto = handshake(req, socket, [PORT_FORWARD_PROTOCOL]);
    if (!proto) return;
    servePortForwardSpdy(socket, head, {
      dial,
      podName,
      streamTimeoutMs: common.timeoutMs,
      onProblem,
      idleTimeoutMs: common.idleTimeoutMs,
    });
    return;
  }

  const opts = streamOptions(url.searchParams);
  if (typeof opts === 'string') return refuseUpgrade(socket, 400, opts);
  const command = url.searchParams.getAll('command');
  if (r.kind === 'exec' && command.length === 0)
    return refuseUpgrade(socket, 400, 'you must specify a command');
  let session: Session;
  if (websocket) {
    session = webSocketSession(await acceptWebSocket(req, socket, head), opts);
  } else {
    const proto = handshake(req, socket, SPDY_REMOTECOMMAND_PROTOCOLS);
    if (!proto) return;
    try {
      session = await spdySession(socket, head, proto, opts, common);
    } catch (err) {
      onProblem(describeError(err));
      return;
    }
  }
  const ref: ContainerRef = { pod, container: r.container };
  const io = {
    tty: opts.tty,
    stdin: session.stdin,
    stdout: session.stdout,
    stderr: session.stderr,
    resize: session.resize,
  };
  let result: SessionResult;
  try {
    result =
      r.kind === 'exec'
        ? await o.provider.exec(ref, command, io, session.gone)
        : await o.provider.attach(ref, io, session.gone);
  } catch (err) {
    result = { error: describeError(err) };
  }
  await session.finish(result, command);
}

/**
 * kubelet's protocol negotiation for a SPDY upgrade: the first version the client offered that we
 * serve; answers 400/403 itself and returns undefined when there is none.
 */
function handshake(req: IncomingMessage, socket: Duplex, supported: readonly string[]): string | undefined {
  const offered = offeredProtocols(req);
  if (offered.length === 0) {
    refuseUpgrade(socket, 400, 'unable to upgrade: X-Stream-Protocol-Version is required');
    return undefined;
  }
  const chosen = negotiate(offered, supported);
  if (!chosen) {
    refuseUpgrade(
      socket,
      403,
      `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${supported.join(' ')}]`,
      { 'X-Accepted-Stream-Protocol-Versions': [...supported] },
    );
  }
  return chosen;
}
