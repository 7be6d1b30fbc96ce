import { cloudErrors } from '../engine/cloud-errors.ts';
import type { NonceCache } from './signature.ts';
import {
  acs3CanonicalRequest,
  acs3Signature,
  acs3StringToSign,
  parseAcs3Authorization,
  rpcV1Signature,
  rpcV1StringToSign,
  sha256Hex,
  signaturesEqual,
} from './signature.ts';
import type { WireRequest } from './wire.ts';

export interface AuthOptions {
  /** AccessKey id → secret. */
  keys: ReadonlyMap<string, string>;
  maxClockSkewMs: number;
  nonces: NonceCache;
}

export interface Principal {
  accessKeyId: string;
  scheme: 'ACS3-HMAC-SHA256' | 'HMAC-SHA1';
}

/**
 * Headers an ACS3 signature must cover. The official SDK signs every `x-acs-*` header and `host`;
 * requiring these closes two holes: a request signed over `host` alone could be replayed with another
 * action, and one without a nonce could be replayed at will within the timestamp window.
 */
export const ACS3_REQUIRED_SIGNED_HEADERS = [
  'host',
  'x-acs-action',
  'x-acs-version',
  'x-acs-date',
  'x-acs-signature-nonce',
] as const;

const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function checkTimestamp(value: string | undefined, now: number, maxSkewMs: number): void {
  if (value === undefined || !ISO_SECONDS.test(value))
    throw cloudErrors.timestampFormat(value ?? '(missing)');
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw cloudErrors.timestampFormat(value);
  if (Math.abs(now - t) > maxSkewMs) throw cloudErrors.timestampExpired(value);
}

function firstHeader(req: WireRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Verifies who sent the request, in the cloud's order: the signature must cover what routes the
 * request and a nonce, the AccessKey must exist, the timestamp must be fresh, the signature must
 * match, and only then is the nonce spent (so a forged request cannot burn a legitimate client's
 * nonce). Throws the cloud's error for the first check that fails. `opts.nonces` must remember a nonce
 * for as long as a request carrying it can pass the timestamp check (see `nonceWindowMs`).
 */
export function authenticate(req: WireRequest, opts: AuthOptions, now: number): Principal {
  const v1Signature = req.query.get('Signature') ?? req.form.get('Signature');
  if (v1Signature !== undefined) return authenticateV1(req, v1Signature, opts, now);

  const authorization = firstHeader(req, 'authorization');
  if (authorization === undefined)
    throw cloudErrors.incompleteSignature('The Authorization header is missing.');
  const auth = parseAcs3Authorization(authorization);
  if (auth === null) {
    throw cloudErrors.incompleteSignature(
      'The Authorization header is not ACS3-HMAC-SHA256 Credential=,SignedHeaders=,Signature=.',
    );
  }
  for (const name of ACS3_REQUIRED_SIGNED_HEADERS) {
    if (!firstHeader(req, name)) throw cloudErrors.incompleteSignature(`The ${name} header is missing.`);
    if (!auth.signedHeaders.includes(name)) {
      throw cloudErrors.incompleteSignature(`The signature does not cover the ${name} header.`);
    }
  }
  const secret = opts.keys.get(auth.accessKeyId);
  if (secret === undefined) throw cloudErrors.accessKeyNotFound();
  checkTimestamp(firstHeader(req, 'x-acs-date'), now, opts.maxClockSkewMs);
  const canonical = acs3CanonicalRequest({
    method: req.method,
    path: req.path,
    query: req.query,
    headers: req.headers,
    signedHeaders: auth.signedHeaders,
    payloadHash: sha256Hex(req.body),
  });
  const stringToSign = acs3StringToSign(canonical);
  if (!signaturesEqual(acs3Signature(secret, stringToSign), auth.signature)) {
    throw cloudErrors.signatureMismatch(stringToSign);
  }
  const nonce = firstHeader(req, 'x-acs-signature-nonce')!;
  if (!opts.nonces.use(`${auth.accessKeyId}\n${nonce}`, now)) throw cloudErrors.nonceUsed();
  return { accessKeyId: auth.accessKeyId, scheme: 'ACS3-HMAC-SHA256' };
}

function authenticateV1(req: WireRequest, signature: string, opts: AuthOptions, now: number): Principal {
  const params = new Map([...req.query, ...req.form]);
  // RPC v1 signs parameters, not headers: an ACS3 routing header on such a request is unsigned and
  // must not pick another action or version than the signed ones.
  for (const [header, param] of [
    ['x-acs-action', 'Action'],
    ['x-acs-version', 'Version'],
  ] as const) {
    const h = firstHeader(req, header);
    if (h !== undefined && h !== params.get(param)) {
      throw cloudErrors.incompleteSignature(
        `The ${header} header is not covered by the signature and differs from the signed ${param}.`,
      );
    }
  }
  const accessKeyId = params.get('AccessKeyId');
  if (accessKeyId === undefined) throw cloudErrors.missingParameter('AccessKeyId');
  const method = params.get('SignatureMethod');
  if (method !== 'HMAC-SHA1') throw cloudErrors.signatureMethod(method ?? '(missing)');
  const secret = opts.keys.get(accessKeyId);
  if (secret === undefined) throw cloudErrors.accessKeyNotFound();
  checkTimestamp(params.get('Timestamp'), now, opts.maxClockSkewMs);
  const stringToSign = rpcV1StringToSign(req.method, params);
  if (!signaturesEqual(rpcV1Signature(secret, stringToSign), signature)) {
    throw cloudErrors.signatureMismatch(stringToSign);
  }
  const nonce = params.get('SignatureNonce');
  if (nonce === undefined) throw cloudErrors.missingParameter('SignatureNonce');
  if (!opts.nonces.use(`${accessKeyId}\n${nonce}`, now)) throw cloudErrors.nonceUsed();
  return { accessKeyId, scheme: 'HMAC-SHA1' };
}

/**
 * How long a nonce must stay spent: a request is accepted while its timestamp is within ±skew of now, so
 * one signed at the far edge of the future stays acceptable for up to twice the skew after it was first
 * seen. A shorter memory re-opens a replay window.
 */
export function nonceWindowMs(maxClockSkewMs: number, configuredTtlMs: number): number {
  return Math.max(configuredTtlMs, 2 * maxClockSkewMs);
}
