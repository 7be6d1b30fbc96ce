// The kubelet API on the virtual node, the way users reach it: the real kubectl (1.32 and 1.33)
// through the real kube-apiserver (which verifies our serving certificate and presents its client
// certificate), against pods that really run in the emulator's process runtime.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CoreV1Event, V1Node, V1Pod } from '@kubernetes/client-node';
import { kubectlApply, placementOn } from '../support/apply.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { waitPod, waitRunning } from '../support/pods.ts';
import { waitFor } from '../support/wait.ts';
import { createCa, issueCertificate, loadIssuer, newKeyPair, toPem } from '../../src/util/x509.ts';

const NODE = 'vk-e2e-kubelet';
const NS = 'e2e-kubelet';
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);
const apply = (obj: unknown) => kubectlApply(kubeconfig, obj);
const placement = placementOn(NODE);
const TTY_DRIVER = fileURLToPath(new URL('../support/tty-driver.py', import.meta.url));
const caFile = process.env.ECI_VN_TEST_CA ?? '';
const pkiDir = path.dirname(caFile);
const run = promisify(execFile);

/** kubectl 1.33: $KUBECTL_1_33, else beside the Google Cloud SDK's kubectl (kubectl.1.33). */
function kubectl133(): string {
  if (process.env.KUBECTL_1_33) return process.env.KUBECTL_1_33;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const k = path.join(dir, 'kubectl');
    if (!existsSync(k)) continue;
    const beside = path.join(path.dirname(realpathSync(k)), 'kubectl.1.33');
    if (existsSync(beside)) return beside;
  }
  throw new Error('kubectl 1.33 not found: set KUBECTL_1_33 or install kubectl.1.33 beside kubectl');
}

const KUBECTLS: { version: string; bin: string }[] = [
  { version: '1.32', bin: process.env.KUBECTL ?? 'kubectl' },
  { version: '1.33', bin: kubectl133() },
];

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a kubectl binary against the test cluster, with stdin; never throws on a non-zero exit. */
function kc(
  bin: string,
  args: string[],
  o: { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.end(o.input ?? '');
  });
}

/** A long-running kubectl whose output is collected until it is stopped. */
function background(bin: string, args: string[], input?: NodeJS.ReadableStream) {
  const child: ChildProcess = spawn(bin, ['--kubeconfig', kubeconfig, ...args], {
    stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (input && child.stdin) input.pipe(child.stdin);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

const pod = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS, labels: { app: name } },
  spec: { ...placement, ...spec },
});

