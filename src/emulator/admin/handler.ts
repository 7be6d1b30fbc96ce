import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Logger } from '../../util/log.ts';
import type { ApiHandler } from '../openapi/api.ts';
import { CloudError } from '../engine/cloud-errors.ts';
import { faultSchema, GROUP_STATUSES, stageSchema } from '../config.ts';
import { interpret } from '../engine/convention.ts';
import type { EmulatorCore } from '../engine/core.ts';
import { MAX_DRAIN_BYTES, sendJson } from '../openapi/wire.ts';
import { consoleSnapshot, containerLog, CONSOLE_HTML, streamSnapshots } from './console.ts';

/**
 * The admin API under `/_emulator/`: JSON over HTTP, unauthenticated, answered only to loopback
 * clients. It drives the emulated cloud for tests (faults, stock, container states, quotas, timings)
 * and shows its state. `admin-client.ts` is its typed client; docs/emulator.md lists the routes.
 */

export const ADMIN_PREFIX = '/_emulator';

/** A route's answer sent as plain text (a container log), not JSON. */
class TextResponse {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

export class AdminError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * Host names a loopback client legitimately uses. A web page that rebinds its own name to 127.0.0.1
 * reaches us with its name in Host; refusing it keeps such pages from reading the admin API.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return name === 'localhost' || name === '[::1]' || /^127(\.\d{1,3}){3}$/.test(name);
}

export function isLoopback(address: string | undefined): boolean {
  return (
    address !== undefined &&
    (LOOPBACK.has(address) || address.startsWith('127.') || address.startsWith('::ffff:127.'))
  );
}

const MAX_JSON_BYTES = 1024 * 1024;

/** A body too large; `drained` says whether it was read to its end (the connection can be reused). */
class AdminBodyTooLarge extends AdminError {
  readonly drained: boolean;
  constructor(drained: boolean) {
    super(413, 'TooLarge', `request body larger than ${MAX_JSON_BYTES} bytes`);
    this.drained = drained;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    // Read an oversized body to its end (up to a bound) so the keep-alive connection stays in step.
    if (size > MAX_DRAIN_BYTES) throw new AdminBodyTooLarge(false);
    if (size <= MAX_JSON_BYTES) chunks.push(c);
  }
  if (size > MAX_JSON_BYTES) throw new AdminBodyTooLarge(true);
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AdminError(400, 'InvalidJson', 'request body is not JSON');
  }
}

function parse<T>(schema: z.ZodType<T>, data: unknown): T {
  const r = schema.safeParse(data);
  if (!r.success) {
    throw new AdminError(
      400,
      'InvalidInput',
      r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
    );
  }
  return r.data;
}

const statusBody = z.object({ status: z.enum(GROUP_STATUSES), reason: z.string().optional() });
const exitBody = z.object({
  exitCode: z.number().int().min(0).max(255),
  reason: z.string().optional(),
  message: z.string().optional(),
});
const crashBody = z.object({
  exitCode: z.number().int().min(1).max(255).default(1),
  reason: z.string().default('Error'),
  message: z.string().optional(),
});
const readyBody = z.object({ ready: z.boolean().nullable() });
const stuckBody = z.object({
  reason: z.string().min(1).default('RunContainerError'),
  message: z.string().optional(),
});
const stockBody = z.object({ stock: z.number().int().min(0).nullable() });
const quotaBody = z.object({
  enabled: z.boolean().optional(),
  perMinute: z.record(z.string(), z.number().int().positive()).optional(),
});
const lifecycleBody = z.object({
  stages: z.array(stageSchema).optional(),
  restartBackoffMs: z.object({ initial: z.number().int().min(0), max: z.number().int().min(0) }).optional(),
  minRunMs: z.number().int().min(0).optional(),
  defaultRunSeconds: z.number().min(0).optional(),
  maxEventsPerGroup: z.number().int().positive().optional(),
  imagePullMs: z.number().int().min(0).optional(),
});
const clockBody = z.object({
  advanceMs: z
    .number()
    .int()
    .min(0)
    .max(100 * 365 * 86_400_000),
});
const imageCacheStatusBody = z.object({
  status: z.enum(['Preparing', 'Creating', 'Ready', 'Failed', 'Expired']),
});

function decodePathSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new AdminError(
      400,
      'InvalidPath',
      `the path segment ${JSON.stringify(s)} is not valid percent-encoding`,
    );
  }
}

type Route = {
  method: string;
  pattern: RegExp;
  run: (m: RegExpExecArray, body: () => Promise<unknown>, url: URL) => Promise<unknown> | unknown;
};

