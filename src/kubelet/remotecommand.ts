// The remote-command protocols of exec and attach, as a kubelet serves them: SPDY/3.1 (what
// kube-apiserver opens to a kubelet) with the `channel.k8s.io` versions v4..v1, and WebSocket with
// the channel subprotocols (`v5.channel.k8s.io`, `v4.channel.k8s.io`, their base64 forms, and the
// pre-v4 ones) for requests passed through unchanged. Both end in the same Session: stdin, stdout,
// stderr, resize and a status to report how the command ended.
import type { IncomingMessage } from 'node:http';
import { PassThrough, Writable, type Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { SessionResult, TerminalSize } from '../providers/provider.ts';
import { SpdyConnection, type SpdyStream } from './spdy/connection.ts';

export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** The streams of one exec/attach, whichever transport carried them. */
export interface Session {
  readonly protocol: string;
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream;
  readonly resize?: AsyncIterable<TerminalSize>;
  /** Reports how the command ended (v4+: a metav1.Status), then closes the session. */
  finish(result: SessionResult, command?: readonly string[]): Promise<void>;
  /** Fires when the client went away before the command ended. */
  readonly gone: AbortSignal;
}

/** Options of an exec/attach query (`input`, `output`, `error`, `tty`), as kubelet reads them. */
export function streamOptions(q: URLSearchParams): StreamOptions | string {
  const on = (k: string) => q.get(k) === '1' || q.get(k) === 'true';
  const tty = on('tty');
  // With a TTY, stderr is merged into stdout by the terminal; kubelet drops it.
  const o = { stdin: on('input'), stdout: on('output'), stderr: on('error') && !tty, tty };
  if (!o.stdin && !o.stdout && !o.stderr) return 'you must specify at least 1 of stdin, stdout, stderr';
  return o;
}

/** The metav1.Status a kubelet writes on the error stream for `result`. */
export function statusFor(result: SessionResult, command: readonly string[] = []): Record<string, unknown> {
  if ('exitCode' in result && result.exitCode === 0) return { metadata: {}, status: 'Success' };
  if ('exitCode' in result) {
    return {
      metadata: {},
      status: 'Failure',
      message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${result.exitCode}`,
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: String(result.exitCode) }] },
    };
  }
  const message = `error executing command in container: ${result.error}`;
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/** The v1-v3 error stream: only a failure's message, as text. */
function textStatus(result: SessionResult, command: readonly string[]): string | undefined {
  const s = statusFor(result, command);
  return s.status === 'Success' ? undefined : String(s.message);
}

// --- SPDY ---

/** What each SPDY protocol version carries; v5 is served as v4 (kubelet does not offer it on SPDY). */
const SPDY_VERSIONS: Record<string, { resize: boolean; jsonStatus: boolean }> = {
  'v4.channel.k8s.io': { resize: true, jsonStatus: true },
  'v3.channel.k8s.io': { resize: true, jsonStatus: false },
  'v2.channel.k8s.io': { resize: false, jsonStatus: false },
  'channel.k8s.io': { resize: false, jsonStatus: false },
};
export const SPDY_REMOTECOMMAND_PROTOCOLS = Object.keys(SPDY_VERSIONS);

/** The client's offered versions (one header line each, or comma-separated). */
export function offeredProtocols(req: IncomingMessage): string[] {
  const raw = req.headersDistinct['x-stream-protocol-version'] ?? [];
  return raw.flatMap((h) => h.split(',').map((s) => s.trim())).filter(Boolean);
}

/**
 * The first version the client offered that we serve, or why none: kubelet's handshake. The caller
 * answers 403 with `X-Accepted-Stream-Protocol-Versions` when there is none.
 */
export function negotiate(offered: readonly string[], supported: readonly string[]): string | undefined {
  return offered.find((p) => supported.includes(p));
}

/** Answers an upgrade with 101 and turns the socket into a SPDY connection. */
export function upgradeToSpdy(
  socket: Duplex,
  head: Buffer,
  protocol: string,
  o: {
    onStream: (s: SpdyStream) => string | undefined;
    onProblem?: (m: string) => void;
    idleTimeoutMs?: number;
  },
): SpdyConnection {
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Connection: Upgrade\r\n' +
      'Upgrade: SPDY/3.1\r\n' +
      `X-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
  );
  const conn = new SpdyConnection(socket, { role: 'server', ...o });
  if (head.length > 0) socket.unshift(head);
  return conn;
}

/** Refuses an upgrade on the raw socket (no HTTP response object exists in an 'upgrade' handler). */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  message: string,
  headers: Record<string, string | string[]> = {},
): void {
  const reason =
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      500: 'Internal Server Error',
    }[status] ?? 'Error';
  const body = Buffer.from(message);
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${body.length}`,
    'Connection: close',
    ...Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}: ${x}`)),
  ];
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
}

