import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RegionConfig } from '../../../config.ts';
import type { GroupRecord, VolumeSpec } from '../../model.ts';
import type { Cgroups } from './cgroups.ts';
import { type HostTools, identify, type ProcessId, processTree, signal } from './host.ts';
import { writeJson } from './instance.ts';
import type { BridgeNetwork } from './network.ts';
import { JOIN, PAUSE } from './scripts.ts';

/**
 * A container group's sandbox: what its containers share, like a pod's. A holder process keeps the
 * group's network, UTS (hostname = the group's name) and IPC namespaces, and a mount namespace with
 * the group's /dev and memory-backed emptyDirs; its eth0 is on the emulator's bridge with the group's
 * IP. Each container's stdout and stderr are FIFOs the holder made (`<group dir>/fifo/`). On
 * disk, the group directory holds /etc/hosts, /etc/hostname, /etc/resolv.conf and the volumes:
 * emptyDir (a directory; `Memory` medium a tmpfs of its size limit), configFile volumes (their files
 * with their modes) and NFS volumes, which are directories under the NFS directory
 * (`<state dir>/nfs/<server>/<path>`), shared by every group that mounts the same export.
 */

export interface RuntimeContext {
  tools: HostTools;
  /** The static busybox the setup scripts run on. */
  busybox: string;
  runtimeDir: string;
  nfsDir: string;
  cgroups: Cgroups;
  network: BridgeNetwork;
  region: RegionConfig;
}

export interface VolumeSource {
  path: string;
  readOnly: boolean;
}

export interface Sandbox {
  groupId: string;
  dir: string;
  holder: ProcessId;
  hostname: string;
  ip: string;
  volumes: Map<string, VolumeSource>;
  /** /etc files every container of the group mounts. */
  files: { source: string; target: string }[];
}

export function groupDir(ctx: RuntimeContext, groupId: string): string {
  return path.join(ctx.runtimeDir, 'groups', groupId);
}

/** Kubernetes quantities (`64Mi`, `1G`, `500000`) in bytes; undefined when not one. */
export function parseQuantity(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/.exec(text.trim());
  if (m === null) return undefined;
  const unit: Record<string, number> = {
    '': 1,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Math.round(Number(m[1]) * unit[m[2] ?? '']!);
}

/** The kernel's hostname limit is 64 bytes. */
export function hostnameOf(g: GroupRecord): string {
  return (g.spec.hostName ?? g.name).slice(0, 63);
}

function safeJoin(base: string, rel: string): string {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  return path.join(base, ...parts);
}

function etcFiles(g: GroupRecord, hostname: string): Record<string, string> {
  const hosts = [
    '# Kubernetes-managed hosts file (written by the ECI emulator).',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `${g.ip}\t${hostname}`,
    ...g.spec.hostAliases.map((h) => `${h.ip}\t${h.hostnames.join('\t')}`),
  ];
  const dns = g.spec.dnsConfig;
  const resolv =
    dns === undefined || dns.nameServers.length === 0
      ? ['# The ECI emulator gives pods no name server: no route leaves this machine.']
      : [
          ...dns.nameServers.map((n) => `nameserver ${n}`),
          ...(dns.searches.length > 0 ? [`search ${dns.searches.join(' ')}`] : []),
          ...(dns.options.length > 0
            ? [
                `options ${dns.options.map((o) => (o.value === undefined ? o.name : `${o.name}:${o.value}`)).join(' ')}`,
              ]
            : []),
        ];
  return {
    hosts: `${hosts.join('\n')}\n`,
    hostname: `${hostname}\n`,
    'resolv.conf': `${resolv.join('\n')}\n`,
  };
}

async function prepareVolume(
  ctx: RuntimeContext,
  dir: string,
  v: VolumeSpec,
  tmpfs: string[],
  groupMemoryGiB: number,
): Promise<VolumeSource> {
  if (v.nfs !== undefined) {
    const p = safeJoin(path.join(ctx.nfsDir, v.nfs.server ?? 'nfs'), v.nfs.path ?? '/');
    await mkdir(p, { recursive: true });
    return { path: p, readOnly: v.nfs.readOnly === true };
  }
  const p = path.join(dir, 'volumes', v.name);
  await rm(p, { recursive: true, force: true });
  await mkdir(p, { recursive: true });
  if (v.configFiles !== undefined) {
    for (const f of v.configFiles) {
      if (f.path === undefined) continue;
      const file = safeJoin(p, f.path);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, Buffer.from(f.content ?? '', 'base64'));
      await chmod(file, f.mode ?? v.configDefaultMode ?? 0o644);
    }
    await chmod(p, 0o755);
    return { path: p, readOnly: true };
  }
  await chmod(p, 0o777);
  if (v.emptyDir?.medium?.toLowerCase() === 'memory') {
    const size = parseQuantity(v.emptyDir.sizeLimit) ?? Math.round(groupMemoryGiB * 1024 ** 3);
    tmpfs.push(p, String(Math.max(4096, size)));
  }
  return { path: p, readOnly: false };
}

