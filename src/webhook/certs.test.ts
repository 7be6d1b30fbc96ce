import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { issueServingCertificate, splitPem, unusableReason, type TlsMaterial } from './certs.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-03-01T00:00:00Z');
const names = { dnsNames: ['ack-virtual-node-controller.kube-system.svc'], ips: ['127.0.0.1'] };

describe('issueServingCertificate', () => {
  test('a CA-signed serverAuth certificate for the names and IPs, valid for the requested time', async () => {
    const m = await issueServingCertificate({ ...names, now: NOW, validityMs: 365 * DAY });
    const leaf = new X509Certificate(m.certPem);
    const [caPem, ...rest] = splitPem(m.caBundlePem);
    assert.equal(rest.length, 0);
    const ca = new X509Certificate(caPem!);
    assert.ok(ca.ca);
    assert.ok(!leaf.ca);
    assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
    assert.equal(
      leaf.subjectAltName,
      'DNS:ack-virtual-node-controller.kube-system.svc, IP Address:127.0.0.1',
    );
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(leaf.validToDate.getTime(), NOW + 365 * DAY);
    assert.ok(leaf.validFromDate.getTime() < NOW, 'backdated for clock skew');
    assert.match(m.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(unusableReason(m, { ...names, now: NOW }), undefined);
  });

  test('a re-issue keeps the previous CA in the bundle while it is valid, and only that one', async () => {
    const first = await issueServingCertificate({ ...names, now: NOW });
    const second = await issueServingCertificate({ ...names, now: NOW + 340 * DAY, previous: first });
    assert.deepEqual(splitPem(second.caBundlePem).slice(1), splitPem(first.caBundlePem));
    const third = await issueServingCertificate({ ...names, now: NOW + 700 * DAY, previous: second });
    assert.equal(splitPem(third.caBundlePem).length, 2);
    assert.equal(splitPem(third.caBundlePem)[1], splitPem(second.caBundlePem)[0]);
    const late = await issueServingCertificate({ ...names, now: NOW + 400 * DAY, previous: first });
    assert.equal(splitPem(late.caBundlePem).length, 1, 'an expired previous CA is dropped');
  });

  test('refuses bad input', async () => {
    await assert.rejects(issueServingCertificate({ dnsNames: [], ips: [], now: NOW }), /at least one/);
    await assert.rejects(
      issueServingCertificate({ dnsNames: [], ips: ['localhost'], now: NOW }),
      /not an IP/,
    );
  });
});

describe('unusableReason', () => {
  test('table', async () => {
    const m = await issueServingCertificate({ ...names, now: NOW, validityMs: 365 * DAY });
    const other = await issueServingCertificate({ ...names, now: NOW });
    const cases: [string, TlsMaterial, Parameters<typeof unusableReason>[1], RegExp | undefined][] = [
      ['fresh', m, { ...names, now: NOW }, undefined],
      ['31 days left', m, { ...names, now: NOW + 334 * DAY }, undefined],
      ['30 days left', m, { ...names, now: NOW + 335 * DAY }, /30 days left/],
      ['expired', m, { ...names, now: NOW + 400 * DAY }, /0 days left/],
      ['a name not covered', m, { dnsNames: ['other.svc'], ips: [], now: NOW }, /does not cover other.svc/],
      ['an IP not covered', m, { dnsNames: [], ips: ['10.0.0.1'], now: NOW }, /does not cover 10.0.0.1/],
      [
        'key of another certificate',
        { ...m, keyPem: other.keyPem },
        { ...names, now: NOW },
        /does not match/,
      ],
      [
        'CA of another certificate',
        { ...m, caBundlePem: other.caBundlePem },
        { ...names, now: NOW },
        /not signed/,
      ],
      ['garbage', { certPem: 'x', keyPem: 'y', caBundlePem: '' }, { ...names, now: NOW }, /does not parse/],
      [
        'empty (a hand-made Secret)',
        { certPem: '', keyPem: '', caBundlePem: '' },
        { ...names, now: NOW },
        /does not parse/,
      ],
    ];
    for (const [name, material, o, want] of cases) {
      const got = unusableReason(material, o);
      if (want) assert.match(got ?? '(usable)', want, name);
      else assert.equal(got, undefined, name);
    }
  });
});
