import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { KubeClients } from '../kube/client.ts';
import { systemClock } from '../util/clock.ts';
import { ErrorCodes, hasCode } from '../util/errors.ts';
import { issueServingCertificate } from '../webhook/certs.ts';
import { renewAt, ServingCertificate, unusable } from './serving-cert.ts';

const log = pino({ level: 'silent' });
const noKube = {} as KubeClients;

async function pair(ips: string[], validityMs = 3_600_000) {
  const m = await issueServingCertificate({ dnsNames: ['vk'], ips, now: Date.now(), validityMs });
  return { certPem: m.certPem, keyPem: m.keyPem };
}

test('a certificate is renewed at 80 % of its lifetime', async () => {
  const p = await pair(['10.0.0.1']);
  const c = new X509Certificate(p.certPem);
  const from = c.validFromDate.getTime();
  assert.equal(renewAt(p.certPem), from + 0.8 * (c.validToDate.getTime() - from));
});

test('a certificate must cover every address the API server dials and match its key', async () => {
  const p = await pair(['10.0.0.1']);
  const other = await pair(['10.0.0.1']);
  assert.equal(unusable(p, ['10.0.0.1'], Date.now()), undefined);
  assert.match(unusable(p, ['10.0.0.2'], Date.now()) ?? '', /does not cover 10\.0\.0\.2/);
  assert.match(
    unusable({ certPem: p.certPem, keyPem: other.keyPem }, [], Date.now()) ?? '',
    /key does not belong/,
  );
  assert.match(unusable(p, [], Date.now() + 2 * 3_600_000) ?? '', /expired/);
});

test('files from --tls-cert-file win; missing files fall through to a (temporary) self-signed one', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'evn-cert-'));
  try {
    const p = await pair(['10.0.0.1']);
    const files = { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') };
    const make = (f = files) =>
      new ServingCertificate({
        nodeName: 'vk',
        ips: ['10.0.0.1'],
        dnsNames: ['vk'],
        files: f,
        approveOwn: false,
        kube: noKube,
        event: () => undefined,
        clock: systemClock,
        log,
      });
    const missing = make();
    await missing.init();
    assert.equal(missing.source, 'self-signed');
    await writeFile(files.cert, p.certPem);
    await writeFile(files.key, p.keyPem);
    const given = make();
    await given.init();
    assert.equal(given.source, 'files');
    assert.equal(given.current.certPem, p.certPem);
    await writeFile(files.key, 'not a key');
    await assert.rejects(
      make().init(),
      (err: Error) => hasCode(err, ErrorCodes.CONFIG_INVALID) && /--tls-cert-file/.test(err.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a cluster-issued certificate kept in --cert-dir is served again after a restart', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'evn-certdir-'));
  try {
    const p = await pair(['10.0.0.1']);
    await writeFile(path.join(dir, 'kubelet-server-current.pem'), p.certPem + p.keyPem);
    const c = new ServingCertificate({
      nodeName: 'vk',
      ips: ['10.0.0.1'],
      dnsNames: ['vk'],
      certDir: dir,
      approveOwn: false,
      kube: noKube,
      event: () => undefined,
      clock: systemClock,
      log,
    });
    await c.init();
    assert.equal(c.source, 'csr');
    assert.equal(c.current.keyPem, p.keyPem);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
