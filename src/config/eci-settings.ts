import { z } from 'zod';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { chainFromEnv, type ChainCredentials } from './credential-chain.ts';

/**
 * Where pods run: the real ECI OpenAPI when an AccessKey and a region are configured, otherwise the
 * embedded emulator. Read from the controller's environment — the names ack-virtual-node users
 * already set with `kubectl edit deployment ack-virtual-node-controller`.
 */
/** ECI_KUBE_PROXY: ClusterIP access for new ECI pods (default true, as in ack-virtual-node). */
export function parseKubeProxy(env: Record<string, string | undefined>): boolean {
  const v = (env.ECI_KUBE_PROXY ?? '').trim().toLowerCase();
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ProductError(
    ErrorCodes.CONFIG_INVALID,
    `ECI_KUBE_PROXY (environment): must be true or false (got ${JSON.stringify(env.ECI_KUBE_PROXY)})`,
  );
}

export type EciSettings =
  | {
      mode: 'cloud';
      regionId: string;
      /** From ECI_ACCESS_KEY/ECI_SECRET_KEY; absent = read from the secret kube-system/alibaba-addon-secret. */
      credentials?: { accessKeyId: string; accessKeySecret: string };
      /** The default credential chain (ALIBABA_CLOUD_*), used when neither of those holds an AccessKey. */
      chain?: ChainCredentials;
      /** host[:port]; default the region's public endpoint. */
      endpoint?: string;
      protocol: 'http' | 'https';
      /** From the environment; eci-profile's vSwitchIds / securityGroupId override them. */
      vSwitchIds?: string[];
      securityGroupId?: string;
    }
  | { mode: 'emulator'; vSwitchIds?: string[]; securityGroupId?: string };

const idList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be IDs like vsw-xxx, separated by commas')).min(1));

const cloudSchema = z.object({
  ECI_REGION: z.string().regex(/^[a-z]{2}-[a-z0-9-]+$/, 'must be a region ID like cn-hangzhou'),
  ECI_ACCESS_KEY: z.string().min(1).optional(),
  ECI_SECRET_KEY: z.string().min(1).optional(),
  ECI_ENDPOINT: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'must be host or host:port')
    .optional(),
  ECI_PROTOCOL: z.enum(['http', 'https']).default('https'),
  ECI_VSWITCH: idList.optional(),
  ECI_SECURITY_GROUP: z
    .string()
    .regex(/^sg-[A-Za-z0-9-]+$/, 'must be a security group ID like sg-xxx')
    .optional(),
});

/** Validates the ECI settings of `env`; errors name each variable at fault and never echo a secret. */
export function parseEciSettings(env: Record<string, string | undefined>): EciSettings {
  const present = (k: string) => (env[k] ?? '').trim() !== '';
  if (!present('ECI_ACCESS_KEY') && !present('ECI_SECRET_KEY') && !present('ECI_REGION')) {
    const vs = present('ECI_VSWITCH') ? idList.safeParse(env.ECI_VSWITCH) : undefined;
    return {
      mode: 'emulator',
      vSwitchIds: vs?.success ? vs.data : undefined,
      securityGroupId: present('ECI_SECURITY_GROUP') ? env.ECI_SECURITY_GROUP : undefined,
    };
  }
  const raw = Object.fromEntries(
    Object.keys(cloudSchema.shape).map((k) => [k, present(k) ? env[k]!.trim() : undefined]),
  );
  const r = cloudSchema.safeParse(raw);
  if (!r.success) {
    const secret = new Set(['ECI_ACCESS_KEY', 'ECI_SECRET_KEY']);
    const lines = r.error.issues.map((i) => {
      const k = String(i.path[0]);
      const got = secret.has(k) ? '' : ` (got ${JSON.stringify(raw[k] ?? '')})`;
      const why = raw[k] === undefined ? 'is required when ECI_REGION or an AccessKey is set' : i.message;
      return `${k} (environment): ${why}${got}`;
    });
    throw new ProductError(ErrorCodes.CONFIG_INVALID, `invalid ECI settings:\n  ${lines.join('\n  ')}`);
  }
  const c = r.data;
  if ((c.ECI_ACCESS_KEY === undefined) !== (c.ECI_SECRET_KEY === undefined)) {
    const missing = c.ECI_ACCESS_KEY === undefined ? 'ECI_ACCESS_KEY' : 'ECI_SECRET_KEY';
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `invalid ECI settings:\n  ${missing} (environment): is required when the other half of the AccessKey is set`,
    );
  }
  return {
    mode: 'cloud',
    regionId: c.ECI_REGION,
    credentials:
      c.ECI_ACCESS_KEY && c.ECI_SECRET_KEY
        ? { accessKeyId: c.ECI_ACCESS_KEY, accessKeySecret: c.ECI_SECRET_KEY }
        : undefined,
    endpoint: c.ECI_ENDPOINT,
    protocol: c.ECI_PROTOCOL,
    chain: chainFromEnv(env),
    vSwitchIds: c.ECI_VSWITCH,
    securityGroupId: c.ECI_SECURITY_GROUP,
  };
}
