import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The two signature schemes of Alibaba Cloud RPC APIs, as the official SDKs compute them
 * (`@alicloud/openapi-util` getAuthorization / getRPCSignature). Pure functions: the emulator
 * recomputes the client's signature from what arrived on the wire and compares.
 *
 * ACS3-HMAC-SHA256 (what `@alicloud/eci20180808` 2.x sends by default):
 *   CanonicalRequest = METHOD \n URI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n HexSha256(body)
 *   CanonicalQuery   = sorted keys, `key=Encode(value)` joined by `&` (keys are not encoded)
 *   CanonicalHeaders = for each signed header (lower-case, sorted): `name:trimmed-value\n`
 *   StringToSign     = `ACS3-HMAC-SHA256\n` + HexSha256(CanonicalRequest)
 *   Signature        = Hex(HMAC-SHA256(secret, StringToSign))
 *   Authorization: ACS3-HMAC-SHA256 Credential=<AK>,SignedHeaders=a;b;c,Signature=<hex>
 *
 * RPC v1 (HMAC-SHA1, `signatureAlgorithm: 'v2'` in the SDK config, and older SDKs):
 *   StringToSign = METHOD & Encode('/') & Encode(sorted `Encode(k)=Encode(v)` joined by `&`)
 *   Signature    = Base64(HMAC-SHA1(secret + '&', StringToSign)), sent as the `Signature` query parameter.
 */

export const ACS3 = 'ACS3-HMAC-SHA256';

/** RFC 3986 percent-encoding, as the SDK's `encode` (encodeURIComponent plus `!'()*`). */
export function percentEncode(s: string): string {
  return encodeURIComponent(s)
    .replace(/!/g, '%21')
    .replace(/'/g, '%27')
    .replace(/\(/g, '%28')
    .replace(/\)/g, '%29')
    .replace(/\*/g, '%2A');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface Acs3Authorization {
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses an ACS3-HMAC-SHA256 Authorization header; null when it is not one or is malformed. */
export function parseAcs3Authorization(header: string): Acs3Authorization | null {
  const trimmed = header.trim();
  if (!trimmed.startsWith(`${ACS3} `)) return null;
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(ACS3.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const accessKeyId = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!accessKeyId || signedHeaders === undefined || !signature) return null;
  return {
    accessKeyId,
    signedHeaders: signedHeaders === '' ? [] : signedHeaders.split(';').map((h) => h.trim().toLowerCase()),
    signature: signature.toLowerCase(),
  };
}

export interface Acs3Input {
  method: string;
  /** The request path, as sent (`/` for RPC). */
  path: string;
  /** Decoded query parameters. */
  query: ReadonlyMap<string, string>;
  /** Lower-case header names (as node:http gives them). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  signedHeaders: readonly string[];
  /** Hex SHA-256 of the request body as received. */
  payloadHash: string;
}

export function acs3CanonicalRequest(input: Acs3Input): string {
  const canonicalUri = input.path === '' ? '/' : input.path;
  const keys = [...input.query.keys()].sort();
  const canonicalQuery = keys.map((k) => `${k}=${percentEncode(input.query.get(k) ?? '')}`).join('&');
  const signed = [...input.signedHeaders].sort();
  let canonicalHeaders = '';
  for (const name of signed) {
    const raw = input.headers[name];
    const values = raw === undefined ? [''] : Array.isArray(raw) ? raw : [raw];
    canonicalHeaders += `${name}:${values
      .map((v) => v.trim())
      .sort()
      .join(',')}\n`;
  }
  return [
    input.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signed.join(';'),
    input.payloadHash,
  ].join('\n');
}

export function acs3StringToSign(canonicalRequest: string): string {
  return `${ACS3}\n${sha256Hex(canonicalRequest)}`;
}

export function acs3Signature(secret: string, stringToSign: string): string {
  return createHmac('sha256', secret).update(stringToSign).digest('hex');
}

/** The RPC v1 string to sign over every parameter except `Signature`. */
export function rpcV1StringToSign(method: string, params: ReadonlyMap<string, string>): string {
  const keys = [...params.keys()].filter((k) => k !== 'Signature').sort();
  const canonical = keys.map((k) => `${percentEncode(k)}=${percentEncode(params.get(k) ?? '')}`).join('&');
  return `${method}&${percentEncode('/')}&${percentEncode(canonical)}`;
}

export function rpcV1Signature(secret: string, stringToSign: string): string {
  return createHmac('sha1', `${secret}&`).update(stringToSign).digest('base64');
}

/** Constant-time comparison of two signatures. */
export function signaturesEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/**
 * Remembers SignatureNonces for a time window; a nonce seen again within the window is a replay.
 * Expiry is by insertion order, so pruning costs O(expired).
 */
export class NonceCache {
  readonly #ttlMs: number;
  readonly #seen = new Map<string, number>();

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /** Records the nonce; false when it was already used within the window. */
  use(key: string, now: number): boolean {
    this.#prune(now);
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, now + this.#ttlMs);
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    for (const [k, expiry] of this.#seen) {
      if (expiry > now) break;
      this.#seen.delete(k);
    }
  }
}
