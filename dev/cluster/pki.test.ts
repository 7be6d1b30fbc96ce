import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, hasCode } from '../../src/util/errors.ts';
import { clusterPkiFiles, ensureClusterPki, issueServingCert } from './pki.ts';
import { clusterPaths } from './state.ts';

const load = async (path: string) => new X509Certificate(await readFile(path));

/** Whether the CA certificate at `caPath` signed the certificate at `certPath`, both valid now. */
async function verifies(caPath: string, certPath: string): Promise<boolean> {
  const [ca, cert] = [await load(caPath), await load(certPath)];
  const now = Date.now();
  const valid = (c: X509Certificate) => c.validFromDate.getTime() <= now && now < c.validToDate.getTime();
  return ca.ca && valid(ca) && valid(cert) && cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

const subject = async (path: string) => (await load(path)).subject;
const subjectAltName = async (path: string) => (await load(path)).subjectAltName ?? '';

describe('cluster PKI', () => {
  let stateDir: string;
  let pkiDir: string;

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'evn-pki-'));
    pkiDir = clusterPaths(stateDir).pki;
    await ensureClusterPki(pkiDir, 'unit');
  });
  after(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it('issues every certificate from one CA, with private keys readable by the owner only', async () => {
    const files = clusterPkiFiles(pkiDir);
    for (const pair of Object.values(files.certs)) {
      assert.ok(await verifies(files.ca.cert, pair.cert), pair.cert);
      assert.equal((await stat(pair.key)).mode & 0o777, 0o600, pair.key);
    }
    assert.equal((await stat(files.ca.key)).mode & 0o777, 0o600);
    assert.equal((await stat(files.serviceAccount.privateKey)).mode & 0o777, 0o600);
  });

  it('gives the admin and kubelet-client certificates the system:masters group', async () => {
    const files = clusterPkiFiles(pkiDir);
    const cases = [
      ['admin', 'O=system:masters\nCN=admin'],
      ['apiserver-kubelet-client', 'O=system:masters\nCN=kube-apiserver-kubelet-client'],
      ['controller-manager', 'CN=system:kube-controller-manager'],
      ['scheduler', 'CN=system:kube-scheduler'],
    ] as const;
    for (const [name, want] of cases) {
      assert.equal(await subject(files.certs[name].cert), want);
    }
  });

  it('names the API server by loopback and by its in-cluster Service names', async () => {
    const san = await subjectAltName(clusterPkiFiles(pkiDir).certs.apiserver.cert);
    for (const want of ['IP Address:127.0.0.1', 'IP Address:10.96.0.1', 'DNS:kubernetes.default.svc']) {
      assert.match(san, new RegExp(want.replaceAll('.', '\\.')));
    }
  });

  it('gives the front proxy a CA of its own that signs only its client certificate', async () => {
    const { ca, frontProxy } = clusterPkiFiles(pkiDir);
    assert.ok(await verifies(frontProxy.ca.cert, frontProxy.client.cert));
    assert.equal(await verifies(ca.cert, frontProxy.client.cert), false);
    assert.equal(await verifies(frontProxy.ca.cert, clusterPkiFiles(pkiDir).certs.admin.cert), false);
    assert.equal(await subject(frontProxy.client.cert), 'CN=front-proxy-client');
  });

  it('gives each certificate the TLS role it is used for, and only the CAs may sign', async () => {
    const files = clusterPkiFiles(pkiDir);
    const [SERVER, CLIENT] = ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'];
    const cases = [
      ['apiserver', [SERVER]],
      ['admin', [CLIENT]],
      ['apiserver-etcd-client', [CLIENT]],
      ['etcd-server', [SERVER, CLIENT]],
      ['metrics-server-serving', [SERVER]],
    ] as const;
    for (const [name, usages] of cases) {
      const cert = await load(files.certs[name].cert);
      assert.deepEqual([...(cert.keyUsage ?? [])].sort(), [...usages].sort(), name);
      assert.equal(cert.ca, false, name);
    }
    assert.deepEqual((await load(files.frontProxy.client.cert)).keyUsage, [CLIENT]);
    assert.equal((await load(files.ca.cert)).ca, true);
    assert.equal((await load(files.frontProxy.ca.cert)).ca, true);
  });

  it('makes an RSA service-account key pair whose halves belong together', async () => {
    const { privateKey, publicKey } = clusterPkiFiles(pkiDir).serviceAccount;
    const priv = createPrivateKey(await readFile(privateKey));
    const pub = createPublicKey(await readFile(publicKey));
    assert.equal(priv.asymmetricKeyType, 'rsa');
    assert.equal(priv.asymmetricKeyDetails?.modulusLength, 2048);
    const data = Buffer.from('token');
    assert.ok(verify('sha256', data, pub, sign('sha256', data, priv)));
  });

  it('keeps existing certificates on a second run', async () => {
    const cert = clusterPkiFiles(pkiDir).certs.admin.cert;
    const before = await readFile(cert, 'utf8');
    await ensureClusterPki(pkiDir, 'unit');
    assert.equal(await readFile(cert, 'utf8'), before);
  });

  it('issues a serving certificate that a TLS client verifies against the cluster CA by IP', async () => {
    const serving = await issueServingCert(stateDir, 'virtual-node-1', ['127.0.0.1', '::1']);
    assert.equal(serving.ca, clusterPkiFiles(pkiDir).ca.cert);
    assert.equal((await stat(serving.key)).mode & 0o777, 0o600);
    const san = await subjectAltName(serving.cert);
    assert.match(san, /DNS:virtual-node-1/);
    assert.match(san, /IP Address:127\.0\.0\.1/);

    const server = createServer(
      { cert: await readFile(serving.cert), key: await readFile(serving.key) },
      (_req, res) => res.end('ok'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const ca = await readFile(serving.ca);
      const body = await new Promise<string>((resolve, reject) => {
        request(`https://127.0.0.1:${port}/`, { ca }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      assert.equal(body, 'ok');
    } finally {
      server.close();
    }
  });

  it('rejects bad node names and IPs, and a state dir without a CA', async () => {
    await assert.rejects(issueServingCert(stateDir, 'Bad/Name', ['127.0.0.1']), (e) =>
      hasCode(e, ErrorCodes.INVALID_INPUT),
    );
    await assert.rejects(issueServingCert(stateDir, 'node', ['not-an-ip']), (e) =>
      hasCode(e, ErrorCodes.INVALID_INPUT),
    );
    await assert.rejects(issueServingCert(join(stateDir, 'nope'), 'node', ['127.0.0.1']), (e) =>
      hasCode(e, ErrorCodes.NOT_FOUND),
    );
  });
});
