import { z } from 'zod';
import { NO_CLOUD_PRIVILEGES, type CloudPrivileges } from '../providers/eci/mapping/privileges.ts';

/**
 * eci-profile key `cloudPrivileges`: per namespace (`*` for every one), which RAM roles, security
 * groups, vSwitches and EIPs its pods may pick by annotation. A JSON object; every field optional:
 *
 *   {"team-a": {"ramRoles": ["oss-reader"], "vSwitches": ["vsw-b"], "createEip": true},
 *    "*": {"securityGroups": ["sg-shared"]}}
 */
export type CloudPrivilegePolicy = ReadonlyMap<string, CloudPrivileges>;

const list = z.array(z.string().min(1)).max(1000).default([]);
const entry = z.strictObject({
  ramRoles: list,
  securityGroups: list,
  vSwitches: list,
  eips: list,
  createEip: z.boolean().default(false),
});
const policy = z.record(z.string(), entry);
const NAMESPACE_OR_ANY = /^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/;

/** Parses the key's JSON; throws an Error whose message names the path at fault. */
export function parseCloudPrivileges(json: string): CloudPrivilegePolicy {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error(
      'must be a JSON object of namespace → {ramRoles, securityGroups, vSwitches, eips, createEip}',
    );
  }
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const badKey = Object.keys(raw).find((k) => !NAMESPACE_OR_ANY.test(k));
    if (badKey !== undefined) throw new Error(`${badKey}: keys are namespace names or *`);
  }
  const r = policy.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${i.path.map(String).join('.') || '(value)'}: ${i.message}`);
  }
  return new Map(Object.entries(r.data));
}

/** What pods of `namespace` may pick: its own entry and `*`, together. */
export function privilegesFor(p: CloudPrivilegePolicy | undefined, namespace: string): CloudPrivileges {
  const entries = [p?.get('*'), p?.get(namespace)].filter((e): e is CloudPrivileges => e !== undefined);
  if (entries.length === 0) return NO_CLOUD_PRIVILEGES;
  return {
    ramRoles: entries.flatMap((e) => e.ramRoles),
    securityGroups: entries.flatMap((e) => e.securityGroups),
    vSwitches: entries.flatMap((e) => e.vSwitches),
    eips: entries.flatMap((e) => e.eips),
    createEip: entries.some((e) => e.createEip),
  };
}
