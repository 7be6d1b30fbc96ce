/**
 * Deep redaction for anything that leaves the process as text (log lines, error messages): values
 * under keys that name a secret are replaced whatever their depth, secret-shaped substrings of any
 * string are masked, and values the caller registered as secret (an AccessKey secret, a resolved
 * Secret) are masked wherever they show up. Bounded: deep or huge structures are cut, never walked
 * for long.
 */

export const REDACTED = '[redacted]';

/** Keys whose value is a secret, in any spelling (accessKeySecret, access-key-secret, AccessKeyId ...). */
const SECRET_KEY =
  /^(?:.*(?:secret|password|passwd|token|credential|private[-_]?key|authorization|signature|cookie|access[-_]?key)(?:[-_]?id)?.*)$/i;
/** Keys that match the pattern above but hold no secret. */
const SAFE_KEYS = new Set([
  'tokenbucket',
  'secretname',
  'secretref',
  'signedheaders',
  'tokens',
  'secretnames',
]);

/** Substrings that carry credentials whatever key they sit under. */
const SECRET_TEXT: readonly [RegExp, string][] = [
  // ACS3 Authorization header and RPC v1 query signing.
  [/(Credential=)[^,\s&"]+/g, `$1${REDACTED}`],
  [/(Signature=)[^,\s&"]+/g, `$1${REDACTED}`],
  [/(\b(?:AccessKeyId|SecurityToken|BearerToken)=)[^&\s"]+/g, `$1${REDACTED}`],
  // HTTP bearer / basic credentials.
  [/(\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}/g, `$1${REDACTED}`],
  // JSON Web Tokens (service-account tokens).
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // Alibaba Cloud AccessKey IDs.
  [/\bLTAI[A-Za-z0-9]{12,30}\b/g, REDACTED],
  // PEM private keys.
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, REDACTED],
];

const MAX_DEPTH = 8;
const MAX_ITEMS = 200;
const MAX_STRING = 64 * 1024;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !SAFE_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''));
}

/** Masks secret-shaped substrings and the registered secret values in `s`. */
export function redactText(s: string, secrets: Iterable<string> = []): string {
  let out = s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}…[truncated]` : s;
  for (const [re, replacement] of SECRET_TEXT) out = out.replace(re, replacement);
  for (const secret of secrets) {
    // Short values would mask ordinary words; a secret that short is no secret.
    if (secret.length >= 6 && out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/**
 * A copy of `value` fit to print: secret keys masked at any depth, strings scrubbed, Errors turned into
 * plain objects (message, stack, code, cause and their own fields, all scrubbed). Never mutates.
 */
export function redact(value: unknown, secrets: Iterable<string> = [], depth = 0): unknown {
  const list = [...secrets];
  return walk(value, list, depth, new WeakSet());
}

function walk(value: unknown, secrets: readonly string[], depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  if (value instanceof Error) return walk(errorFields(value), secrets, depth, seen);
  if (value instanceof Date) return value;
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) {
    const out = value.slice(0, MAX_ITEMS).map((v) => walk(v, secrets, depth + 1, seen));
    if (value.length > MAX_ITEMS) out.push(`…${value.length - MAX_ITEMS} more`);
    return out;
  }
  if (value instanceof Map) {
    return walk(Object.fromEntries([...value].slice(0, MAX_ITEMS)), secrets, depth, seen);
  }
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of Object.entries(value)) {
    if (++n > MAX_ITEMS) {
      out['…'] = 'more keys';
      break;
    }
    out[k] =
      isSecretKey(k) && v !== undefined && v !== null && v !== ''
        ? REDACTED
        : walk(v, secrets, depth + 1, seen);
  }
  return out;
}

/** What pino's error serializer would print, as a plain object we can walk. */
function errorFields(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack };
  for (const [k, v] of Object.entries(err)) if (!(k in out)) out[k] = v;
  if (err.cause !== undefined) out.cause = err.cause;
  return out;
}
