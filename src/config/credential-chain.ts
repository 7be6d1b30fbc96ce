import CredentialsModule from '@alicloud/credentials';
import type { SdkCredential } from '../providers/eci/eci-client.ts';

// A CommonJS package: its default export is the module object (as with the ECI SDK).
const Credential = CredentialsModule.default;
const { Config } = CredentialsModule;

/**
 * Alibaba Cloud's default credential chain, for controllers that hold no AccessKey of their own: the
 * standard ALIBABA_CLOUD_* variables, in the order of @alicloud/credentials' default provider —
 * an AccessKey (with a security token: STS), then RRSA (a ServiceAccount's OIDC token exchanged for STS
 * credentials of a RAM role), then the ECS RAM role of the machine. The SDK renews STS credentials
 * before they expire. Chosen explicitly from the environment (not by probing the metadata service), so
 * `doctor` can say which one is in use and nothing reaches for 100.100.100.200 unasked.
 */
export interface ChainCredentials {
  kind: 'access-key' | 'sts' | 'rrsa' | 'ecs-ram-role';
  /** For `doctor` and the start log: which one, never a secret. */
  describe: string;
  config: Record<string, string | undefined>;
}

export function chainFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): ChainCredentials | undefined {
  const v = (k: string) => (env[k] ?? '').trim() || undefined;
  const id = v('ALIBABA_CLOUD_ACCESS_KEY_ID');
  const secret = v('ALIBABA_CLOUD_ACCESS_KEY_SECRET');
  if (id && secret) {
    const token = v('ALIBABA_CLOUD_SECURITY_TOKEN');
    return token
      ? {
          kind: 'sts',
          describe: `STS token of ${id.slice(0, 8)}… (ALIBABA_CLOUD_SECURITY_TOKEN)`,
          config: { type: 'sts', accessKeyId: id, accessKeySecret: secret, securityToken: token },
        }
      : {
          kind: 'access-key',
          describe: `AccessKey ${id.slice(0, 8)}… (ALIBABA_CLOUD_ACCESS_KEY_ID)`,
          config: { type: 'access_key', accessKeyId: id, accessKeySecret: secret },
        };
  }
  const roleArn = v('ALIBABA_CLOUD_ROLE_ARN');
  const provider = v('ALIBABA_CLOUD_OIDC_PROVIDER_ARN');
  const tokenFile = v('ALIBABA_CLOUD_OIDC_TOKEN_FILE');
  if (roleArn && provider && tokenFile) {
    return {
      kind: 'rrsa',
      describe: `RRSA: role ${roleArn} through ${provider}, token ${tokenFile}`,
      config: {
        type: 'oidc_role_arn',
        roleArn,
        oidcProviderArn: provider,
        oidcTokenFilePath: tokenFile,
        roleSessionName: 'eci-virtual-node',
        stsEndpoint: v('ALIBABA_CLOUD_STS_ENDPOINT'),
      },
    };
  }
  if (env.ALIBABA_CLOUD_ECS_METADATA !== undefined) {
    const role = v('ALIBABA_CLOUD_ECS_METADATA');
    return {
      kind: 'ecs-ram-role',
      describe: `ECS RAM role ${role ?? '(the one the instance metadata names)'}`,
      config: { type: 'ecs_ram_role', roleName: role },
    };
  }
  return undefined;
}

/** The SDK credential for `c`; it fetches and renews STS credentials itself. */
export function chainCredential(c: ChainCredentials): SdkCredential {
  return new Credential(new Config(c.config));
}