/**
 * Waits for the client to open the streams `opts` call for (error, and stdin/stdout/stderr/resize
 * as asked), within `timeoutMs` as kubelet's stream-creation timeout; rejects when they do not come.
 */
export function spdySession(
  socket: Duplex,
  head: Buffer,
  protocol: string,
  opts: StreamOptions,
  o: { timeoutMs: number; onProblem?: (m: string) => void; idleTimeoutMs?: number },
): Promise<Session> {
  const version = SPDY_VERSIONS[protocol]!;
  const expected =
    1 + Number(opts.stdin) + Number(opts.stdout) + Number(opts.stderr) + Number(opts.tty && version.resize);
  const streams = new Map<string, SpdyStream>();
  return new Promise<Session>((resolve, reject) => {
    const conn = upgradeToSpdy(socket, head, protocol, {
      onProblem: o.onProblem,
      idleTimeoutMs: o.idleTimeoutMs,
      onStream: (s) => {
        const type = s.header('streamtype') ?? '';
        if (!['error', 'stdin', 'stdout', 'stderr', 'resize'].includes(type))
          return `unexpected stream type ${JSON.stringify(type)}`;
        streams.set(type, s);
        if (streams.size === expected) {
          clearTimeout(timer);
          setImmediate(() => resolve(spdySessionOf(conn, streams, protocol, version)));
        }
        return undefined;
      },
    });
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error('timed out waiting for client to create streams'));
    }, o.timeoutMs);
    conn.once('close', () => {
      clearTimeout(timer);
      reject(new Error('the client closed the connection before creating its streams'));
    });
  });
}

function spdySessionOf(
  conn: SpdyConnection,
  streams: Map<string, SpdyStream>,
  protocol: string,
  version: { resize: boolean; jsonStatus: boolean },
): Session {
  const gone = new AbortController();
  conn.once('close', () => gone.abort());
  const error = streams.get('error')!;
  const resizeStream = streams.get('resize');
  // Our side of stdin and resize stays open until the session ends: Go's client takes our FIN on
  // stdin for "the command is done" and half-closes its own side, losing what it sends after.
  return {
    protocol,
    stdin: streams.get('stdin'),
    stdout: streams.get('stdout'),
    stderr: streams.get('stderr'),
    resize: resizeStream && version.resize ? jsonSizes(resizeStream) : undefined,
    gone: gone.signal,
    async finish(result, command = []) {
      if (version.jsonStatus) error.write(JSON.stringify(statusFor(result, command)));
      else {
        const text = textStatus(result, command);
        if (text) error.write(text);
      }
      await Promise.all(
        ['stdout', 'stderr', 'error', 'stdin', 'resize'].map(
          (t) =>
            new Promise<void>((r) => {
              const s = streams.get(t);
              if (!s || s.writableFinished || s.destroyed) return r();
              s.once('finish', r).once('close', r);
              if (!s.writableEnded) s.end();
            }),
        ),
      );
      conn.close();
    },
  };
}