describe('the kubelet API: logs, exec, attach, port-forward, top', { timeout: 1_800_000 }, () => {
  let eci: TestEmulator;
  let controller: ControllerProcess;
  let kubeletPort = 0;

  before(async () => {
    // Real containers: the process runtime, or a clear failure saying why it cannot run here.
    eci = await startTestEmulator({ runtime: 'process' });
    await kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true');
    await kubectl('create', 'namespace', NS);
    await kubectl('delete', 'node', NODE, '--ignore-not-found');
    controller = new ControllerProcess([
      '--kubeconfig',
      kubeconfig,
      '--node-name',
      NODE,
      '--node-ip',
      '127.0.0.1',
      '--kubelet-port',
      '0',
      '--kubelet-bind-address',
      '127.0.0.1',
    ]);
    controller.start(eci.env);
    const node = await waitFor(
      'node Ready',
      async () => {
        const n = await json<V1Node>('get', 'node', NODE).catch(() => undefined);
        return n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && n;
      },
      { timeoutMs: 90_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\ncontroller output:\n${controller.output}`);
    });
    kubeletPort = node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0;
  });

  after(async () => {
    await kubectl('delete', 'namespace', NS, '--wait=false', '--ignore-not-found').catch(() => undefined);
    await waitFor('groups cleaned up', async () => (await eci.admin.listContainerGroups()).total === 0, {
      timeoutMs: 90_000,
    }).catch(() => undefined);
    await controller.stop('SIGTERM');
    await kubectl('delete', 'node', NODE, '--ignore-not-found').catch(() => undefined);
    await eci.close();
  });

  test('the serving certificate comes from a CSR approved as the Node Event says; the API server verifies it', async () => {
    // The controller's log names the CSR it made (earlier runs' Events about this node may linger).
    const csrName = await waitFor(
      'the CSR named in the log',
      async () => /waiting for approval: kubectl certificate approve (\S+?)"/.exec(controller.output)?.[1],
      { timeoutMs: 60_000 },
    );
    const ev = await waitFor(
      'a ServingCertificateRequested Event on the Node naming it',
      async () => {
        const list = await json<{ items: CoreV1Event[] }>(
          '-n',
          'default',
          'get',
          'events',
          '--field-selector',
          `involvedObject.name=${NODE},reason=ServingCertificateRequested`,
        );
        return list.items.find((e) => e.message?.includes(`kubectl certificate approve ${csrName}`));
      },
      { timeoutMs: 60_000 },
    );
    const cmd = /Approve it with: (kubectl certificate approve \S+)/.exec(ev.message ?? '')?.[1];
    assert.equal(
      cmd,
      `kubectl certificate approve ${csrName}`,
      `the Event says how to approve: ${ev.message}`,
    );
    const csr = await json<{ spec: { signerName: string; usages: string[] } }>('get', 'csr', csrName);
    assert.equal(csr.spec.signerName, 'kubernetes.io/kubelet-serving');
    assert.match(
      controller.output,
      new RegExp(`waiting for approval: kubectl certificate approve ${csrName}`),
    );
    // Exactly what the Event says to type.
    await kubectl(...cmd.split(' ').slice(1));
    await waitFor('the issued certificate is served', async () =>
      controller.output.includes('kubelet API now serves the certificate the cluster issued'),
    );
    const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: kubeletPort, ca: [readFileSync(caFile)] }, () => {
        const c = s.getPeerCertificate();
        s.destroy();
        resolve(c);
      });
      s.once('error', reject);
    });
    assert.equal(peer.subject.CN, `system:node:${NODE}`);
    assert.match(peer.subjectaltname ?? '', /IP Address:127\.0\.0\.1/);
  });

  test('pods for the rest of the file run', async () => {
    await kubectl('-n', NS, 'create', 'configmap', 'cfg', '--from-literal=greeting=hello from a configmap');
    await apply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'hello', namespace: NS },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            ...placement,
            restartPolicy: 'Never',
            containers: [
              { name: 'hello', image: 'busybox', command: ['sh', '-c', 'echo first line; echo second line'] },
            ],
          },
        },
      },
    });
    await apply(
      pod('app', {
        containers: [
          {
            name: 'app',
            image: 'busybox',
            command: ['sh', '-c', 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 1; done'],
            volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }],
          },
        ],
        volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }],
      }),
    );
    await apply(
      pod('crashy', {
        restartPolicy: 'Always',
        containers: [
          {
            name: 'crashy',
            image: 'busybox',
            command: ['sh', '-c', 'echo "run $(date +%s)-$RANDOM"; sleep 2; exit 1'],
          },
        ],
      }),
    );
    await apply(
      pod('reader', {
        containers: [
          {
            name: 'reader',
            image: 'busybox',
            stdin: true,
            command: ['sh', '-c', 'echo waiting; while read line; do echo "got: $line"; done'],
          },
        ],
      }),
    );
    await apply(
      pod('web', { containers: [{ name: 'nginx', image: 'nginx', ports: [{ containerPort: 80 }] }] }),
    );
    for (const name of ['app', 'reader', 'web']) await waitRunning(json, NS, name, 300_000);
    await waitFor(
      'Job hello complete',
      async () => {
        const j = await json<{ status?: { succeeded?: number } }>('-n', NS, 'get', 'job', 'hello');
        return (j.status?.succeeded ?? 0) >= 1;
      },
      { timeoutMs: 180_000 },
    );
    await waitPod(
      json,
      NS,
      'crashy',
      'restarted',
      (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
      180_000,
    );
  });

  for (const { version, bin } of KUBECTLS) {
    describe(`kubectl ${version}`, () => {
      test('logs of a Job: its exact lines; --tail, --timestamps and --since', async () => {
        const all = await kc(bin, ['-n', NS, 'logs', 'job/hello']);
        assert.equal(all.code, 0, all.stderr);
        assert.equal(all.stdout, 'first line\nsecond line\n');
        assert.equal((await kc(bin, ['-n', NS, 'logs', 'job/hello', '--tail=1'])).stdout, 'second line\n');
        const stamped = (await kc(bin, ['-n', NS, 'logs', 'job/hello', '--timestamps'])).stdout
          .trimEnd()
          .split('\n');
        assert.equal(stamped.length, 2);
        for (const [i, line] of stamped.entries()) {
          // kubelet's fixed-width RFC 3339 with nanoseconds, then the line.
          assert.match(line, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z (first|second) line$/);
          assert.ok(line.endsWith(i === 0 ? 'first line' : 'second line'));
        }
        const written = Date.parse(stamped[1]!.slice(0, 30));
        assert.ok(Math.abs(written - Date.now()) < 30 * 60_000, 'stamped with the time it was written');
        assert.equal(
          (await kc(bin, ['-n', NS, 'logs', 'job/hello', '--since=1h'])).stdout,
          'first line\nsecond line\n',
        );
        // The Job wrote its lines more than 2 s ago: --since=1s shows none, and a sinceTime past them none.
        assert.equal((await kc(bin, ['-n', NS, 'logs', 'job/hello', '--since=1s'])).stdout, '');
        const after = new Date(written + 1000).toISOString().replace(/\.\d+Z$/, 'Z');
        assert.equal((await kc(bin, ['-n', NS, 'logs', 'job/hello', `--since-time=${after}`])).stdout, '');
      });

      test('logs --previous shows the run before the restart', async () => {
        const prev = await kc(bin, ['-n', NS, 'logs', 'crashy', '--previous']);
        assert.equal(prev.code, 0, prev.stderr);
        assert.match(prev.stdout, /^run \d+-\d+\n$/);
        const now = await waitFor('the current run has written', async () => {
          const r = await kc(bin, ['-n', NS, 'logs', 'crashy']);
          return r.code === 0 && r.stdout !== '' && r;
        });
        assert.notEqual(now.stdout, prev.stdout, 'the current run is another one');
      });

      test('logs -f shows the lines written after it started, none lost or repeated', async () => {
        const f = background(bin, ['-n', NS, 'logs', '-f', 'app', '--tail=1']);
        try {
          await waitFor(
            '4 new lines followed',
            async () => (f.stdout.match(/^tick \d+$/gm) ?? []).length >= 5,
            {
              timeoutMs: 30_000,
            },
          );
        } finally {
          await f.stop();
        }
        const ticks = (f.stdout.match(/^tick (\d+)$/gm) ?? []).map((l) => Number(l.slice(5)));
        assert.equal(f.stdout.trim().split('\n').length, ticks.length, `only tick lines: ${f.stdout}`);
        for (let i = 1; i < ticks.length; i++)
          assert.equal(ticks[i], ticks[i - 1]! + 1, `consecutive: ${ticks.join(',')}`);
      });

      test('exec: a ConfigMap file, an exit code, piped stdin', async () => {
        const cat = await kc(bin, ['-n', NS, 'exec', 'app', '--', 'cat', '/etc/cfg/greeting']);
        assert.equal(cat.code, 0, cat.stderr);
        assert.equal(cat.stdout, 'hello from a configmap');
        const exit3 = await kc(bin, ['-n', NS, 'exec', 'app', '--', 'sh', '-c', 'exit 3']);
        assert.equal(exit3.code, 3, exit3.stderr);
        const payload = randomBytes(256 * 1024).toString('base64');
        const piped = await kc(bin, ['-n', NS, 'exec', '-i', 'app', '--', 'sh', '-c', 'cat | md5sum'], {
          input: payload,
        });
        assert.equal(piped.code, 0, piped.stderr);
        assert.equal(piped.stdout.split(' ')[0], createHash('md5').update(payload).digest('hex'));
      });

      test('exec -it through a terminal: a command typed, its output, a resize, the exit code', async () => {
        const steps = [
          { size: [24, 80] },
          { wait: 4 },
          { type: 'stty size\r' },
          { wait: 2 },
          { size: [40, 132] },
          { wait: 1 },
          { type: 'stty size; echo done-$((6*7))\r' },
          { wait: 2 },
          { type: 'exit 4\r' },
        ];
        const { stdout } = await run(
          'python3',
          [
            TTY_DRIVER,
            JSON.stringify(steps),
            '--',
            bin,
            '--kubeconfig',
            kubeconfig,
            '-n',
            NS,
            'exec',
            '-it',
            'app',
            '--',
            'sh',
          ],
          {
            timeout: 60_000,
          },
        );
        assert.match(stdout, /^24 80\r?$/m, stdout);
        assert.match(stdout, /^40 132\r?$/m, 'the resize reached the terminal in the container');
        assert.match(stdout, /done-42/, 'what was typed ran');
        assert.match(stdout, /EXIT 4\n$/);
      });

      test('attach to a container reading stdin', async () => {
        const input = new (await import('node:stream')).PassThrough();
        const a = background(bin, ['-n', NS, 'attach', '-i', 'reader'], input);
        const word = `hello-${version}-${randomBytes(3).toString('hex')}`;
        try {
          // The line is sent once the session is up; sent earlier, it would wait in kubectl's stdin.
          await new Promise((r) => setTimeout(r, 3000));
          input.write(`${word}\n`);
          await waitFor(
            'the container echoes what was attached',
            async () => a.stdout.includes(`got: ${word}`),
            {
              timeoutMs: 30_000,
            },
          ).catch(async (err: Error) => {
            const logs = await kubectl('-n', NS, 'logs', 'reader').catch((e: Error) => e.message);
            throw new Error(`${err.message}\nkubectl attach: ${a.stdout} ${a.stderr}\nreader's log: ${logs}`);
          });
        } finally {
          input.end();
          await a.stop();
        }
        const logs = await kubectl('-n', NS, 'logs', 'reader');
        assert.match(logs, new RegExp(`^got: ${word}$`, 'm'), 'the container read it on its stdin');
      });

      test('port-forward to nginx on the pod IP, then curl gets its page', async () => {
        const port = await freePort();
        const pf = background(bin, ['-n', NS, 'port-forward', 'pod/web', `${port}:80`]);
        try {
          await waitFor('Forwarding from', async () => pf.stdout.includes('Forwarding from'), {
            timeoutMs: 30_000,
          });
          for (let i = 0; i < 2; i++) {
            const { stdout } = await run('curl', ['-s', '--max-time', '10', `http://127.0.0.1:${port}/`]);
            assert.match(stdout, /Welcome to nginx!/);
          }
        } finally {
          await pf.stop();
        }
      });
    });
  }

  test('kubectl top pod (1.32 and 1.33) shows CPU and memory of a pod on the virtual node', async () => {
    for (const { version, bin } of KUBECTLS) {
      const line = await waitFor(
        `kubectl ${version} top pod app`,
        async () => {
          const r = await kc(bin, ['-n', NS, 'top', 'pod', 'app', '--no-headers']);
          return r.code === 0 && r.stdout.trim();
        },
        { timeoutMs: 120_000, intervalMs: 5000 },
      );
      const [name, cpu, mem] = line.split(/\s+/);
      assert.equal(name, 'app');
      assert.match(cpu ?? '', /^\d+m$/);
      assert.match(mem ?? '', /^\d+Mi$/);
    }
    // What metrics-server read it from: the kubelet API's /stats/summary and /metrics/resource agree
    // on the pod, with a working set above zero (a real process has one).
    const pki = path.dirname(caFile);
    const get = (p: string) =>
      new Promise<string>((resolve, reject) => {
        https
          .get(
            {
              host: '127.0.0.1',
              port: kubeletPort,
              path: p,
              ca: readFileSync(caFile),
              cert: readFileSync(path.join(pki, 'apiserver-kubelet-client.crt')),
              key: readFileSync(path.join(pki, 'apiserver-kubelet-client.key')),
            },
            (res) => {
              let body = '';
              res.on('data', (c: Buffer) => (body += c.toString()));
              res.on('end', () => resolve(body));
            },
          )
          .on('error', reject);
      });
    const summary = JSON.parse(await get('/stats/summary')) as {
      node: { nodeName: string };
      pods: { podRef: { name: string; namespace: string }; memory: { workingSetBytes: number } }[];
    };
    assert.equal(summary.node.nodeName, NODE);
    const app = summary.pods.find((p) => p.podRef.namespace === NS && p.podRef.name === 'app');
    assert.ok(app && app.memory.workingSetBytes > 0, 'the app pod with its working set');
    assert.match(
      await get('/metrics/resource'),
      new RegExp(
        `^container_memory_working_set_bytes\\{container="app",namespace="${NS}",pod="app"\\} [1-9]\\d* \\d+$`,
        'm',
      ),
    );
  });

  test('an HPA on CPU scales a Deployment running on the virtual node', async () => {
    // About 0.2 of a core each (busy a fifth of the time), against a request of 100m: 200 % of the
    // request, well above the 50 % target, so the HPA scales to its maximum of 2.
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'burner', namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'burner' } },
        template: {
          metadata: { labels: { app: 'burner' } },
          spec: {
            ...placement,
            containers: [
              {
                name: 'burner',
                image: 'busybox',
                command: [
                  'sh',
                  '-c',
                  'while true; do timeout 0.2 sh -c "while :; do :; done"; sleep 0.8; done',
                ],
                resources: {
                  requests: { cpu: '100m', memory: '32Mi' },
                  limits: { cpu: '300m', memory: '64Mi' },
                },
              },
            ],
          },
        },
      },
    });
    await kubectl('-n', NS, 'autoscale', 'deployment', 'burner', '--cpu-percent=50', '--min=1', '--max=2');
    try {
      const hpa = await waitFor(
        'HPA scaled burner to 2',
        async () => {
          const h = await json<{ status?: { desiredReplicas?: number; currentMetrics?: unknown[] } }>(
            '-n',
            NS,
            'get',
            'hpa',
            'burner',
          );
          return (h.status?.desiredReplicas ?? 0) >= 2 && h;
        },
        { timeoutMs: 300_000, intervalMs: 5000 },
      );
      assert.ok(hpa.status?.currentMetrics?.length, 'the HPA read CPU from metrics.k8s.io');
      await waitFor(
        'two burner pods on the virtual node',
        async () => {
          const pods = (await json<{ items: V1Pod[] }>('-n', NS, 'get', 'pods', '-l', 'app=burner')).items;
          return pods.filter((p) => p.spec?.nodeName === NODE && p.status?.phase === 'Running').length === 2;
        },
        { timeoutMs: 180_000 },
      );
    } finally {
      // The burners cost CPU on a shared machine: gone as soon as they proved the point.
      await kubectl('-n', NS, 'delete', 'hpa', 'burner', '--ignore-not-found');
      await kubectl('-n', NS, 'delete', 'deployment', 'burner', '--ignore-not-found');
    }
  });

  describe('who may call :10250 directly', () => {
    let tmp = '';
    const results: { probe: string; want: number; got: number }[] = [];
    before(async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), 'evn-probe-'));
    });
    after(async () => {
      // The count for the issue's note.
      console.log(
        `probe matrix: ${results.filter((r) => r.got === r.want).length}/${results.length} as expected\n` +
          results
            .map((r) => `  ${r.got === r.want ? 'ok' : 'WRONG'} ${r.want} ${r.probe} (got ${r.got})`)
            .join('\n'),
      );
      await kubectl('delete', 'clusterrolebinding', 'e2e-kubelet-log-only', '--ignore-not-found').catch(
        () => undefined,
      );
      await kubectl('delete', 'clusterrole', 'e2e-kubelet-log-only', '--ignore-not-found').catch(
        () => undefined,
      );
      await rm(tmp, { recursive: true, force: true });
    });

    /** Valid from an hour ago for a day: long enough for this test, useless afterwards. */
    const oneDay = () => ({
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 86_400_000),
    });

    /** A client certificate for `cn`, signed by the CA given (the cluster's, or a stranger's). */
    async function clientCert(cn: string, caCert: string, caKey: string) {
      const issuer = loadIssuer(await readFile(caCert, 'utf8'), await readFile(caKey, 'utf8'));
      const key = await newKeyPair();
      const cert = await issueCertificate({
        subject: { cn },
        publicKey: key.keys.publicKey,
        issuer,
        usages: ['client'],
        ...oneDay(),
      });
      return { cert: Buffer.from(toPem(cert)), key: Buffer.from(key.privateKeyPem) };
    }

    /** One request to the kubelet API: status code (101 for an accepted upgrade). */
    function call(o: {
      method: string;
      path: string;
      cert?: { cert: Buffer; key: Buffer };
      token?: string;
      spdy?: boolean;
    }): Promise<number> {
      return new Promise((resolve, reject) => {
        const req = https.request({
          host: '127.0.0.1',
          port: kubeletPort,
          method: o.method,
          path: o.path,
          ca: readFileSync(caFile),
          ...(o.cert ?? {}),
          headers: {
            ...(o.token ? { Authorization: `Bearer ${o.token}` } : {}),
            ...(o.spdy
              ? {
                  Connection: 'Upgrade',
                  Upgrade: 'SPDY/3.1',
                  'X-Stream-Protocol-Version': 'v4.channel.k8s.io',
                }
              : {}),
          },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('upgrade', (_res, socket) => {
          socket.destroy();
          resolve(101);
        });
        req.on('error', reject);
        req.end();
      });
    }

    test('refused with the right status, and the API server’s own certificate allowed', async () => {
      const exec = `/exec/${NS}/app/app?command=true&output=1`;
      const stranger = path.join(tmp, 'stranger');
      const strangerKey = await newKeyPair();
      const strangerCa = await createCa({
        subject: { cn: 'stranger-ca' },
        keys: strangerKey.keys,
        ...oneDay(),
      });
      await writeFile(`${stranger}.key`, strangerKey.privateKeyPem, { mode: 0o600 });
      await writeFile(`${stranger}.crt`, toPem(strangerCa));
      const fromStranger = await clientCert('system:masters-wannabe', `${stranger}.crt`, `${stranger}.key`);
      const nobody = await clientCert('e2e-nobody', caFile, path.join(pkiDir, 'ca.key'));
      const apiserver = {
        cert: await readFile(path.join(pkiDir, 'apiserver-kubelet-client.crt')),
        key: await readFile(path.join(pkiDir, 'apiserver-kubelet-client.key')),
      };
      await kubectl('-n', NS, 'create', 'serviceaccount', 'no-proxy');
      await kubectl('-n', NS, 'create', 'serviceaccount', 'log-only');
      await kubectl(
        'create',
        'clusterrole',
        'e2e-kubelet-log-only',
        '--verb=get,create',
        '--resource=nodes/log',
      );
      await kubectl(
        'create',
        'clusterrolebinding',
        'e2e-kubelet-log-only',
        '--clusterrole=e2e-kubelet-log-only',
        `--serviceaccount=${NS}:log-only`,
      );
      const token = async (sa: string) =>
        (await kubectl('-n', NS, 'create', 'token', sa, '--duration=10m')).trim();
      const noProxy = await token('no-proxy');
      const logOnly = await token('log-only');

      const probes: [string, number, Parameters<typeof call>[0]][] = [
        ['no client certificate, no token: /pods', 401, { method: 'GET', path: '/pods' }],
        ['no client certificate, no token: exec', 401, { method: 'POST', path: exec, spdy: true }],
        ['a token the API server does not know', 401, { method: 'GET', path: '/pods', token: 'not-a-token' }],
        [
          'a certificate from another CA (CN system:masters-wannabe)',
          401,
          { method: 'GET', path: '/pods', cert: fromStranger },
        ],
        [
          'a cluster certificate of a user without RBAC: /pods',
          403,
          { method: 'GET', path: '/pods', cert: nobody },
        ],
        [
          'a cluster certificate of a user without RBAC: /stats/summary',
          403,
          { method: 'GET', path: '/stats/summary', cert: nobody },
        ],
        [
          'a ServiceAccount token without nodes/proxy: exec',
          403,
          { method: 'POST', path: exec, token: noProxy, spdy: true },
        ],
        [
          'a ServiceAccount token without nodes/proxy: logs',
          403,
          { method: 'GET', path: `/containerLogs/${NS}/app/app`, token: noProxy },
        ],
        [
          'a token allowed nodes/log only: exec',
          403,
          { method: 'POST', path: exec, token: logOnly, spdy: true },
        ],
        [
          'a token allowed nodes/log only: /metrics/resource',
          403,
          { method: 'GET', path: '/metrics/resource', token: logOnly },
        ],
        // Authorised (nodes/log), then 404: this node serves no node logs. Proves the token itself works.
        ['a token allowed nodes/log only: /logs/', 404, { method: 'GET', path: '/logs/', token: logOnly }],
        [
          'the API server’s kubelet client certificate: /healthz',
          200,
          { method: 'GET', path: '/healthz', cert: apiserver },
        ],
        [
          'the API server’s kubelet client certificate: /pods',
          200,
          { method: 'GET', path: '/pods', cert: apiserver },
        ],
        [
          'the API server’s kubelet client certificate: exec',
          101,
          { method: 'POST', path: exec, cert: apiserver, spdy: true },
        ],
      ];
      for (const [probe, want, o] of probes) results.push({ probe, want, got: await call(o) });
      assert.deepEqual(
        results.filter((r) => r.got !== r.want),
        [],
        'every probe answered as a kubelet in webhook mode does',
      );
    });
  });
});
