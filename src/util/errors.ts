/**
 * The product's error catalogue. Every error carries a stable `code`; logs and tests match on the
 * code, never on message text. Messages say what failed and what to do about it.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'EVN_CONFIG_INVALID',
  GO_MISSING: 'EVN_GO_MISSING',
  BUILD_FAILED: 'EVN_BUILD_FAILED',
  PORT_IN_USE: 'EVN_PORT_IN_USE',
  START_FAILED: 'EVN_START_FAILED',
  NOT_RUNNING: 'EVN_NOT_RUNNING',
  KUBE_API: 'EVN_KUBE_API',
  NOT_FOUND: 'EVN_NOT_FOUND',
  INVALID_INPUT: 'EVN_INVALID_INPUT',
  ECI_API: 'EVN_ECI_API',
  TIMEOUT: 'EVN_TIMEOUT',
  STATE_CORRUPT: 'EVN_STATE_CORRUPT',
  BUSY: 'EVN_BUSY',
  LEADERSHIP_LOST: 'EVN_LEADERSHIP_LOST',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class ProductError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProductError';
    this.code = code;
  }
}

/** True when `err` or anything in its cause chain is a ProductError with `code`. */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ProductError && e.code === code) return true;
  }
  return false;
}

/** A one-line description of any thrown value, safe for logs (never `{}` for an Error). */
export function describeError(err: unknown): string {
  const api = apiStatusMessage(err);
  if (api) return api;
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The Kubernetes client's ApiException message holds the whole response with its headers; the API
 * server's own Status message is what a reader needs.
 */
function apiStatusMessage(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, body } = err as { code?: unknown; body?: unknown };
  if (typeof code !== 'number' || body === undefined) return undefined;
  let status: { message?: string; reason?: string } | undefined;
  try {
    status = (typeof body === 'string' ? JSON.parse(body) : body) as typeof status;
  } catch {
    return `HTTP ${code}: ${String(body).slice(0, 300)}`;
  }
  return `HTTP ${code}${status?.reason ? ` ${status.reason}` : ''}: ${status?.message ?? 'no message'}`;
}
