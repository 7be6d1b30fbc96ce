import { readFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { createLogger, type Logger } from '../util/log.ts';
import { ADMIN_PREFIX, AdminHandler } from './admin/handler.ts';
import { ApiHandler } from './openapi/api.ts';
import {
  type EmulatorConfig,
  type EmulatorConfigInput,
  parseEmulatorConfig,
  type RuntimeChoice,
} from './config.ts';
import { EmulatorCore } from './engine/core.ts';
import { ExecServer } from './engine/exec.ts';
import { openRuntime } from './engine/runtime/select.ts';
import { cloudErrors } from './engine/cloud-errors.ts';
import { MAX_DRAIN_BYTES, MAX_HEADER_BYTES, rawErrorResponse } from './openapi/wire.ts';

/**
 * Starting and stopping the emulator, in-process (tests, the controller's `run`) or from the CLI.
 * The RPC API is served at `/`, the admin API at `/_emulator/`.
 */

export interface StartEmulatorOptions {
  /** Configuration (validated); the fields below override it. */
  config?: EmulatorConfigInput;
  port?: number;
  host?: string;
  /** Directory for durable state; absent (here and in the config) = memory only. */
  stateDir?: string;
  /** What runs behind the container groups (overrides the config's `runtime`). */
  runtime?: RuntimeChoice;
  logger?: Logger;
  /** Where image builds of the process runtime report progress (default: `logger`). */
  imageLogger?: Logger;
  /** The clock (epoch ms); injected by tests. */
  now?: () => number;
  random?: () => number;
}

export interface RunningEmulator {
  /** Base URL, e.g. `http://127.0.0.1:9440`. */
  url: string;
  /** What the SDK's `Config.endpoint` wants: `host:port`. */
  endpoint: string;
  /** What the SDK's `Config.protocol` wants. */
  protocol: 'http' | 'https';
  host: string;
  port: number;
  regionId: string;
  /** The first configured AccessKey pair. */
  accessKeyId: string;
  accessKeySecret: string;
  /** Base URL of the admin API (`<url>/_emulator`). */
  adminUrl: string;
  config: EmulatorConfig;
  core: EmulatorCore;
  /** Stops listening, waits for in-flight journal writes and closes the state files. */
  close(): Promise<void>;
}

export async function startEmulator(opts: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const input: EmulatorConfigInput = {
    ...opts.config,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {}),
    ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
  };
  const parsed = parseEmulatorConfig(input);
  const logger = opts.logger ?? createLogger({ name: 'eci-emulator', level: parsed.logLevel });
  // The process runtime may give the emulator a network range of its own (and its own stage timings).
  const { runtime, config } = await openRuntime({
    config: parsed,
    input,
    logger,
    ...(opts.imageLogger === undefined ? {} : { imageLogger: opts.imageLogger }),
  });
  const core = await EmulatorCore.start(config, logger, { now: opts.now, random: opts.random, runtime });
  const api = new ApiHandler(core, logger);
  const admin = new AdminHandler(core, api, logger);

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const handler = (req.url ?? '').startsWith(`${ADMIN_PREFIX}/`)
      ? admin.handle(req, res)
      : api.handle(req, res);
    handler.catch((err: unknown) => {
      logger.error({ err }, 'emulator request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  let server: Server;
  if (config.tls !== undefined) {
    const [cert, key] = await Promise.all([readFile(config.tls.certFile), readFile(config.tls.keyFile)]);
    server = createHttpsServer({ cert, key, maxHeaderSize: MAX_HEADER_BYTES }, onRequest);
  } else {
    server = createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, onRequest);
  }
  server.keepAliveTimeout = 65_000;
  const hostId = `eci.${config.region.id}.aliyuncs.com`;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const e =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? cloudErrors.requestHeaderTooLarge(MAX_HEADER_BYTES)
        : cloudErrors.malformedRequest();
    logger.info({ status: e.status, code: e.code, parser: err.code }, 'eci request refused before parsing');
    api.recordUnparsed(e.code);
    // The client may still be sending the rest of its request: read and drop it (bounded), so it gets
    // to read this answer instead of a connection reset; then the connection closes.
    let dropped = 0;
    socket.on('data', (d: Buffer) => {
      dropped += d.length;
      if (dropped > MAX_DRAIN_BYTES) socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.end(rawErrorResponse(e, hostId));
    socket.resume();
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
  const execServer = new ExecServer({ sessions: core.exec, start: (s) => core.startExec(s), logger });
  server.on('upgrade', (req, socket, head: Buffer) => {
    if (!execServer.handleUpgrade(req, socket, head)) socket.destroy();
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await core.stop();
    const code =
      (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? ErrorCodes.PORT_IN_USE : ErrorCodes.START_FAILED;
    throw new ProductError(code, `the ECI emulator cannot listen on ${config.host}:${config.port}`, {
      cause: err,
    });
  }
  const port = (server.address() as AddressInfo).port;
  const protocol = config.tls === undefined ? 'http' : 'https';
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${protocol}://${hostForUrl}:${port}`;
  core.baseUrl = url;
  const key = config.accessKeys[0]!;
  logger.info(
    { url, regionId: config.region.id, stateDir: config.stateDir ?? null },
    'ECI emulator listening',
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    endpoint: `${hostForUrl}:${port}`,
    protocol,
    host: config.host,
    port,
    regionId: config.region.id,
    accessKeyId: key.id,
    accessKeySecret: key.secret,
    adminUrl: `${url}${ADMIN_PREFIX}`,
    config,
    core,
    close() {
      closing ??= (async () => {
        execServer.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 2000).unref();
        });
        await core.stop();
      })();
      return closing;
    },
  };
}
