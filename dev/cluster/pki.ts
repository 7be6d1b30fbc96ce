// The local control plane's certificates, made in-process by the product's one X.509 issuer
// (src/util/x509.ts), so the control plane needs no `openssl`.
import { generateKeyPair } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCodes, ProductError } from '../../src/util/errors.ts';
import {
  createCa,
  issueCertificate,
  loadIssuer,
  newKeyPair,
  toPem,
  type Usage,
} from '../../src/util/x509.ts';
import { pathExists } from './fs.ts';
import { clusterPaths } from './state.ts';

const DAY = 86_400_000;
const CA_DAYS = 3650;
const LEAF_DAYS = 1825;

export interface CertFiles {
  cert: string;
  key: string;
}

interface LeafSpec {
  cn: string;
  /** The subject's organisation: Kubernetes reads it as the user's group. */
  o?: string;
  usage: 'server' | 'client' | 'server-client';
  dnsNames?: readonly string[];
  ips?: readonly string[];
}

const LOOPBACK = { dnsNames: ['localhost'], ips: ['127.0.0.1'] } as const;

/** Every certificate the local control plane uses, by file stem under the pki directory. */
const CLUSTER_LEAVES = {
  apiserver: {
    cn: 'kube-apiserver',
    usage: 'server',
    dnsNames: [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
    // 10.96.0.1 is the `kubernetes` Service's ClusterIP in --service-cluster-ip-range=10.96.0.0/16.
    ips: ['127.0.0.1', '10.96.0.1'],
  },
  'apiserver-etcd-client': { cn: 'kube-apiserver-etcd-client', usage: 'client' },
  'apiserver-kubelet-client': { cn: 'kube-apiserver-kubelet-client', o: 'system:masters', usage: 'client' },
  // etcd uses one certificate for clients and its (single) peer listener, so it needs both usages.
  'etcd-server': { cn: 'etcd', usage: 'server-client', ...LOOPBACK },
  admin: { cn: 'admin', o: 'system:masters', usage: 'client' },
  'controller-manager': { cn: 'system:kube-controller-manager', usage: 'client' },
  'controller-manager-serving': { cn: 'kube-controller-manager', usage: 'server', ...LOOPBACK },
  scheduler: { cn: 'system:kube-scheduler', usage: 'client' },
  'scheduler-serving': { cn: 'kube-scheduler', usage: 'server', ...LOOPBACK },
  // metrics-server: its own identity (RBAC as its upstream manifest grants), and a serving certificate
  // for the name the aggregation layer dials it by (<service>.<namespace>.svc).
  'metrics-server': { cn: 'system:metrics-server', usage: 'client' },
  'metrics-server-serving': {
    cn: 'metrics-server',
    usage: 'server',
    dnsNames: ['metrics-server.kube-system.svc', 'localhost'],
    ips: ['127.0.0.1'],
  },
} as const satisfies Record<string, LeafSpec>;

/**
 * The aggregation layer's front proxy: a CA of its own (extension API servers trust it for requests
 * the API server proxies, and only it) and the client certificate the API server presents with it.
 */
const FRONT_PROXY_CLIENT: LeafSpec = { cn: 'front-proxy-client', usage: 'client' };

export type ClusterCertName = keyof typeof CLUSTER_LEAVES;

export interface ClusterPki {
  ca: CertFiles;
  certs: Record<ClusterCertName, CertFiles>;
  frontProxy: { ca: CertFiles; client: CertFiles };
  serviceAccount: { privateKey: string; publicKey: string };
}

export function clusterPkiFiles(pkiDir: string): ClusterPki {
  const pair = (stem: string): CertFiles => ({
    cert: join(pkiDir, `${stem}.crt`),
    key: join(pkiDir, `${stem}.key`),
  });
  const certs = Object.fromEntries(Object.keys(CLUSTER_LEAVES).map((stem) => [stem, pair(stem)])) as Record<
    ClusterCertName,
    CertFiles
  >;
  return {
    ca: pair('ca'),
    certs,
    frontProxy: { ca: pair('front-proxy-ca'), client: pair('front-proxy-client') },
    serviceAccount: { privateKey: join(pkiDir, 'sa.key'), publicKey: join(pkiDir, 'sa.pub') },
  };
}

/**
 * Creates whatever of the cluster's CA, certificates and service-account key pair is missing, and
 * keeps what exists, so that kubeconfigs handed out earlier stay valid across restarts.
 */
export async function ensureClusterPki(pkiDir: string, clusterName: string): Promise<ClusterPki> {
  const files = clusterPkiFiles(pkiDir);
  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  // Certificates signed by a CA that is gone are useless: a new CA means reissuing every leaf.
  const newCa = !(await pairExists(files.ca));
  if (newCa) await writeCa(files.ca, `eci-virtual-node-ca-${clusterName}`);
  const sa = files.serviceAccount;
  const work: Promise<void>[] = [];
  if (!(await pathExists(sa.privateKey)) || !(await pathExists(sa.publicKey))) {
    work.push(createServiceAccountKey(sa.privateKey, sa.publicKey));
  }
  for (const [stem, spec] of Object.entries(CLUSTER_LEAVES) as [ClusterCertName, LeafSpec][]) {
    const pair = files.certs[stem];
    if (newCa || !(await pairExists(pair))) work.push(issueLeaf(files.ca, pair, spec));
  }
  const fp = files.frontProxy;
  const newFrontProxyCa = !(await pairExists(fp.ca));
  if (newFrontProxyCa) await writeCa(fp.ca, `eci-virtual-node-front-proxy-ca-${clusterName}`);
  if (newFrontProxyCa || !(await pairExists(fp.client)))
    work.push(issueLeaf(fp.ca, fp.client, FRONT_PROXY_CLIENT));
  await Promise.all(work);
  return files;
}

export interface ServingCert extends CertFiles {
  /** The cluster CA that signed it; the API server verifies kubelet serving certificates with it. */
  ca: string;
}

/**
 * Issues a TLS serving certificate signed by the cluster CA of the cluster in `stateDir`, for a node
 * named `name` reachable at `ips` (e.g. the virtual node's kubelet API, which the API server dials for
 * logs and exec and verifies against `--kubelet-certificate-authority`). Writes
 * `pki/serving-<name>.{crt,key}` in the state dir, replacing an earlier one atomically.
 */
export async function issueServingCert(
  stateDir: string,
  name: string,
  ips: readonly string[],
  opts: { dnsNames?: readonly string[] } = {},
): Promise<ServingCert> {
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(name)) {
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `invalid node name ${JSON.stringify(name)} for a certificate`,
    );
  }
  const bad = ips.find((ip) => isIP(ip) === 0);
  if (bad !== undefined) {
    throw new ProductError(ErrorCodes.INVALID_INPUT, `${JSON.stringify(bad)} is not an IP address`);
  }
  const pkiDir = clusterPaths(stateDir).pki;
  const { ca } = clusterPkiFiles(pkiDir);
  if (!(await pairExists(ca))) {
    throw new ProductError(
      ErrorCodes.NOT_FOUND,
      `no cluster CA in ${pkiDir}; start the cluster first with \`eci-virtual-node cluster up\``,
    );
  }
  const final = { cert: join(pkiDir, `serving-${name}.crt`), key: join(pkiDir, `serving-${name}.key`) };
  const tmp = { cert: `${final.cert}.tmp-${process.pid}`, key: `${final.key}.tmp-${process.pid}` };
  try {
    await issueLeaf(ca, tmp, {
      cn: name,
      usage: 'server',
      dnsNames: [name, ...(opts.dnsNames ?? [])],
      ips,
    });
    await rename(tmp.key, final.key);
    await rename(tmp.cert, final.cert);
  } finally {
    await rm(tmp.cert, { force: true });
    await rm(tmp.key, { force: true });
  }
  return { ...final, ca: ca.cert };
}

