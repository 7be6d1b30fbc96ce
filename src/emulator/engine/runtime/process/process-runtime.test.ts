import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { EmulatorAdminClient } from '../../../admin/client.ts';
import type { RunningEmulator } from '../../../server.ts';
import { startEmulator } from '../../../server.ts';
import { type EciClient, eventually, sdkClient } from '../../../../../test/support/emulator-sdk.ts';
import { processSupport } from '../select.ts';
import {
  leftovers,
  type Leftovers,
  processRuntimeSkip,
} from '../../../../../test/support/process-runtime.ts';

/**
 * The process runtime through the official SDK: containers really run. Needs Linux and root (the
 * suite says why it is skipped elsewhere).
 */

const support = await processSupport();
const skip = processRuntimeSkip(support);
const exec = promisify(execFile);
const REGION = 'cn-hangzhou';

type ContainerInit = ConstructorParameters<typeof $Eci.CreateContainerGroupRequestContainer>[0];

let emu: RunningEmulator;
let eci: EciClient;
let admin: EmulatorAdminClient;
let stateDir: string;
let n = 0;

async function create(
  containers: ContainerInit[],
  over: Partial<$Eci.CreateContainerGroupRequest> = {},
): Promise<string> {
  const r = await eci.createContainerGroup(
    new $Eci.CreateContainerGroupRequest({
      regionId: REGION,
      containerGroupName: `proc-${++n}`,
      securityGroupId: 'sg-emulator',
      vSwitchId: 'vsw-emulator-h',
      terminationGracePeriodSeconds: 1,
      container: containers.map((c) => new $Eci.CreateContainerGroupRequestContainer(c)),
      ...over,
    }),
  );
  return r.body.containerGroupId!;
}

type Group = Awaited<ReturnType<EmulatorAdminClient['getContainerGroup']>>;

function waitGroup(id: string, what: string, ok: (g: Group) => boolean, timeoutMs = 60_000): Promise<Group> {
  return eventually(
    async () => {
      const g = await admin.getContainerGroup(id);
      return ok(g) ? g : undefined;
    },
    timeoutMs,
    `${id} ${what}`,
  );
}

async function logOf(id: string, container: string, over: Partial<$Eci.DescribeContainerLogRequest> = {}) {
  const r = await eci.describeContainerLog(
    new $Eci.DescribeContainerLogRequest({
      regionId: REGION,
      containerGroupId: id,
      containerName: container,
      ...over,
    }),
  );
  return r.body.content ?? '';
}

async function run(id: string, container: string, command: string[]): Promise<string> {
  const r = await eci.execContainerCommand(
    new $Eci.ExecContainerCommandRequest({
      regionId: REGION,
      containerGroupId: id,
      containerName: container,
      command: JSON.stringify(command),
      sync: true,
    }),
  );
  return r.body.syncResponse ?? '';
}

interface Session {
  frames: { channel: number; data: string }[];
  status: Record<string, unknown>;
}

/** One exec session over the WebSocket the API hands out; `drive` talks to it once it is open. */
async function session(
  id: string,
  container: string,
  command: string[],
  opts: {
    tty?: boolean;
    stdin?: boolean;
    drive?: (send: (ch: number, data: string) => void) => Promise<void> | void;
  } = {},
): Promise<Session> {
  const r = await eci.execContainerCommand(
    new $Eci.ExecContainerCommandRequest({
      regionId: REGION,
      containerGroupId: id,
      containerName: container,
      command: JSON.stringify(command),
      TTY: opts.tty ?? false,
      stdin: opts.stdin ?? false,
    }),
  );
  return new Promise<Session>((resolve, reject) => {
    const ws = new WebSocket(r.body.webSocketUri!, ['v5.channel.k8s.io']);
    ws.binaryType = 'arraybuffer';
    const frames: Session['frames'] = [];
    const send = (ch: number, data: string) => ws.send(Buffer.concat([Buffer.from([ch]), Buffer.from(data)]));
    ws.onopen = () => void opts.drive?.(send);
    ws.onmessage = (m) => {
      const b = Buffer.from(m.data as ArrayBuffer);
      frames.push({ channel: b[0]!, data: b.subarray(1).toString() });
    };
    ws.onerror = () => reject(new Error('exec websocket error'));
    ws.onclose = () => {
      const status = frames.find((f) => f.channel === 3);
      if (status === undefined) reject(new Error(`no status frame: ${JSON.stringify(frames)}`));
      else resolve({ frames, status: JSON.parse(status.data) as Record<string, unknown> });
    };
  });
}

