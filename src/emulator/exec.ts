import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { interpret } from './convention.ts';

/**
 * The exec endpoint behind ExecContainerCommand's WebSocketUri: a minimal WebSocket server that runs
 * the session's command through the emulator's interpreter, sends its output on the Kubernetes
 * channel protocol (`v4.channel.k8s.io`: first byte 1 = stdout, 3 = status) and closes. It is enough
 * for a client to see a well-formed exec round trip; it is not an interactive shell.
 */

export interface ExecSession {
  token: string;
  groupId: string;
  container: string;
  command: string[];
  tty: boolean;
  expiresAt: number;
}

const SESSION_TTL_MS = 10 * 60_000;

/** Sessions handed out by ExecContainerCommand, by unguessable token, for ten minutes. */
export class ExecSessions {
  private readonly sessions = new Map<string, ExecSession>();
  private readonly now: () => number;

  constructor(now: () => number) {
    this.now = now;
  }

  open(groupId: string, container: string, command: string[], tty: boolean): ExecSession {
    const now = this.now();
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
    const s: ExecSession = {
      token: randomBytes(18).toString('base64url'),
      groupId,
      container,
      command,
      tty,
      expiresAt: now + SESSION_TTL_MS,
    };
    this.sessions.set(s.token, s);
    return s;
  }

  get(token: string): ExecSession | undefined {
    const s = this.sessions.get(token);
    return s !== undefined && s.expiresAt > this.now() ? s : undefined;
  }

  clear(): void {
    this.sessions.clear();
  }
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const SUBPROTOCOLS = ['v4.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 255])
        : (() => {
            const b = Buffer.alloc(10);
            b[0] = 0x80 | opcode;
            b[1] = 127;
            b.writeBigUInt64BE(BigInt(len), 2);
            return b;
          })();
  return Buffer.concat([head, payload]);
}

function channel(ch: number, data: string, base64: boolean): Buffer {
  if (base64) return frame(1, Buffer.from(`${ch}${Buffer.from(data).toString('base64')}`));
  return frame(2, Buffer.concat([Buffer.from([ch]), Buffer.from(data)]));
}

/** Handles an HTTP upgrade on `/_emulator/exec/<token>`; false when the path is not an exec session. */
export function handleExecUpgrade(sessions: ExecSessions, req: IncomingMessage, socket: Duplex): boolean {
  const m = /^\/_emulator\/exec\/([^/?]+)/.exec(req.url ?? '');
  if (m === null) return false;
  const session = sessions.get(m[1]!);
  const key = req.headers['sec-websocket-key'];
  if (session === undefined || typeof key !== 'string') {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return true;
  }
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
  const proto = SUBPROTOCOLS.find((p) => offered.includes(p));
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  socket.write(
    [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${accept}`,
      ...(proto === undefined ? [] : [`Sec-WebSocket-Protocol: ${proto}`]),
      '',
      '',
    ].join('\r\n'),
  );
  const base64 = proto === 'base64.channel.k8s.io';
  const plan = interpret(session.command);
  const out = plan.output.map((l) => `${l}\n`).join('');
  if (out !== '') socket.write(channel(1, out, base64));
  const exitCode = plan.kind === 'exits' ? plan.exitCode : 0;
  const status =
    exitCode === 0
      ? { metadata: {}, status: 'Success' }
      : {
          metadata: {},
          status: 'Failure',
          reason: 'NonZeroExitCode',
          details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
        };
  socket.write(channel(3, JSON.stringify(status), base64));
  socket.end(frame(8, Buffer.from([0x03, 0xe8])));
  socket.on('error', () => socket.destroy());
  return true;
}
