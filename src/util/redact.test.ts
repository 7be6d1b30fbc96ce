import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isSecretKey, redact, REDACTED, redactText } from './redact.ts';

describe('isSecretKey', () => {
  const secret = [
    'accessKeySecret',
    'access-key-id',
    'AccessKeyId',
    'secretKey',
    'token',
    'bearerToken',
    'Authorization',
    'password',
    'clientSecret',
    'private_key',
    'x-acs-security-token',
    'Signature',
  ];
  const plain = [
    'name',
    'namespace',
    'secretName',
    'tokenBucket',
    'signedHeaders',
    'requestId',
    'key',
    'value',
  ];
  for (const k of secret) it(`${k} is secret`, () => assert.equal(isSecretKey(k), true));
  for (const k of plain) it(`${k} is not`, () => assert.equal(isSecretKey(k), false));
});

describe('redactText', () => {
  const cases: [string, string][] = [
    [
      'Authorization: ACS3-HMAC-SHA256 Credential=LTAIabc,SignedHeaders=host,Signature=deadbeef',
      `Authorization: ACS3-HMAC-SHA256 Credential=${REDACTED},SignedHeaders=host,Signature=${REDACTED}`,
    ],
    [
      'GET /?AccessKeyId=abc&Action=X&Signature=s%3D',
      `GET /?AccessKeyId=${REDACTED}&Action=X&Signature=${REDACTED}`,
    ],
    ['Authorization: Bearer abcdefghijklmnop', `Authorization: Bearer ${REDACTED}`],
    ['token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl here', `token ${REDACTED} here`],
    ['key LTAI5tAbCdEfGhIjKlMnOp used', `key ${REDACTED} used`],
    ['nothing secret here', 'nothing secret here'],
  ];
  for (const [input, want] of cases) it(JSON.stringify(input), () => assert.equal(redactText(input), want));

  it('masks registered secret values wherever they appear', () => {
    assert.equal(
      redactText('failed with s3cr3t-value inside', ['s3cr3t-value']),
      `failed with ${REDACTED} inside`,
    );
  });
});

describe('redact', () => {
  it('masks secret keys at any depth and leaves the input untouched', () => {
    const input = {
      a: { b: { c: { d: { e: { accessKeySecret: 'x', name: 'n' } } } } },
      list: [{ token: 't' }],
    };
    const out = redact(input) as typeof input;
    assert.equal(out.a.b.c.d.e.accessKeySecret, REDACTED);
    assert.equal(out.a.b.c.d.e.name, 'n');
    assert.equal(out.list[0]!.token, REDACTED);
    assert.equal(input.a.b.c.d.e.accessKeySecret, 'x');
  });

  it('turns errors into plain objects and scrubs their message, stack, fields and cause', () => {
    const cause = Object.assign(new Error('inner AccessKeyId=abc&x=1'), {
      config: { accessKeySecret: 'zzz' },
    });
    const err = Object.assign(new Error('outer', { cause }), {
      code: 'E',
      data: { Authorization: 'ACS3 ...' },
    });
    const out = JSON.stringify(redact({ err }));
    assert.ok(!out.includes('zzz') && !out.includes('abc&') && !out.includes('ACS3 ...'), out);
    assert.match(out, /"code":"E"/);
  });

  it('survives cycles and is bounded', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 50; i++) deep = (deep.next = {}) as Record<string, unknown>;
    assert.match(JSON.stringify(redact({ a, root })), /\[circular\].*\[too deep\]/);
  });
});

describe('createLogger', () => {
  it('prints no secret that a caller logged deep inside an object, an error or the message', async () => {
    const script = `
      import { createLogger } from ${JSON.stringify(fileURLToPath(new URL('./log.ts', import.meta.url)))};
      const log = createLogger({ level: 'info', secrets: () => ['registered-secret-1'] });
      log.info({ config: { eci: { credentials: { accessKeyId: 'LTAIdeepid0000000', accessKeySecret: 'deep-secret-2' } } } }, 'loaded');
      log.error({ err: Object.assign(new Error('call failed'), { request: { headers: { authorization: 'ACS3-HMAC-SHA256 Credential=LTAIx,Signature=sig-3' } } }) }, 'eci');
      log.warn('retrying with registered-secret-1 in the message');
      log.flush();
    `;
    const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    for (const leaked of ['LTAIdeepid0000000', 'deep-secret-2', 'sig-3', 'registered-secret-1']) {
      assert.ok(!stderr.includes(leaked), `${leaked} appears in ${stderr}`);
    }
    assert.equal(stderr.trim().split('\n').length, 3);
  });
});
