import EciModule from '@alicloud/eci20180808';
import * as $OpenApi from '@alicloud/openapi-client';
import type { RuntimeOptions } from '@alicloud/tea-util';
import { pino } from 'pino';
import { rpcParams } from '../../src/eci-api/rpc.ts';
import type { EmulatorConfigInput } from '../../src/emulator/config.ts';
import { type RunningEmulator, startEmulator, type StartEmulatorOptions } from '../../src/emulator/server.ts';

/** Helpers shared by the emulator's tests and benchmark: an official SDK client pointed at an emulator. */

export type EciClient = InstanceType<typeof EciModule.default>;

export interface SdkClientOptions {
  accessKeyId?: string;
  accessKeySecret?: string;
  /** `'v2'` makes the SDK sign with the RPC v1 HMAC-SHA1 scheme instead of ACS3-HMAC-SHA256. */
  signatureAlgorithm?: string;
  readTimeout?: number;
  /** PEM CA bundle to trust (an emulator serving HTTPS with its own certificate). */
  ca?: string;
  /** Headers/query parameters the SDK adds to every request (and signs); they override its own. */
  globalHeaders?: Record<string, string>;
  globalQueries?: Record<string, string>;
}

export function sdkClient(
  emu: Pick<RunningEmulator, 'endpoint' | 'protocol' | 'regionId' | 'accessKeyId' | 'accessKeySecret'>,
  opts: SdkClientOptions = {},
): EciClient {
  const config = new $OpenApi.Config({
    accessKeyId: opts.accessKeyId ?? emu.accessKeyId,
    accessKeySecret: opts.accessKeySecret ?? emu.accessKeySecret,
    endpoint: emu.endpoint,
    protocol: emu.protocol,
    regionId: emu.regionId,
    readTimeout: opts.readTimeout ?? 30_000,
    connectTimeout: 5_000,
    ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    ...(opts.signatureAlgorithm === undefined ? {} : { signatureAlgorithm: opts.signatureAlgorithm }),
    ...(opts.globalHeaders === undefined && opts.globalQueries === undefined
      ? {}
      : {
          globalParameters: new $OpenApi.GlobalParameters({
            headers: opts.globalHeaders,
            queries: opts.globalQueries,
          }),
        }),
  });
  return new EciModule.default(config);
}

/** The fields of an SDK error (a TeaError). */
export interface SdkError {
  code: string;
  statusCode: number;
  message: string;
  requestId: string | undefined;
  data: Record<string, unknown>;
}

/** Runs `fn`, expecting the SDK to throw; returns the error's fields. */
export async function sdkError(fn: () => Promise<unknown>): Promise<SdkError> {
  try {
    await fn();
  } catch (err) {
    const e = err as { code?: string; message?: string; data?: Record<string, unknown> };
    const data = e.data ?? {};
    return {
      code: e.code ?? '',
      statusCode: Number(data.statusCode ?? 0),
      message: e.message ?? '',
      requestId: typeof data.RequestId === 'string' ? data.RequestId : undefined,
      data,
    };
  }
  throw new Error('expected the SDK call to fail, it succeeded');
}

/** Polls `fn` until it returns a value that is not undefined (or the timeout passes). */
export async function eventually<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Calls an RPC action through the SDK's generic `callApi` (the template actions have no typed method
 * in `@alicloud/eci20180808` 2.x); `query` holds flat RPC parameters.
 */
export async function callAction(
  client: EciClient,
  action: string,
  query: Record<string, string>,
  opts: { version?: string } = {},
): Promise<Record<string, unknown>> {
  const params = rpcParams(action, { protocol: 'HTTPS', version: opts.version });
  const res = await client.callApi(params, new $OpenApi.OpenApiRequest({ query }), {} as RuntimeOptions);
  return res.body as Record<string, unknown>;
}

/** Lifecycle timings for tests: every stage in tens of milliseconds. */
export const FAST_LIFECYCLE: NonNullable<EmulatorConfigInput['lifecycle']> = {
  stages: [
    {
      from: 'Scheduling',
      to: 'Pending',
      delayMs: 30,
      events: [{ type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned {name} to {zone}' }],
    },
    { from: 'Pending', to: 'Running', delayMs: 60 },
    { from: 'Restarting', to: 'Pending', delayMs: 50 },
    { from: 'Updating', to: 'Pending', delayMs: 50 },
    { from: 'Terminating', to: 'Deleted', delayMs: 50 },
  ],
  restartBackoffMs: { initial: 100, max: 400 },
  minRunMs: 100,
  defaultRunSeconds: 0.3,
  imageCacheReadyMs: 100,
};

/** An in-memory emulator on a free port with fast timings, quiet logs and the given config on top. */
export function startTestEmulator(
  config: EmulatorConfigInput = {},
  opts: Omit<StartEmulatorOptions, 'config'> = {},
): Promise<RunningEmulator> {
  return startEmulator({
    port: 0,
    logger: pino({ level: 'silent' }),
    ...opts,
    config: { logLevel: 'silent', ...config, lifecycle: { ...FAST_LIFECYCLE, ...config.lifecycle } },
  });
}
