import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { CloudError, cloudErrors } from '../engine/cloud-errors.ts';

/**
 * The RPC wire format: what a request looks like after it is read off the socket, and how answers are
 * written. Seen from `@alicloud/eci20180808` 2.x: `POST /?<flattened params>` with the action and version
 * in `x-acs-action` / `x-acs-version` (ACS3) or in the `Action` / `Version` query parameters (RPC v1);
 * parameters may also come as an `application/x-www-form-urlencoded` body.
 */

export interface WireRequest {
  method: string;
  path: string;
  /** Decoded query parameters (last value wins, as in the SDK's map). */
  query: Map<string, string>;
  /** Decoded form-body parameters. */
  form: Map<string, string>;
  headers: IncomingHttpHeaders;
  body: Buffer;
  action: string | undefined;
  version: string | undefined;
}

/** Query parameters that belong to the gateway (signing and routing), not to the action. */
export const COMMON_PARAMETERS = new Set([
  'Action',
  'Version',
  'Format',
  'AccessKeyId',
  'Signature',
  'SignatureMethod',
  'SignatureVersion',
  'SignatureNonce',
  'SignatureType',
  'Timestamp',
  'SecurityToken',
  'BearerToken',
]);

export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * Request line and headers. The SDK puts every RPC parameter in the URL, so a valid large pod (many
 * env vars, long commands) makes a long one; Node's default (16 KiB) refused them with a bare 431.
 */
export const MAX_HEADER_BYTES = 1024 * 1024;
/**
 * A body over MAX_BODY_BYTES is read to its end and dropped, so a keep-alive connection stays in step
 * for the next request; past this much, the connection is closed instead of reading on.
 */
export const MAX_DRAIN_BYTES = 16 * 1024 * 1024;

/** A body too large; `drained` says whether it was read to its end (the connection can be reused). */
export class BodyTooLargeError extends CloudError {
  readonly drained: boolean;
  constructor(drained: boolean) {
    const e = cloudErrors.requestBodyTooLarge(MAX_BODY_BYTES);
    super(e.status, e.code, e.message);
    this.drained = drained;
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function parseParams(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(text)) out.set(k, v);
  return out;
}

/** Reads the whole body (bounded) and splits the request into its wire parts. */
export async function readWireRequest(req: IncomingMessage): Promise<WireRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_DRAIN_BYTES) throw new BodyTooLargeError(false);
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) throw new BodyTooLargeError(true);
  const body = Buffer.concat(chunks);
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = parseParams(q < 0 ? '' : url.slice(q + 1));
  const contentType = header(req.headers, 'content-type') ?? '';
  const form =
    body.length > 0 && contentType.startsWith('application/x-www-form-urlencoded')
      ? parseParams(body.toString('utf8'))
      : new Map<string, string>();
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path,
    query,
    form,
    headers: req.headers,
    body,
    action: header(req.headers, 'x-acs-action') ?? query.get('Action') ?? form.get('Action'),
    version: header(req.headers, 'x-acs-version') ?? query.get('Version') ?? form.get('Version'),
  };
}

/** The action's own parameters: query and form merged, gateway parameters removed. */
export function actionParams(req: WireRequest): Map<string, string> {
  const out = new Map<string, string>();
  for (const source of [req.query, req.form]) {
    for (const [k, v] of source) if (!COMMON_PARAMETERS.has(k)) out.set(k, v);
  }
  return out;
}

/** Request IDs look like the cloud's: an upper-case UUID. */
export function newRequestId(): string {
  return randomUUID().toUpperCase();
}

export interface ErrorBody {
  RequestId: string;
  HostId: string;
  Code: string;
  Message: string;
  Recommend: string;
}

export function errorBody(err: CloudError, requestId: string, hostId: string): ErrorBody {
  return {
    RequestId: requestId,
    HostId: hostId,
    Code: err.code,
    Message: err.message,
    Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(err.code)}&product=Eci&requestId=${requestId}`,
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, requestId?: string): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json;charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  if (requestId !== undefined) res.setHeader('x-acs-request-id', requestId);
  res.end(text);
}

/**
 * A whole HTTP/1.1 error answer as bytes, for a request Node's parser refused before any handler saw
 * it (headers too large, malformed framing): the client still gets the cloud's JSON error and a
 * RequestId instead of a bare status, and the connection is closed because its framing is unknown.
 */
export function rawErrorResponse(err: CloudError, hostId: string): string {
  const requestId = newRequestId();
  const text = JSON.stringify(errorBody(err, requestId, hostId));
  return (
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n` +
    'content-type: application/json;charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(text)}\r\n` +
    `x-acs-request-id: ${requestId}\r\n` +
    'connection: close\r\n\r\n' +
    text
  );
}