/** Certificates start an hour in the past, so a component whose clock lags a little accepts them. */
function validity(days: number) {
  const now = Date.now();
  return { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + days * DAY) };
}

async function writeCa(ca: CertFiles, cn: string): Promise<void> {
  const key = await newKeyPair();
  const cert = await createCa({ subject: { cn }, keys: key.keys, ...validity(CA_DAYS) });
  await writeKey(ca.key, key.privateKeyPem);
  await writeFile(ca.cert, toPem(cert));
}

const USAGES: Record<LeafSpec['usage'], Usage[]> = {
  server: ['server'],
  client: ['client'],
  'server-client': ['server', 'client'],
};

async function issueLeaf(ca: CertFiles, out: CertFiles, spec: LeafSpec): Promise<void> {
  const [issuer, key] = await Promise.all([
    Promise.all([readFile(ca.cert, 'utf8'), readFile(ca.key, 'utf8')]).then(([c, k]) => loadIssuer(c, k)),
    newKeyPair(),
  ]);
  const cert = await issueCertificate({
    subject: { cn: spec.cn, ...(spec.o ? { o: spec.o } : {}) },
    publicKey: key.keys.publicKey,
    issuer,
    usages: USAGES[spec.usage],
    dnsNames: spec.dnsNames,
    ips: spec.ips,
    ...validity(LEAF_DAYS),
  });
  await writeKey(out.key, key.privateKeyPem);
  await writeFile(out.cert, toPem(cert));
}

async function writeKey(path: string, pem: string): Promise<void> {
  await writeFile(path, pem, { mode: 0o600 });
  // The mode above applies only to a new file; a key written over an old one must not stay readable.
  await chmod(path, 0o600);
}

const generate = promisify(generateKeyPair);

// RSA because it is what every consumer of service-account tokens accepts (kubeadm's choice too).
async function createServiceAccountKey(privateKey: string, publicKey: string): Promise<void> {
  const pair = await generate('rsa', { modulusLength: 2048 });
  await writeKey(privateKey, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  await writeFile(publicKey, pair.publicKey.export({ type: 'spki', format: 'pem' }).toString());
}

async function pairExists(pair: CertFiles): Promise<boolean> {
  return (await pathExists(pair.cert)) && (await pathExists(pair.key));
}
