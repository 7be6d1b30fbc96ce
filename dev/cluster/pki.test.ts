import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ErrorCodes, hasCode } from '../../src/util/errors.ts';
import { clusterPkiFiles, ensureClusterPki, issueServingCert } from './pki.ts';
import { clusterPaths } from './state.ts';

const run = promisify(execFile);

async function x509(cert: string, ...args: string[]): Promise<string> {
  return (await run('openssl', ['x509', '-in', cert, '-noout', ...args])).stdout;
}

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
      await run('openssl', ['verify', '-CAfile', files.ca.cert, pair.cert]);
      assert.equal((await stat(pair.key)).mode & 0o777, 0o600, pair.key);
    }
    assert.equal((await stat(files.ca.key)).mode & 0o777, 0o600);
    assert.equal((await stat(files.serviceAccount.privateKey)).mode & 0o777, 0o600);
  });

  it('gives the admin and kubelet-client certificates the system:masters group', async () => {
    const files = clusterPkiFiles(pkiDir);
    const cases = [
      ['admin', 'subject=O = system:masters, CN = admin'],
      ['apiserver-kubelet-client', 'subject=O = system:masters, CN = kube-apiserver-kubelet-client'],
      ['controller-manager', 'subject=CN = system:kube-controller-manager'],
      ['scheduler', 'subject=CN = system:kube-scheduler'],
    ] as const;
    for (const [name, subject] of cases) {
      assert.equal((await x509(files.certs[name].cert, '-subject')).trim(), subject);
    }
  });

  it('names the API server by loopback and by its in-cluster Service names', async () => {
    const san = await x509(clusterPkiFiles(pkiDir).certs.apiserver.cert, '-ext', 'subjectAltName');
    for (const want of ['IP Address:127.0.0.1', 'IP Address:10.96.0.1', 'DNS:kubernetes.default.svc']) {
      assert.match(san, new RegExp(want.replaceAll('.', '\\.')));
    }
  });

  it('gives the front proxy a CA of its own that signs only its client certificate', async () => {
    const { ca, frontProxy } = clusterPkiFiles(pkiDir);
    await run('openssl', ['verify', '-CAfile', frontProxy.ca.cert, frontProxy.client.cert]);
    await assert.rejects(run('openssl', ['verify', '-CAfile', ca.cert, frontProxy.client.cert]));
    await assert.rejects(
      run('openssl', ['verify', '-CAfile', frontProxy.ca.cert, clusterPkiFiles(pkiDir).certs.admin.cert]),
    );
    assert.equal((await x509(frontProxy.client.cert, '-subject')).trim(), 'subject=CN = front-proxy-client');
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
    const san = await x509(serving.cert, '-ext', 'subjectAltName');
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
