import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes, hasCode } from '../util/errors.ts';
import { admissionResponse, parseAdmissionReview, podOf } from './admission.ts';

const request = {
  uid: 'u',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  namespace: 'ns1',
  operation: 'CREATE',
  object: { metadata: { generateName: 'web-' }, spec: {} },
};
const review = (r: object = request) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: r,
});

describe('parseAdmissionReview', () => {
  test('accepts a v1 review', () => assert.equal(parseAdmissionReview(review()).uid, 'u'));
  const bad: [string, unknown, RegExp][] = [
    ['not an object', 'x', /\(body\)/],
    ['v1beta1', { ...review(), apiVersion: 'admission.k8s.io/v1beta1' }, /apiVersion/],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request/],
    ['no uid', review({ ...request, uid: '' }), /request\.uid/],
  ];
  for (const [name, body, want] of bad) {
    test(`rejects ${name}`, () =>
      assert.throws(
        () => parseAdmissionReview(body),
        (err: Error) => hasCode(err, ErrorCodes.INVALID_INPUT) && want.test(err.message),
      ));
  }
});

describe('podOf', () => {
  test('fills the namespace from the request', () => {
    assert.equal(podOf(parseAdmissionReview(review()))?.metadata?.namespace, 'ns1');
  });
  test('the request namespace wins over the one the object claims', () => {
    const claims = { ...request, object: { metadata: { name: 'p', namespace: 'default' }, spec: {} } };
    assert.equal(
      podOf(parseAdmissionReview(review({ ...claims, namespace: 'kube-system' })))?.metadata?.namespace,
      'kube-system',
    );
  });
  for (const [name, over] of [
    ['UPDATE', { operation: 'UPDATE' }],
    ['another kind', { kind: { group: '', version: 'v1', kind: 'Service' } }],
    ['a Pod of another group', { kind: { group: 'example.com', version: 'v1', kind: 'Pod' } }],
    ['no object', { object: null }],
  ] as const) {
    test(`ignores ${name}`, () =>
      assert.equal(podOf(parseAdmissionReview(review({ ...request, ...over }))), undefined));
  }
});

describe('admissionResponse', () => {
  test('no patch: allowed, no patch fields', () => {
    assert.deepEqual(admissionResponse('u').response, { uid: 'u', allowed: true });
  });
  test('a patch: base64 JSON Patch', () => {
    const r = admissionResponse('u', [{ op: 'remove', path: '/spec/affinity/nodeAffinity' }]).response;
    assert.equal(r.patchType, 'JSONPatch');
    assert.deepEqual(JSON.parse(Buffer.from(r.patch!, 'base64').toString()), [
      { op: 'remove', path: '/spec/affinity/nodeAffinity' },
    ]);
  });
});
