import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../../util/log.ts';
import type { ExecHandle } from './runtime/types.ts';

/**
 * The exec endpoint behind ExecContainerCommand's WebSocketUri. ECI's own wire format is not public;
 * the emulator speaks the Kubernetes remote-command channel protocol, so a kubelet API can bridge it
 * frame for frame:
 *
 * - subprotocols `v5.channel.k8s.io`, `v4.channel.k8s.io`, `channel.k8s.io` (binary frames, first byte
 *   = channel) and `base64.channel.k8s.io` (text frames, first character = channel digit, then base64);
 * - client → emulator: channel 0 = stdin, channel 4 = terminal size `{"Width":W,"Height":H}`, and (v5)
 *   channel 255 with payload `[0]` = stdin closed;
 * - emulator → client: channel 1 = stdout (everything, when TTY), 2 = stderr, then channel 3 = a
 *   metav1.Status as the kubelet sends it (`Success`, or `Failure`/`NonZeroExitCode` with the exit code
 *   in `details.causes[0].message`), then a normal close (1000).
 *
 * A session is used once and lives ten minutes; several run at once. The `ws` library does the framing.
 */

export interface ExecSession {
  token: string;
  groupId: string;
  container: string;
  command: string[];
  tty: boolean;
  stdin: boolean;
  expiresAt: number;
}

const SESSION_TTL_MS = 10 * 60_000;

/** Sessions handed out by ExecContainerCommand, by unguessable token. */
export class ExecSessions {
  readonly #sessions = new Map<string, ExecSession>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  open(groupId: string, container: string, command: string[], tty: boolean, stdin = false): ExecSession {
    const now = this.#now();
    for (const [k, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(k);
    const s: ExecSession = {
      token: randomBytes(18).toString('base64url'),
      groupId,
      container,
      command,
      tty,
      stdin,
      expiresAt: now + SESSION_TTL_MS,
    };
    this.#sessions.set(s.token, s);
    return s;
  }

  get(token: string): ExecSession | undefined {
    const s = this.#sessions.get(token);
    return s !== undefined && s.expiresAt > this.#now() ? s : undefined;
  }

  /** The session, which cannot be used again. */
  take(token: string): ExecSession | undefined {
    const s = this.get(token);
    this.#sessions.delete(token);
    return s;
  }

  clear(): void {
    this.#sessions.clear();
  }
}

export const EXEC_SUBPROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
] as const;

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255 } as const;

/** The kubelet's metav1.Status for an exec that ended with `exitCode` (or failed to run). */
export function execStatus(exitCode: number, error?: string): Record<string, unknown> {
  if (error !== undefined) {
    return { metadata: {}, status: 'Failure', message: error, reason: 'InternalError', code: 500 };
  }
  if (exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** Serves exec sessions over WebSocket; `start` turns a session into a running command. */
export class ExecServer {
  readonly #wss: WebSocketServer;
  readonly #sessions: ExecSessions;
  readonly #start: (s: ExecSession) => ExecHandle;
  readonly #logger: Logger;
  readonly #live = new Set<ExecHandle>();

  constructor(o: { sessions: ExecSessions; start: (s: ExecSession) => ExecHandle; logger: Logger }) {
    this.#sessions = o.sessions;
    this.#start = o.start;
    this.#logger = o.logger;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: 4 * 1024 * 1024,
      handleProtocols: (offered) => EXEC_SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
  }

  /** Handles an HTTP upgrade on `/_emulator/exec/<token>`; false when the path is not an exec session. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const m = /^\/_emulator\/exec\/([^/?]+)/.exec(req.url ?? '');
    if (m === null) return false;
    const session = this.#sessions.take(m[1]!);
    if (session === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return true;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws, session));
    return true;
  }

  /** Ends every live session (the emulator is stopping). */
  close(): void {
    for (const h of this.#live) h.kill();
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
  }

  #serve(ws: WebSocket, session: ExecSession): void {
    const base64 = ws.protocol === 'base64.channel.k8s.io';
    const v5 = ws.protocol === 'v5.channel.k8s.io';
    const send = (ch: number, data: Buffer, done?: () => void) => {
      if (ws.readyState !== ws.OPEN) return done?.();
      const frame = base64 ? `${ch}${data.toString('base64')}` : Buffer.concat([Buffer.from([ch]), data]);
      ws.send(frame, { binary: !base64 }, () => done?.());
    };
    const finish = (status: Record<string, unknown>) => {
      send(CHANNEL.status, Buffer.from(JSON.stringify(status)), () => {
        if (ws.readyState === ws.OPEN) ws.close(1000);
      });
    };
    let handle: ExecHandle;
    try {
      handle = this.#start(session);
    } catch (err) {
      finish(execStatus(1, err instanceof Error ? err.message : String(err)));
      return;
    }
    this.#live.add(handle);
    // One frame in flight per stream: the command's output waits for a slow client.
    const pump = (stream: Readable, ch: number) =>
      new Promise<void>((resolve) => {
        stream.on('data', (d: Buffer) => {
          stream.pause();
          send(ch, d, () => stream.resume());
        });
        stream.once('end', resolve);
        stream.once('error', () => resolve());
        stream.once('close', resolve);
      });
    ws.on('message', (raw, isBinary) => {
      const buf = Buffer.isBuffer(raw) ? raw : Buffer.concat(raw as Buffer[]);
      let ch: number;
      let data: Buffer;
      if (!isBinary) {
        const text = buf.toString('utf8');
        ch = Number(text[0]);
        data = Buffer.from(text.slice(1), 'base64');
      } else {
        ch = buf[0] ?? -1;
        data = buf.subarray(1);
      }
      if (ch === CHANNEL.stdin) {
        if (handle.stdin !== undefined && !handle.stdin.writableEnded) handle.stdin.write(data);
      } else if (ch === CHANNEL.resize) {
        try {
          const size = JSON.parse(data.toString('utf8')) as { Width?: unknown; Height?: unknown };
          if (typeof size.Width === 'number' && typeof size.Height === 'number')
            handle.resize(size.Width, size.Height);
        } catch {
          // A malformed resize is ignored, as the kubelet does.
        }
      } else if (v5 && ch === CHANNEL.close && data[0] === CHANNEL.stdin) {
        handle.stdin?.end();
      }
    });
    ws.on('close', () => handle.kill());
    ws.on('error', (err) => this.#logger.debug({ err }, 'exec websocket error'));
    Promise.all([pump(handle.stdout, CHANNEL.stdout), pump(handle.stderr, CHANNEL.stderr), handle.exitCode])
      .then(
        ([, , code]) => finish(execStatus(code)),
        (err: unknown) => finish(execStatus(1, err instanceof Error ? err.message : String(err))),
      )
      .finally(() => this.#live.delete(handle));
  }
}
