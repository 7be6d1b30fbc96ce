import { execFile } from 'node:child_process';
import { access, constants, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The host programs the process runtime drives, found once by absolute path. Absolute paths matter:
 * the container setup runs under a static busybox whose shell prefers its own applets, and busybox's
 * unshare/nsenter lack the options used here (util-linux's --root, --wd, --setuid, --kill-child).
 *
 * Namespaces, mounts and links are made by util-linux (unshare, nsenter, script) and iproute2 (ip)
 * rather than by native bindings: both are on every Debian base, a Node addon would need a compiler,
 * and each step stays a command a person can run by hand to see what the emulator did.
 */

export const HOST_TOOLS = {
  unshare: 'util-linux',
  nsenter: 'util-linux',
  script: 'bsdutils',
  ip: 'iproute2',
  stty: 'coreutils',
  tar: 'tar',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
} as const;

export type HostTool = keyof typeof HOST_TOOLS;
export type HostTools = Record<HostTool, string>;

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

async function which(name: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/')), ...SEARCH];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Every host tool by absolute path, or the list of what is missing (with its Debian package). */
export async function findHostTools(): Promise<{ tools: HostTools } | { missing: string[] }> {
  const found: Partial<HostTools> = {};
  const missing: string[] = [];
  for (const [name, pkg] of Object.entries(HOST_TOOLS) as [HostTool, string][]) {
    const p = await which(name);
    if (p === undefined) missing.push(`${name} (Debian package ${pkg})`);
    else found[name] = p;
  }
  return missing.length > 0 ? { missing } : { tools: found as HostTools };
}

export class CommandError extends Error {
  readonly code: number | null;
  readonly stderr: string;
  constructor(message: string, code: number | null, stderr: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'CommandError';
    this.code = code;
    this.stderr = stderr;
  }
}

/**
 * Runs a host command to completion. The error names the command and carries its stderr, so a failed
 * step says what it was ("ip link add ...: RTNETLINK answers: File exists").
 */
export function run(
  file: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        if (err === null) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: unknown };
        const code = typeof e.code === 'number' ? e.code : null;
        const what = `${path.basename(file)} ${args.join(' ')}`.slice(0, 300);
        reject(new CommandError(`${what}: ${stderr.trim() || e.message}`, code, stderr, err));
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Process start time (clock ticks since boot) from /proc/<pid>/stat; undefined when it is gone. */
export async function processStartTime(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** A process we started, identified so that a reused PID is never mistaken for it. */
export interface ProcessId {
  pid: number;
  start: number;
}

export async function identify(pid: number): Promise<ProcessId | undefined> {
  const start = await processStartTime(pid);
  return start === undefined ? undefined : { pid, start };
}

export async function isAlive(p: ProcessId): Promise<boolean> {
  return (await processStartTime(p.pid)) === p.start;
}

/** The direct children of a process. */
export async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  try {
    for (const tid of await readdir(`/proc/${pid}/task`)) {
      const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const c of text.trim().split(/\s+/)) if (c !== '') out.push(Number(c));
    }
  } catch {
    // gone
  }
  return out;
}

/** A process and all its descendants, parents first. */
export async function processTree(pid: number): Promise<number[]> {
  const out = [pid];
  for (let i = 0; i < out.length && out.length < 10_000; i++) out.push(...(await childrenOf(out[i]!)));
  return out;
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Quotes words for a POSIX shell command line (script -c takes one string). */
export function shellQuote(words: readonly string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}
