// No AccessKey, token or Secret value in anything the product lets out: every log line of the
// controllers (at debug level, and a failing one), the emulator's request log, every Event in the
// cluster, every pod's and the Node's status, the Prometheus metrics, and the error a bad start
// prints. The scenario makes the product handle each kind of secret: an AccessKey (and a wrong one), a
// Secret's value in env, image pull credentials, projected service-account tokens.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { EmulatorAdminClient } from '../../src/emulator/admin/client.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.ts';
import { placementOn } from '../support/apply.ts';
import { ControllerProcess } from '../support/controller.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { waitReason, waitRunning } from '../support/pods.ts';
import { findSecrets, type Leak } from '../support/secret-scan.ts';
import { waitFor } from '../support/wait.ts';

const RUN = randomBytes(4).toString('hex');
const NODE = 'vk-e2e-secrets';
const NS = `e2e-secrets-${RUN}`;
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);
const root = new URL('../..', import.meta.url).pathname;

const ACCESS_KEY = { id: `LTAI5t${RUN}SecretScan`, secret: `ak-secret-${RUN}-do-not-print` };
const WRONG_SECRET = `wrong-ak-secret-${RUN}`;
const POD_SECRET = `pod-secret-value-${RUN}`;
const PULL_PASSWORD = `pull-password-${RUN}`;
const SECRETS = [ACCESS_KEY.id, ACCESS_KEY.secret, WRONG_SECRET, POD_SECRET, PULL_PASSWORD];

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe('no secret in logs, Events, statuses, metrics or errors', { timeout: 600_000 }, () => {
  let emu: RunningEmulator;
  const emulatorLog: string[] = [];
  let controller: ControllerProcess;
  let wrongKey: ControllerProcess;
  let metricsPort = 0;
  let env: Record<string, string>;

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        emulatorLog.push(chunk.toString());
        done();
      },
    });
    emu = await startEmulator({
      port: 0,
      config: { accessKeys: [{ id: ACCESS_KEY.id, secret: ACCESS_KEY.secret }], logLevel: 'debug' },
      logger: pino({ level: 'debug' }, sink),
    });
    env = {
      ECI_REGION: emu.regionId,
      ECI_ACCESS_KEY: ACCESS_KEY.id,
      ECI_SECRET_KEY: ACCESS_KEY.secret,
      ECI_ENDPOINT: emu.endpoint,
      ECI_PROTOCOL: emu.protocol,
      ECI_VSWITCH: 'vsw-emulator-h',
      ECI_SECURITY_GROUP: 'sg-emulator',
    };
    await kubectl('create', 'namespace', NS);
    metricsPort = await freePort();
    controller = new ControllerProcess([
      '--kubeconfig',
      kubeconfig,
      '--node-name',
      NODE,
      '--node-ip',
      '127.0.0.1',
      '--kubelet-port',
      '0',
      '--metrics-port',
      String(metricsPort),
      '--metrics-bind-address',
      '127.0.0.1',
      '--log-level',
      'debug',
    ]);
    controller.start(env);
    await waitFor('node Ready', async () =>
      (await kubectl('get', 'node', NODE, '--no-headers').catch(() => '')).includes(' Ready'),
    );
  });

  after(async () => {
    await kubectl('delete', 'namespace', NS, '--wait=false', '--ignore-not-found').catch(() => undefined);
    await waitFor(
      'groups cleaned up',
      async () => (await new EmulatorAdminClient(emu.adminUrl).listContainerGroups()).total === 0,
      {
        timeoutMs: 60_000,
      },
    ).catch(() => undefined);
    await controller?.stop('SIGTERM');
    await wrongKey?.stop('SIGKILL');
    await kubectl('delete', 'node', NODE, `${NODE}-wrong`, '--ignore-not-found').catch(() => undefined);
    await emu.close();
  });

  test('the product handles every kind of secret, then nothing it let out contains one', async () => {
    await kubectl('-n', NS, 'create', 'secret', 'generic', 'app', `--from-literal=password=${POD_SECRET}`);
    await kubectl(
      '-n',
      NS,
      'create',
      'secret',
      'docker-registry',
      'pull',
      '--docker-server=registry.example.com',
      '--docker-username=robot',
      `--docker-password=${PULL_PASSWORD}`,
    );
    await waitFor('default ServiceAccount', () => json('-n', NS, 'get', 'serviceaccount', 'default'));
    const pod = (name: string, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NS },
      spec: {
        ...placementOn(NODE),
        imagePullSecrets: [{ name: 'pull' }],
        containers: [
          {
            name: 'app',
            image: 'registry.example.com/app:1',
            env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'app', key: 'password' } } }],
            volumeMounts: [{ name: 'tok', mountPath: '/var/run/tok' }],
          },
        ],
        volumes: [{ name: 'tok', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }],
        ...extra,
      },
    });
    const apply = (obj: unknown) =>
      new Promise<void>((resolve, reject) => {
        const p = execFile(
          process.env.KUBECTL ?? 'kubectl',
          ['--kubeconfig', kubeconfig, 'create', '-f', '-'],
          (err, _o, e) => (err ? reject(new Error(e)) : resolve()),
        );
        p.stdin?.end(JSON.stringify(obj));
      });
    // Runs: Secret read, token minted, pull credentials sent.
    await apply(pod('runs'));
    await waitRunning(json, NS, 'runs');
    // Waits for a Secret key that does not exist (retries, Events), and is refused (an Event).
    const missing = pod('missing');
    missing.spec.containers[0]!.env = [
      { name: 'X', valueFrom: { secretKeyRef: { name: 'app', key: 'nope' } } },
    ];
    await apply(missing);
    await waitReason(json, NS, 'missing', 'CreateContainerConfigError');
    await apply(pod('refused', { hostNetwork: true }));
    await waitReason(json, NS, 'refused', 'HostNetworkUnsupported');
    await kubectl('-n', NS, 'delete', 'pod', 'runs', '--wait=false');

    // A second controller with a wrong AccessKey secret: every ECI call it makes fails.
    wrongKey = new ControllerProcess([
      '--kubeconfig',
      kubeconfig,
      '--node-name',
      `${NODE}-wrong`,
      '--node-ip',
      '127.0.0.1',
      '--kubelet-port',
      '0',
      '--log-level',
      'debug',
    ]);
    wrongKey.start({ ...env, ECI_SECRET_KEY: WRONG_SECRET });
    await waitFor(
      'the wrong key to be refused by ECI',
      async () => /SignatureDoesNotMatch/.test(wrongKey.output),
      {
        timeoutMs: 60_000,
      },
    );

    // A start that fails on its configuration: the error it prints.
    const failed = await new Promise<string>((resolve) =>
      execFile(
        process.execPath,
        [`${root}bin/eci-virtual-node.js`, 'run', '--kubeconfig', kubeconfig, '--node-name', `${NODE}-bad`],
        {
          env: { ...process.env, ...env, ECI_VSWITCH: 'not a vswitch', ECI_SECURITY_GROUP: '' },
          timeout: 60_000,
        },
        (_err, out, errOut) => resolve(`${out}${errOut}`),
      ),
    );
    assert.match(failed, /error/i, 'the bad start failed, with an error');

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const events = await kubectl('get', 'events', '-A', '-o', 'json');
    const statuses = JSON.stringify(
      (await json<{ items: { metadata: unknown; status: unknown }[] }>('-n', NS, 'get', 'pods')).items.map(
        (p) => p.status,
      ),
    );
    const nodes = JSON.stringify((await json<{ status: unknown }>('get', 'node', NODE)).status);
    const sources: [string, string][] = [
      ['controller log (debug)', controller.output],
      ['controller with a wrong AccessKey, log (debug)', wrongKey.output],
      ['a failed start, its error', failed],
      ['emulator request log (debug)', emulatorLog.join('')],
      ['Events, all namespaces', events],
      ['pod statuses', statuses],
      ['Node status', nodes],
      ['Prometheus metrics', metrics],
    ];
    const leaks: Leak[] = sources.flatMap(([source, text]) => findSecrets(source, text, SECRETS));
    const scanned = sources.map(([s, t]) => `${s}: ${t.length} bytes`).join(', ');
    console.log(`secret scan: ${scanned}; ${leaks.length} leaks`);
    assert.deepEqual(leaks, []);
    // The scan can see: the values are in what it was given to scan elsewhere (ECI got the pod secret).
    assert.ok(controller.output.length > 1000 && events.length > 1000, 'there was something to scan');
  });
});
