// Port-forward as a kubelet serves it. SPDY (`portforward.k8s.io`): per forwarded connection the
// client opens an error stream and a data stream sharing `port` and `requestID` headers; we pair them,
// dial the pod, and copy both ways; failures go to the error stream as text. WebSocket (`?port=N`):
// two channels per port (data, error), each starting with the port as two little-endian bytes.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { describeError } from '../util/errors.ts';
import { channelCodec } from './remotecommand.ts';
import type { SpdyConnection, SpdyStream } from './spdy/connection.ts';
import { upgradeToSpdy } from './remotecommand.ts';

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** Dials the pod's port; rejects with a message for the client. */
export type Dialer = (port: number, signal: AbortSignal) => Promise<Duplex>;

/** Why a port-forward stream is refused (kubelet's checks), or undefined. */
export function invalidStream(s: { header(n: string): string | undefined }): string | undefined {
  const port = s.header('port');
  if (!port) return '"port" header is required';
  if (!/^\d+$/.test(port) || Number(port) > 65535) return `unable to parse "${port}" as a port`;
  if (Number(port) < 1) return `port "${port}" must be > 0`;
  const type = s.header('streamtype');
  if (!type) return '"streamType" header is required';
  if (type !== 'error' && type !== 'data') return `invalid stream type "${type}"`;
  return undefined;
}

/** Serves one SPDY port-forward connection until the client closes it. */
export function servePortForwardSpdy(
  socket: Duplex,
  head: Buffer,
  o: {
    dial: Dialer;
    podName: string;
    streamTimeoutMs: number;
    onProblem?: (m: string) => void;
    idleTimeoutMs?: number;
  },
): SpdyConnection {
  const pairs = new Map<string, { data?: SpdyStream; error?: SpdyStream; timer: NodeJS.Timeout }>();
  const conn: SpdyConnection = upgradeToSpdy(socket, head, PORT_FORWARD_PROTOCOL, {
    onProblem: o.onProblem,
    idleTimeoutMs: o.idleTimeoutMs,
    onStream: (s) => {
      const why = invalidStream(s);
      if (why) return why;
      const type = s.header('streamtype')!;
      // Old clients send no requestID: kubelet derives it from the stream IDs (error first, then data).
      const id = s.header('requestid') ?? String(type === 'error' ? s.id : s.id - 2);
      let pair = pairs.get(id);
      if (!pair) {
        const timer = setTimeout(() => {
          pairs.get(id)?.error?.end(`timed out waiting for streams of request ${id}`);
          pairs.delete(id);
        }, o.streamTimeoutMs);
        pair = { timer };
        pairs.set(id, pair);
      }
      const slot = type as 'data' | 'error';
      if (pair[slot]) {
        pair.error?.write(`error processing stream for request ${id}: ${slot} stream already assigned`);
        return undefined;
      }
      pair[slot] = s;
      if (pair.data && pair.error) {
        clearTimeout(pair.timer);
        pairs.delete(id);
        const { data, error } = pair;
        // The client's side of the error stream carries nothing; finish ours when the forward ends.
        void forward(Number(s.header('port')), data, error, o, conn);
      }
      return undefined;
    },
  });
  conn.once('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
  });
  return conn;
}

async function forward(
  port: number,
  data: SpdyStream,
  error: SpdyStream,
  o: { dial: Dialer; podName: string },
  conn: SpdyConnection,
): Promise<void> {
  const ended = new AbortController();
  conn.once('close', () => ended.abort());
  let target: Duplex;
  try {
    target = await o.dial(port, ended.signal);
  } catch (err) {
    error.end(`error forwarding port ${port} to pod ${o.podName}: ${describeError(err)}`);
    data.reset();
    return;
  }
  await pipeBoth(data, target);
  error.end();
}

/**
 * Copies both ways between a client stream and a TCP connection, passing each half-close on, and
 * resolves when both directions are done (or either side failed).
 */
export function pipeBoth(client: Duplex, target: Duplex): Promise<void> {
  return new Promise<void>((resolve) => {
    let open = 2;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      if (!client.writableEnded) client.end();
      target.destroy();
      resolve();
    };
    const half = () => {
      if (--open === 0) done();
    };
    client.pipe(target, { end: true });
    target.pipe(client, { end: true });
    client.once('end', half);
    target.once('end', half);
    target.once('error', done);
    target.once('close', () => {
      if (!client.writableEnded) client.end();
      if (open > 0 && client.readableEnded) done();
    });
    client.once('close', done);
  });
}

/** The ports of a WebSocket port-forward query (`?port=80&port=443` or `?port=80,443`), or why not. */
export function queryPorts(url: URL): number[] | string {
  const values = url.searchParams.getAll('port');
  if (values.length === 0) return 'query parameter "port" is required';
  const ports: number[] = [];
  for (const v of values) {
    if (v === '') return 'query parameter "port" cannot be empty';
    for (const p of v.split(',')) {
      if (!/^\d+$/.test(p) || Number(p) > 65535) return `unable to parse "${p}" as a port`;
      if (Number(p) < 1) return `port "${p}" must be > 0`;
      ports.push(Number(p));
    }
  }
  return ports;
}

/** Serves a WebSocket port-forward: one connection to the pod per requested port. */
export async function servePortForwardWebSocket(
  ws: WebSocket,
  ports: readonly number[],
  o: { dial: Dialer; podName: string },
  _req?: IncomingMessage,
): Promise<void> {
  const codec = channelCodec(ws);
  const send = (channel: number, data: Buffer) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(codec.encode(channel, data));
  };
  const ended = new AbortController();
  const targets = new Map<number, Duplex>();
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    const m = codec.decode(raw, isBinary);
    if (!m || m.channel % 2 !== 0) return;
    targets.get(m.channel / 2)?.write(m.data);
  });
  ws.on('close', () => {
    ended.abort();
    for (const t of targets.values()) t.destroy();
  });
  ws.on('error', () => undefined);
  const portBytes = (p: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(p);
    return b;
  };
  await Promise.all(
    ports.map(async (port, i) => {
      send(i * 2, portBytes(port));
      send(i * 2 + 1, portBytes(port));
      let target: Duplex;
      try {
        target = await o.dial(port, ended.signal);
      } catch (err) {
        send(
          i * 2 + 1,
          Buffer.from(`error forwarding port ${port} to pod ${o.podName}: ${describeError(err)}`),
        );
        return;
      }
      targets.set(i, target);
      target.on('data', (chunk: Buffer) => send(i * 2, chunk));
      await new Promise<void>((r) => target.once('close', r));
    }),
  );
  if (ws.readyState === WebSocket.OPEN) ws.close(1000);
}
