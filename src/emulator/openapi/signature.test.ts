import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import {
  acs3CanonicalRequest,
  acs3Signature,
  acs3StringToSign,
  NonceCache,
  parseAcs3Authorization,
  percentEncode,
  rpcV1Signature,
  rpcV1StringToSign,
  sha256Hex,
} from './signature.ts';

// The SDK's own signer is the reference: the emulator must compute exactly what it computes.
const require = createRequire(import.meta.url);
const sdkRequire = createRequire(require.resolve('@alicloud/openapi-client'));
const OpenApiUtil = (sdkRequire('@alicloud/openapi-util') as { default: SdkUtil }).default;
interface SdkUtil {
  getAuthorization(req: unknown, alg: string, payload: string, ak: string, secret: string): string;
  getRPCSignature(params: Record<string, string>, method: string, secret: string): string;
}

describe('percentEncode', () => {
  const cases: [string, string][] = [
    ['abc', 'abc'],
    ['a b', 'a%20b'],
    ["!'()*", '%21%27%28%29%2A'],
    ['~-_.', '~-_.'],
    ['中', '%E4%B8%AD'],
    ['a+b=c&d/e', 'a%2Bb%3Dc%26d%2Fe'],
  ];
  for (const [input, want] of cases)
    it(`encodes ${JSON.stringify(input)}`, () => assert.equal(percentEncode(input), want));
});

describe('ACS3-HMAC-SHA256', () => {
  const query = new Map([
    ['ContainerGroupName', 'a b'],
    ['Tag.1.Value', 'v*(x)!'],
    ['Container.1.Command.3', 'exit 3'],
    ['RegionId', 'cn-hangzhou'],
  ]);
  const headers: Record<string, string> = {
    host: '127.0.0.1:9440',
    'x-acs-action': 'CreateContainerGroup',
    'x-acs-version': '2018-08-08',
    'x-acs-date': '2024-01-02T03:04:05Z',
    'x-acs-signature-nonce': 'abc123',
    'x-acs-content-sha256': sha256Hex(''),
  };

  it('signs exactly as the official SDK does', () => {
    const sdkAuth = OpenApiUtil.getAuthorization(
      { pathname: '/', method: 'POST', query: Object.fromEntries(query), headers },
      'ACS3-HMAC-SHA256',
      sha256Hex(''),
      'LTAI-x',
      'secret',
    );
    const parsed = parseAcs3Authorization(sdkAuth);
    assert.ok(parsed);
    assert.equal(parsed.accessKeyId, 'LTAI-x');
    const canonical = acs3CanonicalRequest({
      method: 'POST',
      path: '/',
      query,
      headers,
      signedHeaders: parsed.signedHeaders,
      payloadHash: sha256Hex(''),
    });
    assert.equal(acs3Signature('secret', acs3StringToSign(canonical)), parsed.signature);
  });

  it('parses the Authorization header and rejects malformed ones', () => {
    assert.deepEqual(
      parseAcs3Authorization('ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;x-acs-date,Signature=ABC'),
      {
        accessKeyId: 'AK',
        signedHeaders: ['host', 'x-acs-date'],
        signature: 'abc',
      },
    );
    for (const bad of [
      '',
      'Bearer x',
      'ACS3-HMAC-SHA256 Credential=AK',
      'ACS3-HMAC-SHA256 Credential=AK,Signature=x',
    ]) {
      assert.equal(parseAcs3Authorization(bad), null, bad);
    }
  });
});

describe('RPC v1 HMAC-SHA1', () => {
  it('signs exactly as the official SDK does', () => {
    const params: Record<string, string> = {
      Action: 'DescribeContainerGroups',
      Format: 'json',
      Version: '2018-08-08',
      Timestamp: '2024-01-02T03:04:05Z',
      SignatureNonce: 'n1',
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      AccessKeyId: 'LTAI-x',
      'Tag.1.Key': 'k (1)*',
      RegionId: 'cn-hangzhou',
    };
    const want = OpenApiUtil.getRPCSignature(params, 'POST', 'secret');
    const got = rpcV1Signature(
      'secret',
      rpcV1StringToSign('POST', new Map(Object.entries({ ...params, Signature: 'ignored' }))),
    );
    assert.equal(got, want);
  });
});

describe('NonceCache', () => {
  it('refuses a nonce within its window and forgets it after', () => {
    const c = new NonceCache(1000);
    assert.equal(c.use('a', 0), true);
    assert.equal(c.use('a', 999), false);
    assert.equal(c.use('b', 500), true);
    assert.equal(c.use('a', 1000), true);
    assert.equal(c.size, 2);
  });
});
