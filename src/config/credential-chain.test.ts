import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainFromEnv } from './credential-chain.ts';

test('the chain picks AccessKey, STS, RRSA, then the ECS RAM role, and never describes a secret', () => {
  const cases: [Record<string, string>, string | undefined, string?][] = [
    [{}, undefined],
    [
      { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIabcdefgh1234', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 's3cret' },
      'access-key',
    ],
    [
      {
        ALIBABA_CLOUD_ACCESS_KEY_ID: 'STS.abcdefgh',
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: 's3cret',
        ALIBABA_CLOUD_SECURITY_TOKEN: 'tok',
      },
      'sts',
    ],
    [
      {
        ALIBABA_CLOUD_ROLE_ARN: 'acs:ram::1:role/eci',
        ALIBABA_CLOUD_OIDC_PROVIDER_ARN: 'acs:ram::1:oidc-provider/ack',
        ALIBABA_CLOUD_OIDC_TOKEN_FILE: '/var/run/secrets/ack.alibabacloud.com/rrsa-tokens/token',
      },
      'rrsa',
      'oidc_role_arn',
    ],
    // Half an RRSA setup is no RRSA.
    [{ ALIBABA_CLOUD_ROLE_ARN: 'acs:ram::1:role/eci' }, undefined],
    [{ ALIBABA_CLOUD_ECS_METADATA: 'EciRole' }, 'ecs-ram-role', 'ecs_ram_role'],
    [{ ALIBABA_CLOUD_ECS_METADATA: '' }, 'ecs-ram-role'],
  ];
  for (const [env, kind, type] of cases) {
    const c = chainFromEnv(env);
    assert.equal(c?.kind, kind, JSON.stringify(env));
    if (type) assert.equal(c?.config.type, type);
    assert.doesNotMatch(c?.describe ?? '', /s3cret|tok\b/);
  }
});
