import type { CreateContainerGroupRequestImageRegistryCredential } from '@alicloud/eci20180808';
import type { V1Secret } from '@kubernetes/client-node';
import type { ModelInit } from './types.ts';

export type CredentialInit = ModelInit<CreateContainerGroupRequestImageRegistryCredential>;

interface AuthEntry {
  username?: unknown;
  password?: unknown;
  auth?: unknown;
}

/** ECI wants a bare registry address: no scheme, no path (`https://index.docker.io/v1/` → `index.docker.io`). */
export function registryServer(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

function decode(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf8');
}

/**
 * Registry credentials from a `kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg` Secret.
 * Returns an error *description* on malformed input. It never quotes the input or a parser message:
 * V8's JSON errors echo the text they choke on, which here is the credential.
 */
export function registryCredentials(
  secret: V1Secret,
): { ok: true; credentials: CredentialInit[] } | { ok: false; why: string } {
  const json = secret.data?.['.dockerconfigjson'];
  const legacy = secret.data?.['.dockercfg'];
  let auths: Record<string, AuthEntry>;
  try {
    if (json !== undefined) {
      const parsed = JSON.parse(decode(json)) as { auths?: Record<string, AuthEntry> };
      if (
        typeof parsed !== 'object' ||
        parsed === null ||
        typeof parsed.auths !== 'object' ||
        parsed.auths === null
      ) {
        return { ok: false, why: 'its .dockerconfigjson has no "auths" object' };
      }
      auths = parsed.auths;
    } else if (legacy !== undefined) {
      const parsed = JSON.parse(decode(legacy)) as Record<string, AuthEntry>;
      if (typeof parsed !== 'object' || parsed === null)
        return { ok: false, why: 'its .dockercfg is not an object' };
      auths = parsed;
    } else {
      return { ok: false, why: 'it has neither .dockerconfigjson nor .dockercfg' };
    }
  } catch {
    return { ok: false, why: 'its docker config is not valid base64-encoded JSON' };
  }
  const out: CredentialInit[] = [];
  for (const [server, entry] of Object.entries(auths)) {
    if (typeof entry !== 'object' || entry === null) continue;
    let userName = typeof entry.username === 'string' ? entry.username : undefined;
    let password = typeof entry.password === 'string' ? entry.password : undefined;
    if ((userName === undefined || password === undefined) && typeof entry.auth === 'string') {
      const pair = decode(entry.auth);
      const colon = pair.indexOf(':');
      if (colon > 0) {
        userName = pair.slice(0, colon);
        password = pair.slice(colon + 1);
      }
    }
    if (userName === undefined || password === undefined) continue;
    out.push({ server: registryServer(server), userName, password });
  }
  return { ok: true, credentials: out };
}
