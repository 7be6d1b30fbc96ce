import { ErrorCodes, ProductError } from '../../util/errors.ts';

/** What a caller should do about a failed ECI call. */
export type EciErrorKind =
  | 'throttled' // slow down and retry
  | 'server' // cloud-side or network failure: retry with backoff
  | 'stock' // the zone has no capacity: try another vSwitch/zone
  | 'not-found' // the group (or resource) is gone
  | 'invalid' // the request itself is wrong: retrying it will not help; refuse the pod and tell the user
  | 'config' // the request contradicts the configuration (vSwitch and security group in other VPCs): retry, a config change may fix it
  | 'auth' // credentials or permissions: tell the operator
  | 'quota'; // account quota reached: tell the operator, retry later

/** An ECI OpenAPI failure with the cloud's own code, message and RequestId (never the AccessKey). */
export class EciApiError extends ProductError {
  readonly action: string;
  readonly cloudCode: string;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;
  readonly kind: EciErrorKind;

  constructor(a: {
    action: string;
    cloudCode: string;
    message: string;
    httpStatus?: number;
    requestId?: string;
    cause?: unknown;
  }) {
    super(
      ErrorCodes.ECI_API,
      `ECI ${a.action} failed: ${a.cloudCode}: ${a.message}${a.requestId ? ` (RequestId ${a.requestId})` : ''}`,
      {
        cause: a.cause,
      },
    );
    this.name = 'EciApiError';
    this.action = a.action;
    this.cloudCode = a.cloudCode;
    this.httpStatus = a.httpStatus;
    this.requestId = a.requestId;
    this.kind = classifyEciError(a.cloudCode, a.httpStatus);
  }

  get retryable(): boolean {
    return (
      this.kind === 'throttled' ||
      this.kind === 'server' ||
      this.kind === 'stock' ||
      this.kind === 'quota' ||
      this.kind === 'config'
    );
  }
}

/** Maps the cloud's error code (and HTTP status) to what to do. One place, table-tested. */
export function classifyEciError(code: string, httpStatus: number | undefined): EciErrorKind {
  if (/^Throttling/i.test(code) || code === 'ServiceUnavailable' || httpStatus === 429) return 'throttled';
  if (
    /NoStock|RecommendEmpty|ResourceNotAvailable|Zone\.NotOnSale|InsufficientBalance\.Zone|IpNotEnough/i.test(
      code,
    )
  )
    return 'stock';
  if (/NotFound$|\.NotFound\b|NotExist/i.test(code) && !/AccessKey/i.test(code)) return 'not-found';
  if (
    /AccessKey|Signature|Forbidden|NoPermission|Unauthorized|InvalidTimeStamp|SignatureNonceUsed/i.test(code)
  )
    return 'auth';
  if (/QuotaExceed|ExceedQuota|Quota\./i.test(code)) return 'quota';
  if (/\.Mismatch$/i.test(code)) return 'config';
  if (httpStatus !== undefined && httpStatus >= 500) return 'server';
  if (/InternalError|UnknownError|ServiceUnavailable|Timeout/i.test(code)) return 'server';
  if (httpStatus === undefined) return 'server';
  return 'invalid';
}

/** Turns whatever the SDK threw into an EciApiError; network errors become kind `server`. */
export function toEciApiError(action: string, err: unknown): EciApiError {
  if (err instanceof EciApiError) return err;
  const e = (err ?? {}) as {
    code?: unknown;
    message?: unknown;
    statusCode?: unknown;
    data?: { RequestId?: string; Message?: string; statusCode?: number };
  };
  const httpStatus = typeof e.statusCode === 'number' ? e.statusCode : e.data?.statusCode;
  const cloudCode =
    typeof e.code === 'string' && e.code ? e.code : httpStatus ? `HTTP${httpStatus}` : 'NetworkError';
  // The SDK prefixes its message with "code: <status>, "; the cloud's own Message is in data when present.
  const message =
    e.data?.Message ?? (typeof e.message === 'string' ? e.message.replace(/^code: \d+, /, '') : String(err));
  return new EciApiError({
    action,
    cloudCode,
    message: message.replace(/\s+request id: .*$/, ''),
    httpStatus,
    requestId: e.data?.RequestId,
    cause: err,
  });
}