const out = (s: Session, ch = 1) =>
  s.frames
    .filter((f) => f.channel === ch)
    .map((f) => f.data)
    .join('');

describe('the process runtime runs containers for real', { skip, timeout: 600_000 }, () => {
  let tarball: string;

  before(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'evn-proc-'));
    // A root filesystem given as a tarball, for an image the configuration adds: the busybox
    // image's binary and a shell link is enough.
    const img = path.join(stateDir, 'tool-rootfs');
    await mkdir(path.join(img, 'bin'), { recursive: true });
    tarball = path.join(stateDir, 'tool.tar.gz');
    emu = await startEmulator({
      port: 0,
      stateDir: path.join(stateDir, 'state'),
      runtime: 'process',
      logger: pino({ level: 'silent' }),
      config: {
        lifecycle: { restartBackoffMs: { initial: 200, max: 1000 } },
        process: {
          images: [
            {
              name: 'registry.example.com/team/tool',
              rootfs: tarball,
              cmd: ['sh', '-c', 'echo "from the tarball as $GREETING"'],
              env: { GREETING: 'configured' },
              workingDir: '/bin',
            },
          ],
        },
      },
    });
    eci = sdkClient(emu);
    admin = new EmulatorAdminClient(emu.url);
    const busybox = (emu.core.runtime.describe() as { imageCacheDir: string }).imageCacheDir;
    const { stdout } = await exec('sh', ['-c', `ls -d ${busybox}/busybox-*/rootfs | head -1`]);
    await cp(path.join(stdout.trim(), 'bin', 'busybox'), path.join(img, 'bin', 'busybox'));
    await exec('ln', ['-s', 'busybox', path.join(img, 'bin', 'sh')]);
    await exec('tar', ['-czf', tarball, '-C', img, '.']);
  });

  after(async () => {
    await emu?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('a Job runs a script no simulation could fake, and DescribeContainerLog returns exactly its lines', async () => {
    const id = await create(
      [
        {
          name: 'main',
          image: 'debian:bookworm',
          command: [
            'sh',
            '-c',
            'for i in 1 2 3; do echo line-$i; done; uname -n; cat /etc/os-release | head -1',
          ],
        },
      ],
      { restartPolicy: 'Never', containerGroupName: 'job-lines' },
    );
    const g = await waitGroup(id, 'Succeeded', (x) => x.status === 'Succeeded', 180_000);
    assert.equal(g.containers[0]?.exitCode, 0);
    const os = (await exec('sh', ['-c', 'head -1 /etc/os-release'])).stdout;
    assert.equal(await logOf(id, 'main'), `line-1\nline-2\nline-3\njob-lines\n${os}`);
    assert.equal(await logOf(id, 'main', { tail: 2 }), `job-lines\n${os}`);
    assert.match(
      await logOf(id, 'main', { tail: 1, timestamps: true }),
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z PRETTY_NAME=/,
    );
  });

  it('exit codes are real; a crashing container restarts with a rising count and LastTime serves the run before', async () => {
    const failed = await create([{ name: 'c', image: 'busybox', command: ['sh', '-c', 'exit 3'] }], {
      restartPolicy: 'Never',
    });
    const f = await waitGroup(failed, 'Failed', (x) => x.status === 'Failed');
    assert.deepEqual([f.containers[0]?.exitCode, f.containers[0]?.reason], [3, 'Error']);

    const crash = await create([
      { name: 'c', image: 'busybox', command: ['sh', '-c', 'echo "run $RANDOM$RANDOM"; exit 1'] },
    ]);
    // Restarted twice, and not in the instant between its back-off and its next start.
    const g = await waitGroup(
      crash,
      'restarted twice',
      (x) => (x.containers[0]?.restartCount ?? 0) >= 2 && x.containers[0]?.startTime !== undefined,
    );
    assert.equal(g.status, 'Running');
    assert.equal(g.containers[0]?.previous?.exitCode, 1);
    assert.ok(g.events.some((e) => e.reason === 'BackOff'));
    const previous = await logOf(crash, 'c', { lastTime: true });
    assert.match(previous, /^run \d+\n$/);
    assert.notEqual(previous, await logOf(crash, 'c'), 'the current run has a log of its own');
  });

  it('a failing liveness probe restarts the container; readiness follows its probe', async () => {
    const id = await create([
      {
        name: 'c',
        image: 'busybox',
        command: ['sh', '-c', 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600'],
        livenessProbe: new $Eci.CreateContainerGroupRequestContainerLivenessProbe({
          exec: new $Eci.CreateContainerGroupRequestContainerLivenessProbeExec({
            command: ['cat', '/tmp/healthy'],
          }),
          periodSeconds: 1,
          failureThreshold: 1,
        }),
        readinessProbe: new $Eci.CreateContainerGroupRequestContainerReadinessProbe({
          exec: new $Eci.CreateContainerGroupRequestContainerReadinessProbeExec({
            command: ['cat', '/tmp/healthy'],
          }),
          periodSeconds: 1,
        }),
      },
    ]);
    await waitGroup(id, 'ready', (x) => x.containers[0]?.ready === true);
    const g = await waitGroup(id, 'restarted by liveness', (x) => (x.containers[0]?.restartCount ?? 0) >= 1);
    assert.ok(g.events.some((e) => e.reason === 'Unhealthy' && /Liveness probe failed/.test(e.message)));
    assert.ok(g.events.some((e) => e.reason === 'Killing' && /failed liveness probe/.test(e.message)));
  });

  it('a container over its memory limit is OOMKilled with exit code 137', async (t) => {
    const cg = (emu.core.runtime.describe() as { cgroups: string; cgroupsMissing?: string }).cgroups;
    if (cg === 'none') {
      t.skip(
        `no writable cgroup here (${String((emu.core.runtime.describe() as { cgroupsMissing?: string }).cgroupsMissing)})`,
      );
      return;
    }
    const id = await create(
      [{ name: 'hog', image: 'busybox', command: ['tail', '/dev/zero'], memory: 0.0625 }],
      {
        restartPolicy: 'Never',
      },
    );
    const g = await waitGroup(id, 'Failed', (x) => x.status === 'Failed');
    assert.deepEqual([g.containers[0]?.exitCode, g.containers[0]?.reason], [137, 'OOMKilled']);
    assert.ok(g.events.some((e) => e.reason === 'OOMKilled'));
    const described = await eci.describeContainerGroups(
      new $Eci.DescribeContainerGroupsRequest({ regionId: REGION, containerGroupIds: JSON.stringify([id]) }),
    );
    const c = described.body.containerGroups?.[0]?.containers?.[0];
    assert.equal(c?.currentState?.reason, 'OOMKilled');
    assert.equal(c?.currentState?.exitCode, 137);
  });

  it('init containers run in order, then the app, sharing an emptyDir', async () => {
    const id = await create(
      [
        {
          name: 'app',
          image: 'busybox',
          command: ['sh', '-c', 'cat /work/order; sleep 3600'],
          volumeMount: [
            new $Eci.CreateContainerGroupRequestContainerVolumeMount({ name: 'work', mountPath: '/work' }),
          ],
        },
      ],
      {
        initContainer: ['first', 'second'].map(
          (name) =>
            new $Eci.CreateContainerGroupRequestInitContainer({
              name,
              image: 'busybox',
              command: ['sh', '-c', `echo ${name} >> /work/order`],
              volumeMount: [
                new $Eci.CreateContainerGroupRequestInitContainerVolumeMount({
                  name: 'work',
                  mountPath: '/work',
                }),
              ],
            }),
        ),
        volume: [
          new $Eci.CreateContainerGroupRequestVolume({
            name: 'work',
            type: 'EmptyDirVolume',
            emptyDirVolume: new $Eci.CreateContainerGroupRequestVolumeEmptyDirVolume({}),
          }),
        ],
      },
    );
    const g = await waitGroup(
      id,
      'Running',
      (x) => x.status === 'Running' && x.containers[0]?.state === 'Running',
    );
    assert.deepEqual(
      g.initContainers.map((c) => [c.state, c.exitCode]),
      [
        ['Terminated', 0],
        ['Terminated', 0],
      ],
    );
    await eventually(
      async () => ((await logOf(id, 'app')) === 'first\nsecond\n' ? true : undefined),
      10_000,
      'app log',
    );
  });

  it('volumes: configFile files with their modes, a memory emptyDir as tmpfs, NFS shared by groups, readOnly', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const volumes = [
      new $Eci.CreateContainerGroupRequestVolume({
        name: 'cfg',
        type: 'ConfigFileVolume',
        configFileVolume: new $Eci.CreateContainerGroupRequestVolumeConfigFileVolume({
          defaultMode: 0o644,
          configFileToPath: [
            new $Eci.CreateContainerGroupRequestVolumeConfigFileVolumeConfigFileToPath({
              path: 'app.conf',
              content: b64('listen 8080\n'),
            }),
            new $Eci.CreateContainerGroupRequestVolumeConfigFileVolumeConfigFileToPath({
              path: 'secret/password',
              content: b64('s3cr3t'),
              mode: 0o400,
            }),
          ],
        }),
      }),
      new $Eci.CreateContainerGroupRequestVolume({
        name: 'mem',
        type: 'EmptyDirVolume',
        emptyDirVolume: new $Eci.CreateContainerGroupRequestVolumeEmptyDirVolume({
          medium: 'Memory',
          sizeLimit: '16Mi',
        }),
      }),
      new $Eci.CreateContainerGroupRequestVolume({
        name: 'share',
        type: 'NFSVolume',
        NFSVolume: new $Eci.CreateContainerGroupRequestVolumeNFSVolume({
          server: 'nas.example.com',
          path: '/exports/share',
        }),
      }),
    ];
    const mounts = [
      new $Eci.CreateContainerGroupRequestContainerVolumeMount({ name: 'cfg', mountPath: '/etc/app' }),
      new $Eci.CreateContainerGroupRequestContainerVolumeMount({ name: 'mem', mountPath: '/cache' }),
      new $Eci.CreateContainerGroupRequestContainerVolumeMount({ name: 'share', mountPath: '/share' }),
      new $Eci.CreateContainerGroupRequestContainerVolumeMount({
        name: 'share',
        mountPath: '/share-ro',
        readOnly: true,
      }),
    ];
    const writer = await create(
      [{ name: 'c', image: 'busybox', command: ['sleep', '3600'], volumeMount: mounts }],
      { volume: volumes },
    );
    const reader = await create(
      [{ name: 'c', image: 'busybox', command: ['sleep', '3600'], volumeMount: mounts }],
      { volume: volumes },
    );
    for (const id of [writer, reader])
      await waitGroup(id, 'Running', (x) => x.containers[0]?.state === 'Running');
    assert.equal(await run(writer, 'c', ['cat', '/etc/app/app.conf']), 'listen 8080\n');
    assert.equal(
      await run(writer, 'c', ['stat', '-c', '%a', '/etc/app/app.conf', '/etc/app/secret/password']),
      '644\n400\n',
    );
    assert.match(
      await run(writer, 'c', ['grep', ' /cache ', '/proc/mounts']),
      /^tmpfs \/cache tmpfs .*size=16384k/,
    );
    await run(writer, 'c', ['sh', '-c', 'echo shared-by-nfs > /share/note']);
    assert.equal(await run(reader, 'c', ['cat', '/share-ro/note']), 'shared-by-nfs\n');
    assert.match(
      await run(reader, 'c', ['sh', '-c', 'touch /share-ro/x 2>&1 || echo refused']),
      /Read-only file system|refused/,
    );
    const nfsDir = path.join(stateDir, 'state', 'nfs', 'nas.example.com', 'exports', 'share');
    assert.equal(
      await readFile(path.join(nfsDir, 'note'), 'utf8'),
      'shared-by-nfs\n',
      'NFS maps to a directory under the state dir',
    );
  });

  it('command, args, env, workingDir and runAsUser as given; the hostname is the group name; no default route', async () => {
    const id = await create(
      [
        {
          name: 'c',
          image: 'busybox',
          command: ['sh', '-c'],
          arg: ['echo "$(id -u):$(id -g) $(pwd) $GREETING $(hostname)"; ip route; sleep 3600'],
          workingDir: '/srv/app',
          environmentVar: [
            new $Eci.CreateContainerGroupRequestContainerEnvironmentVar({ key: 'GREETING', value: 'hello' }),
            new $Eci.CreateContainerGroupRequestContainerEnvironmentVar({
              key: 'POD_IP',
              fieldRef: new $Eci.CreateContainerGroupRequestContainerEnvironmentVarFieldRef({
                fieldPath: 'status.podIP',
              }),
            }),
          ],
          securityContext: new $Eci.CreateContainerGroupRequestContainerSecurityContext({ runAsUser: 1000 }),
        },
      ],
      { containerGroupName: 'who-am-i' },
    );
    const g = await waitGroup(id, 'Running', (x) => x.containers[0]?.state === 'Running');
    const log = await eventually(async () => {
      const l = await logOf(id, 'c');
      return l.includes('\n') ? l : undefined;
    });
    const [first, ...routes] = log.trimEnd().split('\n');
    assert.equal(first, '1000:0 /srv/app hello who-am-i');
    assert.ok(routes.length > 0 && routes.every((r) => !r.startsWith('default')), routes.join('; '));
    assert.equal(await run(id, 'c', ['sh', '-c', 'echo $POD_IP']), `${g.ip}\n`);
    assert.equal(await run(id, 'c', ['id', '-u']), '1000\n', 'exec runs as the container user');
  });

  it('nginx answers on its IntranetIp from this machine and from another group', async () => {
    const web = await create([{ name: 'nginx', image: 'docker.io/library/nginx:1.27' }]);
    const client = await create([{ name: 'c', image: 'busybox', command: ['sleep', '3600'] }]);
    const g = await waitGroup(web, 'Running', (x) => x.containers[0]?.state === 'Running', 180_000);
    await waitGroup(client, 'Running', (x) => x.containers[0]?.state === 'Running');
    const page = await eventually(async () => {
      const res = await fetch(`http://${g.ip}/`).catch(() => undefined);
      return res?.ok === true ? res.text() : undefined;
    });
    assert.match(page, /<title>Welcome to nginx!<\/title>/);
    assert.match(await run(client, 'c', ['wget', '-qO-', `http://${g.ip}/`]), /Welcome to nginx!/);
    assert.match(await logOf(web, 'nginx'), /"GET \/ HTTP\/1.1" 200/);
  });

  it('exec: stdin, both streams and the exit code; a TTY with resize; several sessions at once', async () => {
    const id = await create([{ name: 'c', image: 'busybox', command: ['sleep', '3600'] }]);
    await waitGroup(id, 'Running', (x) => x.containers[0]?.state === 'Running');
    const s = await session(id, 'c', ['sh', '-c', 'read x; echo "got $x"; echo oops >&2; exit 4'], {
      stdin: true,
      drive: (send) => send(0, 'hello\n'),
    });
    assert.equal(out(s, 1), 'got hello\n');
    assert.equal(out(s, 2), 'oops\n');
    assert.equal(s.status.reason, 'NonZeroExitCode');
    assert.deepEqual((s.status.details as { causes: unknown[] }).causes, [
      { reason: 'ExitCode', message: '4' },
    ]);

    const tty = await session(id, 'c', ['sh', '-c', '[ -t 0 ] && echo is-a-tty; read x; stty size'], {
      tty: true,
      stdin: true,
      drive: async (send) => {
        send(4, JSON.stringify({ Width: 123, Height: 45 }));
        await new Promise((r) => setTimeout(r, 500));
        send(0, 'go\r');
      },
    });
    assert.match(out(tty), /is-a-tty/);
    assert.match(out(tty), /45 123/);
    assert.equal(tty.status.status, 'Success');

    const started = Date.now();
    const many = await Promise.all(
      [1, 2, 3].map((i) => session(id, 'c', ['sh', '-c', `sleep 1; echo session-${i}`])),
    );
    assert.deepEqual(
      many.map((m) => out(m)),
      ['session-1\n', 'session-2\n', 'session-3\n'],
    );
    assert.ok(Date.now() - started < 2900, 'the sessions ran side by side');
  });

  it('metrics come from the processes: a busy loop shows CPU, held to its limit', async () => {
    const id = await create([
      { name: 'spin', image: 'busybox', command: ['sh', '-c', 'while :; do :; done'], cpu: 0.25 },
    ]);
    await waitGroup(id, 'Running', (x) => x.containers[0]?.state === 'Running');
    const metric = async () => {
      const r = await eci.describeMultiContainerGroupMetric(
        new $Eci.DescribeMultiContainerGroupMetricRequest({
          regionId: REGION,
          containerGroupIds: JSON.stringify([id]),
        }),
      );
      return r.body.monitorDatas?.[0]?.records?.[0];
    };
    await metric();
    await new Promise((r) => setTimeout(r, 2000));
    const rec = await metric();
    const cores = (rec?.containers?.[0]?.CPU?.usageNanoCores ?? 0) / 1e9;
    assert.ok(cores > 0.1 && cores < 0.35, `a loop limited to 0.25 cores used ${cores}`);
    assert.ok((rec?.containers?.[0]?.memory?.usageBytes ?? 0) > 0);
    await eci.deleteContainerGroup(
      new $Eci.DeleteContainerGroupRequest({ regionId: REGION, containerGroupId: id }),
    );
  });

  it('an image it cannot provide fails the pull, saying how to add it; a configured tarball image runs', async () => {
    const missing = await create([{ name: 'c', image: 'quay.io/example/no-such-image:1' }]);
    const g = await waitGroup(
      missing,
      'ErrImagePull',
      (x) => x.containers[0]?.reason === 'ErrImagePull' || x.containers[0]?.reason === 'ImagePullBackOff',
    );
    assert.equal(g.status, 'Pending');
    const failed = g.events.find((e) => e.reason === 'Failed');
    assert.match(failed?.message ?? '', /Failed to pull image "quay\.io\/example\/no-such-image:1"/);
    assert.match(failed?.message ?? '', /process\.images/);

    const tool = await create([{ name: 'c', image: 'registry.example.com/team/tool:v1' }], {
      restartPolicy: 'Never',
    });
    await waitGroup(tool, 'Succeeded', (x) => x.status === 'Succeeded');
    assert.equal(await logOf(tool, 'c'), 'from the tarball as configured\n');
  });

  it('RestartContainerGroup runs the containers again; UpdateContainerGroup runs the new spec', async () => {
    const id = await create([
      { name: 'c', image: 'busybox', command: ['sh', '-c', 'echo first; sleep 3600'] },
    ]);
    await waitGroup(id, 'Running', (x) => x.containers[0]?.state === 'Running');
    const pid1 = async () => (await run(id, 'c', ['sh', '-c', 'cat /proc/1/stat | cut -d" " -f22'])).trim();
    const before = await pid1();
    await eci.restartContainerGroup(
      new $Eci.RestartContainerGroupRequest({ regionId: REGION, containerGroupId: id }),
    );
    const g = await waitGroup(
      id,
      'running again',
      (x) =>
        x.status === 'Running' && x.containers[0]?.state === 'Running' && x.containers[0].restartCount === 1,
    );
    assert.equal(g.containers[0]?.previous?.state, 'Terminated');
    assert.notEqual(await pid1(), before, 'a new PID 1 (another start time)');
    await eci.updateContainerGroup(
      new $Eci.UpdateContainerGroupRequest({
        regionId: REGION,
        containerGroupId: id,
        container: [
          new $Eci.UpdateContainerGroupRequestContainer({
            name: 'c',
            image: 'debian',
            command: ['sh', '-c', 'echo "second on $(head -1 /etc/os-release)"; sleep 3600'],
          }),
        ],
      }),
    );
    await waitGroup(
      id,
      'updated',
      (x) => x.status === 'Running' && x.containers[0]?.restartCount === 2,
      180_000,
    );
    await eventually(async () =>
      (await logOf(id, 'c')).startsWith('second on PRETTY_NAME') ? true : undefined,
    );
  });

  it('deleting a group leaves none of its processes, links, namespaces or cgroups behind', async () => {
    const id = await create([{ name: 'c', image: 'busybox', command: ['sleep', '3600'] }]);
    await waitGroup(id, 'Running', (x) => x.containers[0]?.state === 'Running');
    const d = emu.core.runtime.describe() as { instance: string; runtimeDir: string };
    const before: Leftovers = await leftovers(d.instance, d.runtimeDir, id);
    assert.ok(before.processes.length >= 2, `the group's processes run: ${JSON.stringify(before)}`);
    assert.equal(before.links.length, 1, 'its veth');
    await eci.deleteContainerGroup(
      new $Eci.DeleteContainerGroupRequest({ regionId: REGION, containerGroupId: id }),
    );
    await eventually(async () =>
      (await admin.listContainerGroups()).items.some((x) => x.id === id) ? undefined : true,
    );
    const left = await leftovers(d.instance, d.runtimeDir, id);
    assert.deepEqual(left, { processes: [], links: [], mounts: [], cgroups: [], namespaces: [] });
  });
});

