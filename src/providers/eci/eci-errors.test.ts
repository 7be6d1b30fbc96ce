import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyEciError, toEciApiError } from './eci-errors.ts';

const table: [string, number | undefined, string][] = [
  ['Throttling.User', 400, 'throttled'],
  ['Throttling', 400, 'throttled'],
  ['OperationDenied.NoStock', 403, 'stock'],
  ['RecommendEmpty.InstanceTypeNoStock', 400, 'stock'],
  ['InvalidContainerGroup.NotFound', 404, 'not-found'],
  ['InvalidAccessKeyId.NotFound', 404, 'auth'],
  ['SignatureDoesNotMatch', 400, 'auth'],
  ['Forbidden.RAM', 403, 'auth'],
  ['QuotaExceed.ContainerGroup', 400, 'quota'],
  ['InternalError', 500, 'server'],
  ['HTTP503', 503, 'server'],
  ['NetworkError', undefined, 'server'],
  ['InvalidParameter', 400, 'invalid'],
  ['MissingParameter', 400, 'invalid'],
  ['RequestHeaderFieldsTooLarge', 431, 'invalid'],
  ['RequestEntityTooLarge', 413, 'invalid'],
  ['IdempotentParameterMismatch', 400, 'invalid'],
  ['InvalidParameter.Mismatch', 400, 'config'],
  ['InvalidVSwitchId.IpNotEnough', 400, 'stock'],
];
for (const [code, status, kind] of table) {
  test(`${code} (${status}) is ${kind}`, () => assert.equal(classifyEciError(code, status), kind));
}

test('an SDK error keeps the cloud code, message and RequestId', () => {
  const err = toEciApiError('CreateContainerGroup', {
    code: 'InvalidVSwitchId.NotFound',
    message: 'code: 404, The specified vSwitch does not exist. request id: ABC',
    statusCode: 404,
    data: { RequestId: 'ABC', Message: 'The specified vSwitch does not exist.' },
  });
  assert.equal(err.cloudCode, 'InvalidVSwitchId.NotFound');
  assert.equal(err.requestId, 'ABC');
  assert.equal(err.kind, 'not-found');
  assert.equal(
    err.message,
    'ECI CreateContainerGroup failed: InvalidVSwitchId.NotFound: The specified vSwitch does not exist. (RequestId ABC)',
  );
});

test('a connection failure is a retryable server error', () => {
  const err = toEciApiError(
    'DescribeContainerGroups',
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
  );
  assert.equal(err.kind, 'server');
  assert.equal(err.retryable, true);
});
