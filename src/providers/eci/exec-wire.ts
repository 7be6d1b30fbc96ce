import WebSocket from 'ws';
import type { SessionIO, SessionResult } from '../provider.ts';

/**
 * The one place that knows the wire format behind ExecContainerCommand's WebSocketUri. ECI does not
 * document it; the embedded emulator defines it as the Kubernetes channel protocol, which is what this
 * speaks: binary messages of one channel byte and a payload — 0 stdin, 1 stdout, 2 stderr, 3 status
 * (a JSON metav1.Status), 4 resize (JSON `{"Width":..,"Height":..}`); with `v5.channel.k8s.io` the
 * message `[255, 0]` closes stdin. If the cloud's format turns out to differ, only this file changes.
 */

const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const RESIZE = 4;
const CLOSE = 255;
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

interface Status {
  status?: string;
  reason?: string;
  message?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

/** The exit code a metav1.Status stands for, or the failure it reports. */
export function statusToResult(s: Status): SessionResult {
  if (s.status === 'Success') return { exitCode: 0 };
  const code = s.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  if (s.reason === 'NonZeroExitCode' && code !== undefined && /^\d+$/.test(code)) {
    return { exitCode: Number(code) };
  }
  return { error: s.message || s.reason || 'the command failed' };
}

/**
 * Connects `io` to the session at `uri` and resolves with how the command ended. Aborting `signal`
 * closes the session. Output streams are ended when the session ends.
 */
export function runExecSession(uri: string, io: SessionIO, signal: AbortSignal): Promise<SessionResult> {
  return new Promise<SessionResult>((resolve) => {
    const ws = new WebSocket(uri, PROTOCOLS, { perMessageDeflate: false, handshakeTimeout: 15_000 });
    let result: SessionResult | undefined;
    let settled = false;
    const finish = (r: SessionResult) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      io.stdin?.removeListener('data', onStdin);
      io.stdin?.removeListener('end', onStdinEnd);
      endStream(io.stdout);
      endStream(io.stderr);
      resolve(r);
    };
    const onAbort = () => {
      ws.terminate();
      finish({ error: 'the session was cancelled' });
    };
    signal.addEventListener('abort', onAbort, { once: true });

    // Backpressure both ways: stdin stops being read while much of it waits to leave the socket, and
    // the socket stops being read while the client's stdout is full.
    let inflight = 0;
    let stdinPaused = false;
    const send = (channel: number, data: Buffer | string) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const frame = Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data)]);
      inflight += frame.length;
      ws.send(frame, () => {
        inflight -= frame.length;
        if (stdinPaused && inflight < LOW_WATER) {
          stdinPaused = false;
          io.stdin?.resume();
        }
      });
    };
    const onStdin = (chunk: Buffer | string) => {
      send(STDIN, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      if (inflight > HIGH_WATER && !stdinPaused) {
        stdinPaused = true;
        io.stdin?.pause();
      }
    };
    const output = (s: NodeJS.WritableStream | undefined, payload: Buffer) => {
      if (!s || payload.length === 0) return;
      if (!s.write(payload)) {
        ws.pause();
        s.once('drain', () => ws.resume());
      }
    };
    const onStdinEnd = () => {
      if (ws.protocol === 'v5.channel.k8s.io' && ws.readyState === WebSocket.OPEN) {
        ws.send(Buffer.from([CLOSE, STDIN]));
      }
    };

    ws.on('open', () => {
      if (io.stdin) {
        io.stdin.on('data', onStdin);
        io.stdin.on('end', onStdinEnd);
      }
      if (io.resize) {
        void (async () => {
          for await (const size of io.resize!) {
            if (settled) break;
            send(RESIZE, JSON.stringify({ Width: size.width, Height: size.height }));
          }
        })().catch(() => undefined);
      }
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const msg = isBinary ? data : Buffer.from(data);
      if (msg.length === 0) return;
      const payload = msg.subarray(1);
      switch (msg[0]) {
        case STDOUT:
          output(io.stdout, payload);
          break;
        case STDERR:
          output(io.stderr, payload);
          break;
        case STATUS:
          try {
            result = statusToResult(JSON.parse(payload.toString('utf8')) as Status);
          } catch {
            result = {
              error: `unreadable status from the exec session: ${payload.toString('utf8').slice(0, 200)}`,
            };
          }
          break;
        default:
          break;
      }
    });
    ws.on('close', () => finish(result ?? { error: 'the exec session closed without an exit status' }));
    ws.on('error', (err) => finish(result ?? { error: `exec session: ${err.message}` }));
  });
}

function endStream(s: NodeJS.WritableStream | undefined): void {
  if (s && !(s as { writableEnded?: boolean }).writableEnded) s.end();
}