describe('the process runtime after stop, kill -9 and restart', { skip, timeout: 600_000 }, () => {
  it('a stopped emulator leaves nothing; one killed with -9 cleans up at its next start and runs its groups again', async () => {
    const { EmulatorProcess } = await import('../../../../../test/support/process-runtime.ts');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'evn-proc-crash-'));
    const first = await EmulatorProcess.start(dir);
    try {
      const client = sdkClient(first.info);
      const a = new EmulatorAdminClient(first.info.url);
      const ids: string[] = [];
      for (const name of ['keep-1', 'keep-2']) {
        const r = await client.createContainerGroup(
          new $Eci.CreateContainerGroupRequest({
            regionId: REGION,
            containerGroupName: name,
            securityGroupId: 'sg-emulator',
            vSwitchId: 'vsw-emulator-h',
            terminationGracePeriodSeconds: 1,
            container: [
              new $Eci.CreateContainerGroupRequestContainer({
                name: 'c',
                image: 'busybox',
                command: ['sleep', '3600'],
              }),
            ],
          }),
        );
        ids.push(r.body.containerGroupId!);
      }
      for (const id of ids)
        await a.waitForContainerGroup(id, (g) => g.containers[0]?.state === 'Running', { timeoutMs: 60_000 });
      const state = (await a.state()) as unknown as { runtime: { instance: string; runtimeDir: string } };
      const { instance, runtimeDir } = state.runtime;
      const running = await leftovers(instance, runtimeDir);
      assert.equal(running.links.length, 3, 'the bridge and two veths');

      assert.ok(running.processes.length >= 4, 'two holders and two containers run');

      // kill -9: everything real is left behind, for the next start to remove (or for another
      // emulator starting on the machine meanwhile: what a dead emulator left is anyone's to remove).
      await first.kill('SIGKILL');

      const second = await EmulatorProcess.start(dir);
      try {
        const b = new EmulatorAdminClient(second.info.url);
        for (const id of ids) {
          const g = await b.waitForContainerGroup(
            id,
            (x) => x.containers[0]?.state === 'Running' && x.containers[0].restartCount === 1,
            { timeoutMs: 60_000 },
          );
          assert.ok(
            g.events.some((e) => e.reason === 'EmulatorRestarted'),
            'an event says why it restarted',
          );
        }
        const now = await leftovers(instance, runtimeDir);
        for (const pid of running.processes)
          assert.ok(!now.processes.includes(pid), `process ${pid} of the dead emulator is gone`);
        assert.equal(now.links.length, 3, "exactly the bridge and the two groups' veths again");
        assert.equal(
          now.namespaces.length,
          running.namespaces.length,
          'as many namespaces as before the crash',
        );
      } finally {
        await second.kill('SIGTERM');
      }
      assert.deepEqual(await leftovers(instance, runtimeDir), {
        processes: [],
        links: [],
        mounts: [],
        cgroups: [],
        namespaces: [],
      });
    } finally {
      await first.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
