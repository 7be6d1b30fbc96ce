import { z } from 'zod';
import { parseCloudPrivileges, type CloudPrivilegePolicy } from './cloud-privileges.ts';

export const PROFILE_NAMESPACE = 'kube-system';
export const PROFILE_NAME = 'eci-profile';

/**
 * The hot-reloaded part of the configuration: ConfigMap `kube-system/eci-profile`, with the keys
 * ack-virtual-node documents. A change applies to pods created after it; running pods keep theirs.
 */
export interface Profile<S = unknown> {
  vSwitchIds?: string[];
  securityGroupId?: string;
  vpcId?: string;
  resourceGroupId?: string;
  /** False turns off ClusterIP access for new ECI pods (same meaning as ECI_KUBE_PROXY=false). */
  enableClusterIp?: boolean;
  /** Routing selectors for the admission webhook, as parsed by its parser. */
  selectors: S[];
  /** Per namespace, the RAM roles, security groups, vSwitches and EIPs pods may pick by annotation. */
  cloudPrivileges?: CloudPrivilegePolicy;
}

export class ProfileError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(`eci-profile key "${key}": ${message}`);
    this.name = 'ProfileError';
    this.key = key;
  }
}

const ids = (prefix: string) =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z
          .string()
          .regex(new RegExp(`^${prefix}-[A-Za-z0-9-]+$`), `must be IDs like ${prefix}-xxx, comma-separated`),
      ),
    );
const bool = z
  .enum(['true', 'false', 'True', 'False', '1', '0'])
  .transform((v) => v === 'true' || v === 'True' || v === '1');

const FIELDS = {
  vSwitchIds: ids('vsw'),
  securityGroupId: z.string().regex(/^sg-[A-Za-z0-9-]+$/, 'must be a security group ID like sg-xxx'),
  vpcId: z.string().regex(/^vpc-[A-Za-z0-9-]+$/, 'must be a VPC ID like vpc-xxx'),
  resourceGroupId: z.string(),
  enableClusterIp: bool,
} as const;

/**
 * Parses the ConfigMap's data. The first bad key throws a ProfileError naming it; empty values count
 * as unset (the ACK template ships keys with empty values). Keys we do not use are ignored, so a
 * profile written for ack-virtual-node keeps working.
 */
export function parseProfile<S>(
  data: Record<string, string> | undefined,
  parseSelectors: (json: string) => S[],
): Profile<S> {
  const out: Profile<S> = { selectors: [] };
  // ConfigMap data from the API server is always strings; anything else is refused by name, not read.
  for (const [key, value] of Object.entries(data ?? {})) {
    if (typeof value !== 'string') throw new ProfileError(key, `must be a string (got ${typeof value})`);
  }
  for (const [key, schema] of Object.entries(FIELDS)) {
    const raw = data?.[key]?.trim();
    if (!raw) continue;
    const r = schema.safeParse(raw);
    if (!r.success)
      throw new ProfileError(key, `${r.error.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(raw)})`);
    (out as unknown as Record<string, unknown>)[key] = r.data;
  }
  const privileges = data?.cloudPrivileges?.trim();
  if (privileges) {
    try {
      out.cloudPrivileges = parseCloudPrivileges(privileges);
    } catch (err) {
      throw new ProfileError('cloudPrivileges', err instanceof Error ? err.message : String(err));
    }
  }
  const selectors = data?.selectors?.trim();
  if (selectors) {
    try {
      out.selectors = parseSelectors(selectors);
    } catch (err) {
      throw new ProfileError('selectors', err instanceof Error ? err.message : String(err));
    }
  }
  return out;
}
