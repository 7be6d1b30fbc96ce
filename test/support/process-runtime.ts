import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_ACCESS_KEY } from '../../src/emulator/config.ts';
import { vethName } from '../../src/emulator/engine/runtime/process/network.ts';

/** What the process runtime's tests look at on the machine: is anything of an emulator left? */

/**
 * Why the process runtime's tests skip here, or false when they run. Where they must run (CI sets
 * ECI_VN_REQUIRE_PROCESS_RUNTIME=1), a machine that cannot run them is an error, not a skip.
 */
export function processRuntimeSkip(support: { reason: string } | object): string | false {
  if (!('reason' in support)) return false;
  const reason = `the process runtime cannot run here: ${String(support.reason)}`;
  if (process.env.ECI_VN_REQUIRE_PROCESS_RUNTIME)
    throw new Error(`${reason} (ECI_VN_REQUIRE_PROCESS_RUNTIME is set)`);
  return reason;
}

const run = promisify(execFile);

export interface Leftovers {
  processes: number[];
  links: string[];
  mounts: string[];
  cgroups: string[];
  /** Namespaces (net, uts, ipc, mnt, pid) of those processes other than the machine's own. */
  namespaces: string[];
}

/**
 * Everything of emulator instance `instance` (or of one of its groups) on this machine: processes in
 * its cgroups, chrooted into or named after its runtime directory; its links; mounts under its runtime
 * directory; its cgroup directories; and the namespaces its processes hold.
 */
export async function leftovers(instance: string, runtimeDir: string, groupId?: string): Promise<Leftovers> {
  const marker = `eci-virtual-node-${instance}`;
  const processes: number[] = [];
  const namespaces = new Set<string>();
  const hostNs = new Map<string, string>();
  for (const ns of ['net', 'uts', 'ipc', 'mnt', 'pid'])
    hostNs.set(ns, await readlink(`/proc/1/ns/${ns}`).catch(() => ''));
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const pid = Number(p);
    if (pid === process.pid) continue;
    const cgroup = await readFile(`/proc/${p}/cgroup`, 'utf8').catch(() => '');
    const root = await readlink(`/proc/${p}/root`).catch(() => '');
    const cmdline = (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
    const ours =
      (cgroup.includes(marker) && (groupId === undefined || cgroup.includes(groupId))) ||
      (root.startsWith(runtimeDir) && (groupId === undefined || root.includes(groupId))) ||
      (cmdline.includes(runtimeDir) && (groupId === undefined || cmdline.includes(groupId)));
    if (!ours) continue;
    processes.push(pid);
    for (const [ns, host] of hostNs) {
      const l = await readlink(`/proc/${p}/ns/${ns}`).catch(() => host);
      if (l !== host) namespaces.add(l);
    }
  }
  const { stdout } = await run('ip', ['-j', 'link', 'show']);
  const links = (JSON.parse(stdout) as { ifname: string }[])
    .map((l) => l.ifname)
    .filter((n) =>
      groupId === undefined
        ? n === `evbr-${instance}` || n.startsWith(`ev${instance}-`)
        : n === vethName(instance, groupId),
    );
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .filter((l) => l.includes(runtimeDir) && (groupId === undefined || l.includes(groupId)));
  const found = await run('find', [
    '/sys/fs/cgroup',
    '-maxdepth',
    '6',
    '-type',
    'd',
    '-name',
    groupId ?? marker,
  ]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  const cgroups = found.stdout
    .split('\n')
    .filter((l) => l !== '' && (groupId === undefined || l.includes(marker)));
  return {
    processes: processes.sort((a, b) => a - b),
    links,
    mounts,
    cgroups,
    namespaces: [...namespaces].sort(),
  };
}

const BIN = fileURLToPath(new URL('../../bin/eci-virtual-node.js', import.meta.url));

/** `eci-virtual-node emulator --runtime process` as a child process, the way users run it. */
export class EmulatorProcess {
  readonly info: {
    url: string;
    endpoint: string;
    protocol: 'http' | 'https';
    regionId: string;
    accessKeyId: string;
    accessKeySecret: string;
  };
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess, info: EmulatorProcess['info']) {
    this.#child = child;
    this.info = info;
  }

  static async start(stateDir: string): Promise<EmulatorProcess> {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'emulator',
        '--runtime',
        'process',
        '--state-dir',
        stateDir,
        '--port',
        '0',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(out.slice(0, nl));
      });
      child.once('exit', (code) => reject(new Error(`the emulator exited (${code}): ${err}`)));
    });
    const info = JSON.parse(line) as Omit<EmulatorProcess['info'], 'accessKeySecret'>;
    return new EmulatorProcess(child, { ...info, accessKeySecret: DEFAULT_ACCESS_KEY.secret });
  }

  /** Sends `signal` and waits for the process to end. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((r) => this.#child.once('exit', r));
    this.#child.kill(signal);
    await exited;
  }
}
