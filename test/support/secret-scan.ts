/**
 * Finding secrets in text that left the product (log lines, Events, metrics, errors): the values a
 * test knows to be secret, and credential shapes no value list can enumerate (service-account JWTs,
 * ACS3 signatures, AccessKey IDs).
 */
const SHAPES: [string, RegExp][] = [
  ['a JSON Web Token', /\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/],
  ['an ACS3 signature', /Signature=[0-9a-f]{64}/],
  ['an ACS3 credential', /Credential=LTAI/],
  ['a PEM private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
];

export interface Leak {
  source: string;
  what: string;
  /** Up to 80 characters around the find, the secret itself masked. */
  context: string;
}

export function findSecrets(source: string, text: string, secrets: readonly string[]): Leak[] {
  const leaks: Leak[] = [];
  const around = (at: number, len: number) =>
    `${text.slice(Math.max(0, at - 40), at)}<${len} chars>${text.slice(at + len, at + len + 40)}`;
  for (const s of secrets) {
    const at = text.indexOf(s);
    if (at >= 0)
      leaks.push({ source, what: `the secret value ${s.slice(0, 3)}…`, context: around(at, s.length) });
  }
  for (const [what, re] of SHAPES) {
    const m = re.exec(text);
    if (m) leaks.push({ source, what, context: around(m.index, m[0].length) });
  }
  return leaks;
}