/** Back-to-back JSON `{"Width":..,"Height":..}` objects, as the resize stream carries them. */
async function* jsonSizes(s: NodeJS.ReadableStream): AsyncGenerator<TerminalSize> {
  let buf = '';
  for await (const chunk of s) {
    buf += chunk.toString();
    for (;;) {
      const end = objectEnd(buf);
      if (end < 0) break;
      const text = buf.slice(0, end);
      buf = buf.slice(end);
      try {
        const v = JSON.parse(text) as { Width?: number; Height?: number };
        if (typeof v.Width === 'number' && typeof v.Height === 'number')
          yield { width: v.Width, height: v.Height };
      } catch {
        // a malformed size is ignored, as kubelet's decoder stops at it
      }
    }
  }
}

/** The index just past the first complete top-level JSON object in `s`, or -1. */
function objectEnd(s: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

// --- WebSocket ---

const WS_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
];
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  handleProtocols: (offered) => WS_PROTOCOLS.find((p) => offered.has(p)) ?? false,
});

/** True when the request asks for a WebSocket (else it is SPDY, or plain HTTP). */
export function isWebSocket(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** Accepts a WebSocket upgrade and resolves with the socket (no subprotocol means raw binary channels). */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<WebSocket> {
  return new Promise((resolve) => wss.handleUpgrade(req, socket, head, resolve));
}

/** The channel framing of a WebSocket: binary `[channel, ...data]`, or text `'0'+channel` + base64. */
export function channelCodec(ws: WebSocket) {
  const base64 = ws.protocol.includes('base64');
  return {
    base64,
    encode(channel: number, data: Buffer): Buffer | string {
      return base64
        ? String.fromCharCode(48 + channel) + data.toString('base64')
        : Buffer.concat([Buffer.from([channel]), data]);
    },
    decode(raw: Buffer, isBinary: boolean): { channel: number; data: Buffer } | undefined {
      if (raw.length === 0) return undefined;
      if (!base64 || isBinary) return { channel: raw[0]!, data: raw.subarray(1) };
      return { channel: raw[0]! - 48, data: Buffer.from(raw.subarray(1).toString(), 'base64') };
    },
  };
}

/** An exec/attach session on an accepted WebSocket, as kubelet's wsstream serves it. */
export function webSocketSession(ws: WebSocket, opts: StreamOptions): Session {
  const codec = channelCodec(ws);
  const v4 = ws.protocol.startsWith('v4.') || ws.protocol.startsWith('v5.');
  const gone = new AbortController();
  const stdin = opts.stdin ? new PassThrough() : undefined;
  const resize = new PassThrough();
  const send = (channel: number, data: Buffer) =>
    new Promise<void>((resolve) => {
      if (ws.readyState !== WebSocket.OPEN) return resolve();
      ws.send(codec.encode(channel, data), () => resolve());
    });
  const writer = (channel: number) =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        void send(channel, chunk).then(() => cb());
      },
    });
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    if (ws.protocol === 'v5.channel.k8s.io' && raw.length === 2 && raw[0] === CLOSE) {
      if (raw[1] === STDIN) stdin?.end();
      return;
    }
    const m = codec.decode(raw, isBinary);
    if (!m) return;
    if (m.channel === STDIN) stdin?.write(m.data);
    else if (m.channel === RESIZE) resize.write(m.data);
  });
  ws.on('close', () => {
    gone.abort();
    stdin?.end();
    resize.end();
  });
  ws.on('error', () => undefined);
  // kubelet's "ready" signal: an empty frame on the first output channel.
  void send(opts.stdout ? STDOUT : opts.stderr ? STDERR : ERROR, Buffer.alloc(0));
  return {
    protocol: ws.protocol,
    stdin,
    stdout: opts.stdout ? writer(STDOUT) : undefined,
    stderr: opts.stderr ? writer(STDERR) : undefined,
    resize: opts.tty ? jsonSizes(resize) : undefined,
    gone: gone.signal,
    async finish(result, command = []) {
      const status = v4 ? JSON.stringify(statusFor(result, command)) : textStatus(result, command);
      if (status !== undefined) await send(ERROR, Buffer.from(status));
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      resize.end();
    },
  };
}
