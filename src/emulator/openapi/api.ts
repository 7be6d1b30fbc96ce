import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../util/log.ts';
import { actionNamed, API_VERSION, type ActionContext } from './actions/index.ts';
import { checkRegion } from './actions/context.ts';
import { authenticate, nonceWindowMs } from './auth.ts';
import { CloudError, cloudErrors } from '../engine/cloud-errors.ts';
import type { EmulatorCore } from '../engine/core.ts';
import { Params } from './params.ts';
import { NonceCache } from './signature.ts';
import {
  actionParams,
  BodyTooLargeError,
  errorBody,
  newRequestId,
  readWireRequest,
  sendJson,
} from './wire.ts';

/** Per-action request counts by result code, and latency, for the admin API. */
export interface ActionStats {
  count: number;
  totalMs: number;
  byCode: Record<string, number>;
}

/**
 * The RPC endpoint: read → route → authenticate → faults → quota → parameters → action → answer.
 * Every answer, success or error, carries a RequestId; every request is logged with its action,
 * latency and result code (never its parameters or signature).
 */
export class ApiHandler {
  readonly #core: EmulatorCore;
  readonly #logger: Logger;
  readonly #nonces: NonceCache;
  readonly #keys: Map<string, string>;
  readonly #hostId: string;
  readonly stats = new Map<string, ActionStats>();

  constructor(core: EmulatorCore, logger: Logger) {
    this.#core = core;
    this.#logger = logger;
    const { maxClockSkewSeconds, nonceTtlSeconds } = core.config.auth;
    this.#nonces = new NonceCache(nonceWindowMs(maxClockSkewSeconds * 1000, nonceTtlSeconds * 1000));
    this.#keys = new Map(core.config.accessKeys.map((k) => [k.id, k.secret]));
    this.#hostId = `eci.${core.config.region.id}.aliyuncs.com`;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = newRequestId();
    let action = '(unknown)';
    let status = 200;
    let code = 'OK';
    try {
      const wire = await readWireRequest(req);
      if (wire.path !== '/' || wire.action === undefined) throw cloudErrors.actionNotFound();
      const def = actionNamed(wire.action);
      if (def === undefined) throw cloudErrors.actionNotFound();
      action = wire.action;
      if (wire.version !== API_VERSION) throw cloudErrors.invalidVersion(wire.version ?? '(missing)');
      // The caller signs with the real time, whatever the emulated clock was moved to.
      const now = this.#core.wallNow();
      const { accessKeyId } = authenticate(
        wire,
        {
          keys: this.#keys,
          maxClockSkewMs: this.#core.config.auth.maxClockSkewSeconds * 1000,
          nonces: this.#nonces,
        },
        now,
      );

      const fault = this.#core.evaluateFault(action);
      if (fault.delayMs > 0) await sleep(fault.delayMs);
      if (fault.error !== undefined) throw fault.error;
      if (!this.#core.takeQuota(accessKeyId, action, now)) throw cloudErrors.throttlingUser();

      const flat = actionParams(wire);
      if (this.#core.config.strictParameters) {
        for (const key of flat.keys()) {
          const top = key.split('.')[0]!;
          if (!def.params.includes(top))
            throw cloudErrors.invalidParameter(top, 'The action does not accept it.');
        }
      }
      const ctx: ActionContext = {
        core: this.#core,
        params: Params.fromFlat(flat),
        flat,
        requestId,
        accessKeyId,
        now: this.#core.now(),
      };
      checkRegion(ctx, def.regionRequired === true);
      const body = await def.handle(ctx);
      sendJson(res, 200, { RequestId: requestId, ...body }, requestId);
    } catch (err) {
      let e: CloudError;
      if (err instanceof CloudError) {
        e = err;
      } else {
        e = cloudErrors.internalError();
        this.#logger.error({ err, action, requestId }, 'emulator: action failed unexpectedly');
      }
      status = e.status;
      code = e.code;
      // The rest of a body we stopped reading would be taken for the next request: close instead.
      if (e instanceof BodyTooLargeError && !e.drained) res.setHeader('connection', 'close');
      if (!res.headersSent) sendJson(res, e.status, errorBody(e, requestId, this.#hostId), requestId);
    } finally {
      const ms = Math.round((performance.now() - started) * 100) / 100;
      this.#record(action, code, ms);
      this.#logger.info({ action, status, code, ms, requestId }, 'eci request');
    }
  }

  /** Counts a request refused before it could be read (its action unknown), for the stats. */
  recordUnparsed(code: string): void {
    this.#record('(unparsed)', code, 0);
  }

  #record(action: string, code: string, ms: number): void {
    let s = this.stats.get(action);
    if (s === undefined) {
      s = { count: 0, totalMs: 0, byCode: {} };
      this.stats.set(action, s);
    }
    s.count++;
    s.totalMs += ms;
    s.byCode[code] = (s.byCode[code] ?? 0) + 1;
  }
}
