import { createHash, randomBytes } from 'node:crypto';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** IDs shaped like the cloud's: a prefix, a region marker and 17 random characters. */
export function newId(prefix: string): string {
  const bytes = randomBytes(17);
  let s = '';
  for (const b of bytes) s += ID_ALPHABET[b % ID_ALPHABET.length];
  return `${prefix}-bp1${s}`;
}

/** A digest of a request's parameters (but `ignore`), to tell a retry from a reused ClientToken. */
export function hashParams(flat: ReadonlyMap<string, string>, ignore: ReadonlySet<string>): string {
  const keys = [...flat.keys()].filter((k) => !ignore.has(k)).sort();
  const h = createHash('sha256');
  for (const k of keys) h.update(`${k}\0${flat.get(k)}\0`);
  return h.digest('hex');
}