export class AdminHandler {
  readonly #core: EmulatorCore;
  readonly #api: ApiHandler;
  readonly #logger: Logger;
  readonly #routes: Route[];

  constructor(core: EmulatorCore, api: ApiHandler, logger: Logger) {
    this.#core = core;
    this.#api = api;
    this.#logger = logger;
    const c = core;
    const id = '([^/]+)';
    this.#routes = [
      { method: 'GET', pattern: /^\/console\/state$/, run: () => consoleSnapshot(c) },
      {
        method: 'GET',
        pattern: new RegExp(`^/container-groups/${id}/containers/${id}/log$`),
        run: async (m) => new TextResponse(await containerLog(c, m[1]!, m[2]!)),
      },
      { method: 'GET', pattern: /^\/health$/, run: () => ({ ok: true, regionId: c.config.region.id }) },
      { method: 'GET', pattern: /^\/state$/, run: () => this.#state() },
      {
        method: 'POST',
        pattern: /^\/reset$/,
        run: async () => {
          await c.reset();
          this.#api.stats.clear();
          return { ok: true };
        },
      },
      {
        method: 'GET',
        pattern: /^\/container-groups$/,
        run: (_m, _b, url) => {
          const status = url.searchParams.get('status');
          const limit = Math.min(Number(url.searchParams.get('limit') ?? '100') || 100, 1000);
          const offset = Number(url.searchParams.get('offset') ?? '0') || 0;
          const all = c.listGroups().filter((g) => status === null || g.status === status);
          return { total: all.length, items: all.slice(offset, offset + limit) };
        },
      },
      { method: 'GET', pattern: new RegExp(`^/container-groups/${id}$`), run: (m) => c.getGroup(m[1]!) },
      {
        method: 'POST',
        pattern: new RegExp(`^/container-groups/${id}/status$`),
        run: async (m, body) => {
          const b = parse(statusBody, await body());
          return c.driveStatus(m[1]!, b.status, b.reason);
        },
      },
      {
        method: 'POST',
        pattern: new RegExp(`^/container-groups/${id}/containers/${id}/exit$`),
        run: async (m, body) => {
          const b = parse(exitBody, await body());
          return c.driveExit(m[1]!, m[2]!, b.exitCode, { reason: b.reason, message: b.message });
        },
      },
      {
        method: 'POST',
        pattern: new RegExp(`^/container-groups/${id}/containers/${id}/crash$`),
        run: async (m, body) => {
          const b = parse(crashBody, await body());
          return c.driveExit(m[1]!, m[2]!, b.exitCode, { reason: b.reason, message: b.message });
        },
      },
      {
        method: 'POST',
        pattern: new RegExp(`^/container-groups/${id}/containers/${id}/ready$`),
        run: async (m, body) => c.driveReady(m[1]!, m[2]!, parse(readyBody, await body()).ready),
      },
      {
        method: 'POST',
        pattern: new RegExp(`^/container-groups/${id}/containers/${id}/stuck$`),
        run: async (m, body) => {
          const b = parse(stuckBody, await body());
          return c.driveStuck(m[1]!, m[2]!, b.reason, b.message);
        },
      },
      { method: 'GET', pattern: /^\/faults$/, run: () => ({ faults: c.listFaults() }) },
      {
        method: 'POST',
        pattern: /^\/faults$/,
        run: async (_m, body) => c.addFault(parse(faultSchema, await body())),
      },
      {
        method: 'DELETE',
        pattern: /^\/faults$/,
        run: () => {
          c.clearFaults();
          return { ok: true };
        },
      },
      {
        method: 'DELETE',
        pattern: new RegExp(`^/faults/${id}$`),
        run: (m) => {
          if (!c.removeFault(m[1]!)) throw new AdminError(404, 'NotFound', `no fault ${m[1]}`);
          return { ok: true };
        },
      },
      { method: 'GET', pattern: /^\/zones$/, run: () => ({ zones: c.zones() }) },
      {
        method: 'PUT',
        pattern: new RegExp(`^/zones/${id}/stock$`),
        run: async (m, body) => {
          const zone = m[1]!;
          const { stock } = parse(stockBody, await body());
          if (!c.setZoneStock(zone, stock)) throw new AdminError(404, 'NotFound', `no zone ${zone}`);
          return c.zones().find((z) => z.id === zone);
        },
      },
      { method: 'GET', pattern: /^\/quotas$/, run: () => c.quotaState() },
      {
        method: 'PUT',
        pattern: /^\/quotas$/,
        run: async (_m, body) => {
          return c.setQuotas(parse(quotaBody, await body()));
        },
      },
      {
        method: 'GET',
        pattern: /^\/stats$/,
        run: () => ({ actions: Object.fromEntries(this.#api.stats), journal: c.journalStats() }),
      },
      {
        method: 'DELETE',
        pattern: /^\/stats$/,
        run: () => {
          this.#api.stats.clear();
          return { ok: true };
        },
      },
      { method: 'GET', pattern: /^\/lifecycle$/, run: () => c.settings },
      {
        method: 'PUT',
        pattern: /^\/lifecycle$/,
        run: async (_m, body) => {
          return c.setLifecycle(parse(lifecycleBody, await body()));
        },
      },
      {
        method: 'POST',
        pattern: /^\/clock$/,
        run: async (_m, body) => c.advanceClock(parse(clockBody, await body()).advanceMs),
      },
      {
        method: 'GET',
        pattern: /^\/image-caches$/,
        run: () => ({ imageCaches: c.listImageCaches() }),
      },
      {
        method: 'POST',
        pattern: new RegExp(`^/image-caches/${id}/status$`),
        run: async (m, body) => c.driveImageCache(m[1]!, parse(imageCacheStatusBody, await body()).status),
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/exec/${id}$`),
        run: (m) => {
          const s = c.exec.get(m[1]!);
          if (s === undefined) throw new AdminError(404, 'NotFound', 'exec session not found or expired');
          return {
            containerGroupId: s.groupId,
            container: s.container,
            command: s.command,
            tty: s.tty,
            // The simulated runtime knows a command's output without running it; a real one must run.
            ...(c.runtime.kind === 'simulated' ? { output: interpret(s.command).output } : {}),
          };
        },
      },
    ];
  }

  #state() {
    const c = this.#core;
    const byStatus: Record<string, number> = {};
    const groups = c.listGroups();
    for (const g of groups) byStatus[g.status] = (byStatus[g.status] ?? 0) + 1;
    return {
      regionId: c.config.region.id,
      vpcs: c.config.region.vpcs,
      securityGroups: c.config.region.securityGroups,
      zones: c.zones(),
      containerGroups: { total: groups.length, byStatus },
      imageCaches: c.listImageCaches().length,
      faults: c.listFaults(),
      quotasEnabled: c.quotaState().enabled,
      journal: c.journalStats(),
      runtime: c.runtime.describe(),
      memory: process.memoryUsage(),
    };
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) {
      sendJson(res, 403, {
        error: { code: 'Forbidden', message: 'the admin API answers loopback clients only' },
      });
      return;
    }
    if (!isLoopbackHost(req.headers.host)) {
      sendJson(res, 403, {
        error: {
          code: 'Forbidden',
          message: 'the admin API answers requests addressed to a loopback host only',
        },
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://emulator');
    const path = url.pathname.slice(ADMIN_PREFIX.length) || '/';
    // The web console: the page, and its live stream.
    if (req.method === 'GET' && (path === '/' || path === '/console')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(CONSOLE_HTML);
      return;
    }
    if (req.method === 'GET' && path === '/console/stream') {
      streamSnapshots(req, res, () => consoleSnapshot(this.#core));
      return;
    }
    try {
      // Cross-site form posts and fetch "simple requests" cannot send application/json without a CORS
      // preflight, which this API never answers: requiring it for every change stops CSRF.
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/json') {
          throw new AdminError(
            415,
            'UnsupportedMediaType',
            `${req.method} requests must have content-type application/json (got ${type || 'none'})`,
          );
        }
      }
      const matching = this.#routes.filter((r) => r.pattern.test(path));
      if (matching.length === 0) throw new AdminError(404, 'NotFound', `no admin route ${path}`);
      const route = matching.find((r) => r.method === req.method);
      if (route === undefined)
        throw new AdminError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${path}`);
      const m = route.pattern.exec(path)!;
      const decoded = Object.assign(
        [...m].map((x) => (x === undefined ? x : decodePathSegment(x))),
        {
          index: m.index,
          input: m.input,
        },
      ) as unknown as RegExpExecArray;
      const result = await route.run(decoded, () => readJson(req), url);
      if (result instanceof TextResponse) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(result.text);
        return;
      }
      sendJson(res, 200, result ?? { ok: true });
    } catch (err) {
      if (err instanceof AdminError || err instanceof CloudError) {
        const status = err instanceof CloudError && err.code === 'IncorrectStatus' ? 409 : err.status;
        if (err instanceof AdminBodyTooLarge && !err.drained) res.setHeader('connection', 'close');
        sendJson(res, status, { error: { code: err.code, message: err.message } });
      } else {
        this.#logger.error({ err, path }, 'emulator admin request failed');
        sendJson(res, 500, { error: { code: 'InternalError', message: 'admin request failed' } });
      }
    }
  }
}