/** Waits for the holder to say `word` on stdout. */
function waitFor(child: ChildProcess, word: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
    };
    const onOut = (d: Buffer) => {
      out += d.toString();
      if (out.includes(`${word}\n`)) {
        cleanup();
        resolve();
      }
    };
    const onErr = (d: Buffer) => (err += d.toString());
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`the sandbox holder exited (${code}): ${err.trim()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`the sandbox holder did not say "${word}" in time: ${err.trim()}`));
    }, timeoutMs);
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}

export async function createSandbox(ctx: RuntimeContext, g: GroupRecord): Promise<Sandbox> {
  const dir = groupDir(ctx, g.id);
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.join(dir, 'etc'), { recursive: true });
  await mkdir(path.join(dir, 'containers'), { recursive: true });
  const hostname = hostnameOf(g);
  const files: Sandbox['files'] = [];
  for (const [name, text] of Object.entries(etcFiles(g, hostname))) {
    await writeFile(path.join(dir, 'etc', name), text);
    files.push({ source: path.join(dir, 'etc', name), target: `/etc/${name}` });
  }
  const tmpfs: string[] = [];
  const volumes = new Map<string, VolumeSource>();
  for (const v of g.spec.volumes) volumes.set(v.name, await prepareVolume(ctx, dir, v, tmpfs, g.spec.memory));

  await ctx.cgroups.create(g.id, { cpu: g.spec.cpu, memory: g.spec.memory });
  const procs = await ctx.cgroups.create(`${g.id}/sandbox`, {});
  const names = [...g.spec.initContainers, ...g.spec.containers].map((c) => c.name);
  const child = spawn(
    ctx.busybox,
    [
      'sh',
      '-c',
      JOIN,
      'join',
      ...procs,
      '--',
      ctx.tools.unshare,
      '--net',
      '--uts',
      '--ipc',
      '--mount',
      '--propagation',
      'private',
      '--',
      ctx.busybox,
      'sh',
      '-c',
      PAUSE,
      'pause',
      hostname,
      dir,
      ...names,
      '--',
      ...tmpfs,
    ],
    {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      cwd: '/',
    },
  );
  child.unref();
  child.on('error', () => undefined);
  child.stdin?.on('error', () => undefined);
  const pid = child.pid;
  try {
    if (pid === undefined) throw new Error('the sandbox holder could not be started');
    await waitFor(child, 'ready', 15_000);
    const holder = (await identify(pid)) ?? { pid, start: 0 };
    await writeJson(path.join(dir, 'sandbox.pid.json'), holder);
    const vsw = ctx.region.vSwitches.find((v) => v.id === g.vSwitchId);
    const vpc = ctx.region.vpcs.find((v) => v.id === g.vpcId);
    if (vsw === undefined) throw new Error(`vSwitch ${g.vSwitchId} is not in the emulator's region`);
    const address = await ctx.network.plug({
      groupId: g.id,
      pid,
      ip: g.ip,
      vSwitchCidr: vsw.cidr,
      vpcCidr: vpc?.cidr ?? vsw.cidr,
    });
    child.stdin?.end(`${address}\n`);
    await waitFor(child, 'up', 15_000);
    child.stdout?.destroy();
    child.stderr?.destroy();
    return { groupId: g.id, dir, holder, hostname, ip: g.ip, volumes, files };
  } catch (err) {
    if (pid !== undefined) signal(pid, 'SIGKILL');
    await ctx.network.detach(g.id);
    throw err;
  }
}

/** Ends the holder (its namespaces, tmpfs mounts and veth go with it) and removes the group's files. */
export async function destroySandbox(
  ctx: RuntimeContext,
  groupId: string,
  holder: ProcessId | undefined,
): Promise<void> {
  if (holder !== undefined)
    for (const pid of (await processTree(holder.pid)).reverse()) signal(pid, 'SIGKILL');
  await ctx.network.detach(groupId);
  for (let i = 0; i < 50 && (await ctx.cgroups.pids(groupId)).length > 0; i++) {
    for (const pid of await ctx.cgroups.pids(groupId)) signal(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 50));
  }
  await ctx.cgroups.remove(groupId).catch(() => undefined);
  await rm(groupDir(ctx, groupId), { recursive: true, force: true });
}
