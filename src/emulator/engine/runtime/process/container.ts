import { type ChildProcess, spawn } from 'node:child_process';
import { close, constants, open } from 'node:fs';
import { mkdir, readdir, readlink, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { ContainerSpec, GroupRecord } from '../../model.ts';
import type { ExecHandle, ExecRequest } from '../types.ts';
import { childrenOf, identify, processTree, run, shellQuote, signal } from './host.ts';
import type { Image } from './images/store.ts';
import { passwdEntry } from './images/catalogue.ts';
import { writeJson } from './instance.ts';
import { LogWriter } from './logs.ts';
import { groupDir, type RuntimeContext, type Sandbox } from './sandbox.ts';
import { JOIN } from './scripts.ts';

/**
 * One run of one container: a process chain that joins the container's cgroup and the group's
 * namespaces, makes the container's own mount and PID namespaces, and executes the entrypoint as PID 1
 * (see scripts.ts). Its stdout and stderr go to the run's log file, line by line, stamped. Exec sessions
 * and exec probes enter the same namespaces with util-linux nsenter, as the container's user.
 */

export interface Identity {
  uid: number;
  gid: number;
  workingDir: string;
  env: Record<string, string>;
}

export interface ExitInfo {
  exitCode: number;
  signal?: number;
}

export interface Run {
  container: string;
  init: boolean;
  /** The record's startTime for this run (identifies it against the record). */
  startTime: number;
  child: ChildProcess;
  /** PID of the chain's last step (util-linux unshare), whose child is the entrypoint. */
  pid: number;
  identity: Identity;
  cgroup: string;
  cgroupProcs: string[];
  oomBefore: number;
  logFile: string;
  exited: Promise<ExitInfo>;
  done: boolean;
  /** PID 1 of the container (host PID), once known. */
  entry?: number;
  /** Set when the runtime stops the run on purpose (its exit is not news to the record). */
  stopping: boolean;
  /** Its end has been told to the record (or needs not be). */
  reported: boolean;
  /** The admin API ended the run: report this instead of what the process says. */
  override?: { exitCode: number; reason?: string; message?: string };
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGTERM: 15,
  SIGSEGV: 11,
};

const UNSHARE_SIGKILL = 'unshare: sigprocmask unblock failed: Invalid argument';

export function exitCodeOf(code: number | null, sig: NodeJS.Signals | null): ExitInfo {
  if (code !== null) return { exitCode: code };
  const n = sig === null ? 0 : (SIGNALS[sig] ?? 0);
  return { exitCode: 128 + n, signal: n };
}

/**
 * The argv of a run, as Docker and the kubelet compose it: Command replaces the image's ENTRYPOINT
 * (and drops its CMD); Args replace CMD.
 */
export function commandLine(spec: Pick<ContainerSpec, 'command' | 'args'>, image: Image): string[] {
  if (spec.command.length > 0) return [...spec.command, ...spec.args];
  return [...image.config.entrypoint, ...(spec.args.length > 0 ? spec.args : image.config.cmd)];
}

/** Environment: the image's, then the container's (ECI EnvironmentVars), then what the kubelet adds. */
export async function identityOf(
  g: GroupRecord,
  spec: ContainerSpec,
  image: Image,
  hostname: string,
): Promise<Identity> {
  const env: Record<string, string> = {};
  for (const kv of image.config.env) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  for (const e of spec.env) {
    if (e.value !== undefined) env[e.key] = e.value;
    else if (e.fieldPath === 'status.podIP') env[e.key] = g.ip;
    else if (e.fieldPath === 'metadata.name') env[e.key] = g.name;
    else env[e.key] = '';
  }
  env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  env.HOSTNAME ??= hostname;
  const uid = spec.securityContext?.runAsUser ?? image.config.user ?? 0;
  const pw = await passwdEntry(image.rootfs, uid);
  env.HOME ??= pw?.home ?? (uid === 0 ? '/root' : '/');
  return {
    uid,
    gid: uid === 0 ? 0 : (pw?.gid ?? 0),
    workingDir: spec.workingDir || image.config.workingDir || '/',
    env,
  };
}

function containerDir(ctx: RuntimeContext, groupId: string, name: string): string {
  return path.join(groupDir(ctx, groupId), 'containers', name);
}

function logDir(ctx: RuntimeContext, groupId: string, name: string): string {
  return path.join(ctx.runtimeDir, 'logs', groupId, name);
}

export function logFileOf(ctx: RuntimeContext, groupId: string, name: string, startTime: number): string {
  return path.join(logDir(ctx, groupId, name), `${startTime}.log`);
}

/** Keeps the log files of the newest two runs (current and previous). */
async function pruneLogs(dir: string): Promise<void> {
  const runs = (await readdir(dir).catch(() => [] as string[]))
    .map((f) => /^(\d+)\.log/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  const keep = new Set([...new Set(runs)].sort((a, b) => b - a).slice(0, 2));
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const m = /^(\d+)\.log/.exec(f);
    if (m !== null && !keep.has(Number(m[1]))) await rm(path.join(dir, f), { force: true });
  }
}

export async function startRun(
  ctx: RuntimeContext,
  o: {
    g: GroupRecord;
    spec: ContainerSpec;
    init: boolean;
    image: Image;
    sandbox: Sandbox;
    startTime: number;
    logMaxBytes: number;
    now: () => number;
  },
): Promise<Run> {
  const { g, spec, image, sandbox } = o;
  const argv = commandLine(spec, image);
  if (argv.length === 0)
    throw new Error(
      `container ${spec.name}: no command: the image has no entrypoint and the container no Command`,
    );
  const identity = await identityOf(g, spec, image, sandbox.hostname);
  const dir = containerDir(ctx, g.id, spec.name);
  // A fresh writable layer per run, as a restarted container gets.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const mounts: string[] = [];
  for (const f of sandbox.files) mounts.push(f.source, f.target, '0');
  for (const m of spec.volumeMounts) {
    const v = m.name === undefined ? undefined : sandbox.volumes.get(m.name);
    if (v === undefined || m.mountPath === undefined) continue;
    let source = v.path;
    if (m.subPath !== undefined && m.subPath !== '') {
      source = path.join(v.path, ...m.subPath.split('/').filter((p) => p !== '' && p !== '..'));
      await mkdir(source, { recursive: true }).catch(() => undefined);
    }
    mounts.push(source, m.mountPath, m.readOnly === true || v.readOnly ? '1' : '0');
  }
  const cgroup = `${g.id}/${spec.name}`;
  const cgroupProcs = await ctx.cgroups.create(cgroup, { cpu: spec.cpu, memory: spec.memory });
  const oomBefore = await ctx.cgroups.oomKills(cgroup);
  const logFile = logFileOf(ctx, g.id, spec.name, o.startTime);
  await mkdir(path.dirname(logFile), { recursive: true });
  await pruneLogs(path.dirname(logFile));
  const initScript = path.join(ctx.runtimeDir, 'bin', 'container-init.sh');
  const streams = await fifoStreams(ctx, g.id, spec.name);
  const stdin = spec.stdin === true ? await stdinFifo(ctx, dir) : undefined;
  const child = spawn(
    ctx.busybox,
    [
      'sh',
      '-c',
      JOIN,
      'join',
      ...cgroupProcs,
      '--',
      ctx.tools.nsenter,
      `--target=${sandbox.holder.pid}`,
      '--net',
      '--uts',
      '--ipc',
      '--mount',
      '--',
      // busybox's unshare: a mount namespace is all it takes, and a static binary starts faster.
      ctx.busybox,
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      ctx.busybox,
      'sh',
      initScript,
      image.rootfs,
      dir,
      path.join(groupDir(ctx, g.id), 'dev'),
      identity.workingDir,
      identity.uid === 0 ? '' : String(identity.uid),
      String(identity.gid),
      spec.securityContext?.readOnlyRootFilesystem === true ? '1' : '0',
      ctx.tools.unshare,
      ...mounts,
      '--',
      ...argv,
    ],
    {
      detached: true,
      stdio: [stdin ?? 'ignore', streams.stdout.write, streams.stderr.write],
      env: identity.env,
      cwd: '/',
    },
  );
  // The child has its copies of the write ends; with ours closed, the readers end when it (and every
  // process it started) is gone.
  close(streams.stdout.write, () => undefined);
  close(streams.stderr.write, () => undefined);
  if (stdin !== undefined) close(stdin, () => undefined);
  let sigkilled = false;
  const writer = new LogWriter(logFile, {
    maxBytes: o.logMaxBytes,
    now: o.now,
    // util-linux 2.38 unshare cannot pass on its child's SIGKILL (it may not reset SIGKILL's
    // handler): it says so on stderr and exits 1. That line is the runtime's, not the container's.
    keep: (stream, line) => {
      if (stream === 'stderr' && line === UNSHARE_SIGKILL) {
        sigkilled = true;
        return false;
      }
      return true;
    },
  });
  const read = (fd: number, name: 'stdout' | 'stderr') =>
    new Promise<void>((resolve) => {
      const sock = new net.Socket({ fd, readable: true, writable: false });
      sock.on('data', (d: Buffer) => writer.write(name, d));
      sock.once('close', () => resolve());
      sock.once('error', () => resolve());
    });
  const drained = Promise.all([read(streams.stdout.read, 'stdout'), read(streams.stderr.read, 'stderr')]);
  const exited = new Promise<ExitInfo>((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
      writer.write(
        'stderr',
        Buffer.from(`eci-emulator: cannot start container ${spec.name}: ${err.message}\n`),
      );
    });
    child.once('exit', (code, sig) => {
      // Output still in the pipes is read before the exit is told.
      const timeout = new Promise((r) => setTimeout(r, 2000).unref());
      void Promise.race([drained, timeout])
        .then(() => writer.close())
        .then(() =>
          resolve(
            spawnError !== undefined
              ? { exitCode: 128 }
              : sigkilled && code === 1
                ? { exitCode: 137, signal: 9 }
                : exitCodeOf(code, sig),
          ),
        );
    });
  });
  const pid = child.pid ?? -1;
  if (pid > 0) {
    const id = (await identify(pid)) ?? { pid, start: 0 };
    await writeJson(path.join(groupDir(ctx, g.id), `run-${spec.name}.pid.json`), id).catch(() => undefined);
  }
  const runRec: Run = {
    container: spec.name,
    init: o.init,
    startTime: o.startTime,
    child,
    pid,
    identity,
    cgroup,
    cgroupProcs,
    oomBefore,
    logFile,
    exited,
    done: false,
    stopping: false,
    reported: false,
  };
  void exited.then(() => (runRec.done = true));
  // Started means running its entrypoint: the setup (mounts) is done, exec can enter it.
  await waitEntry(runRec, 15_000);
  return runRec;
}

function openFd(file: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => open(file, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
}

/**
 * The container's stdout and stderr: the FIFOs its sandbox made, not the socket pairs Node gives a
 * child. Programs open /dev/stdout (nginx logs to /var/log/nginx/*.log → /dev/stdout), which works on
 * a pipe and fails on a socket (ENXIO), as under any container runtime. The read end is opened
 * non-blocking first, so the write end opens at once; every run of the container reuses them.
 */
async function fifoStreams(
  ctx: RuntimeContext,
  groupId: string,
  name: string,
): Promise<{ stdout: { read: number; write: number }; stderr: { read: number; write: number } }> {
  const pair = async (f: string) => {
    const read = await openFd(f, constants.O_RDONLY | constants.O_NONBLOCK);
    const write = await openFd(f, constants.O_WRONLY);
    return { read, write };
  };
  const base = path.join(groupDir(ctx, groupId), 'fifo', name);
  return { stdout: await pair(`${base}.out`), stderr: await pair(`${base}.err`) };
}

/**
 * A container asked for `stdin: true` reads a FIFO, opened read-write so it never sees end-of-file
 * while it runs; whoever opens /proc/1/fd/0 for writing (an attach, by exec) feeds its stdin.
 */
async function stdinFifo(ctx: RuntimeContext, dir: string): Promise<number> {
  const f = path.join(dir, 'stdin.fifo');
  await run(ctx.busybox, ['mkfifo', '-m', '0600', f]);
  return openFd(f, constants.O_RDWR);
}

/**
 * The entrypoint's host PID: the chain's only child in a new PID namespace (while the setup script
 * runs, the chain's children are its mount steps).
 */
export async function entryPid(r: Run): Promise<number | undefined> {
  if (r.done || r.pid <= 0) return undefined;
  if (r.entry !== undefined) return r.entry;
  const own = await readlink(`/proc/${r.pid}/ns/pid`).catch(() => undefined);
  if (own === undefined) return undefined;
  for (const c of await childrenOf(r.pid)) {
    const ns = await readlink(`/proc/${c}/ns/pid`).catch(() => undefined);
    if (ns !== undefined && ns !== own) {
      r.entry = c;
      return c;
    }
  }
  return undefined;
}

/** Waits until the container's PID 1 runs (its setup is done); undefined if the chain ended first. */
export async function waitEntry(r: Run, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 10)) {
    const pid = await entryPid(r);
    if (pid !== undefined || r.done || Date.now() > deadline) return pid;
    await new Promise((res) => setTimeout(res, delay));
  }
}

/**
 * Stops a run: SIGTERM to its PID 1, then SIGKILL to everything after `graceMs`. Killing PID 1 of a
 * PID namespace ends every process in it (exec sessions included).
 */
export async function stopRun(r: Run, graceMs: number): Promise<ExitInfo> {
  if (!r.done) {
    const pid1 = await entryPid(r);
    if (pid1 !== undefined && graceMs > 0) {
      signal(pid1, 'SIGTERM');
      const timer = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), graceMs).unref(),
      );
      if ((await Promise.race([r.exited.then(() => 'done' as const), timer])) === 'done') return r.exited;
    }
    for (const pid of (await processTree(r.pid)).reverse()) signal(pid, 'SIGKILL');
  }
  return r.exited;
}

/** Spawns a command in a running container's namespaces (exec sessions, exec probes, Sync exec). */
export function spawnExec(ctx: RuntimeContext, r: Run, pid1: number, req: ExecRequest): ChildProcess {
  const enter = [
    ctx.busybox,
    'sh',
    '-c',
    JOIN,
    'join',
    ...r.cgroupProcs,
    '--',
    ctx.tools.nsenter,
    `--target=${pid1}`,
    '--mount',
    '--pid',
    '--net',
    '--uts',
    '--ipc',
    '--root',
    '--wd',
    ...(r.identity.uid === 0 ? [] : [`--setuid=${r.identity.uid}`, `--setgid=${r.identity.gid}`]),
    '--',
    ...req.command,
  ];
  const childEnv = { ...r.identity.env };
  if (req.tty) {
    childEnv.TERM ??= 'xterm';
    // util-linux script gives the command a real pseudo-terminal and relays it (-e: its exit code).
    return spawn(ctx.tools.script, ['-q', '-e', '-c', shellQuote(enter), '/dev/null'], {
      stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: childEnv,
      cwd: '/',
      detached: true,
    });
  }
  return spawn(enter[0]!, enter.slice(1), {
    stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: childEnv,
    cwd: '/',
    detached: true,
  });
}

async function killTree(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  for (const p of (await processTree(pid)).reverse()) signal(p, 'SIGKILL');
}

/** An exec session as the ExecServer wants it. */
export function execHandle(ctx: RuntimeContext, r: Run, req: ExecRequest): ExecHandle {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = req.stdin ? new PassThrough() : undefined;
  let child: ChildProcess | undefined;
  let killed = false;
  let size: { w: number; h: number } | undefined;
  const resize = async () => {
    if (child?.pid === undefined || size === undefined || !req.tty) return;
    // The terminal is script's: find the pseudo-terminal its child holds, and size it (SIGWINCH follows).
    for (let i = 0; i < 20; i++) {
      const kid = (await childrenOf(child.pid))[0];
      const tty = kid === undefined ? undefined : await readlink(`/proc/${kid}/fd/0`).catch(() => undefined);
      if (tty?.startsWith('/dev/pts/') === true) {
        await run(ctx.tools.stty, ['-F', tty, 'rows', String(size.h), 'cols', String(size.w)]).catch(
          () => undefined,
        );
        return;
      }
      await new Promise((res) => setTimeout(res, 25));
    }
  };
  const exitCode = (async () => {
    const pid1 = await entryPid(r);
    if (pid1 === undefined || killed) {
      stdout.end();
      stderr.end();
      throw new Error(`container ${r.container} is not running`);
    }
    const c = spawnExec(ctx, r, pid1, req);
    child = c;
    c.stdout?.pipe(stdout);
    c.stderr?.pipe(stderr);
    if (stdin !== undefined && c.stdin) stdin.pipe(c.stdin);
    c.stdin?.on('error', () => undefined);
    void resize();
    return new Promise<number>((resolve) => {
      c.once('error', (err) => {
        stderr.write(`${err.message}\n`);
        resolve(126);
      });
      c.once('close', (code, sig) => resolve(exitCodeOf(code, sig).exitCode));
    });
  })();
  return {
    stdout: stdout as Readable,
    stderr: stderr as Readable,
    stdin,
    resize(w, h) {
      size = { w, h };
      void resize();
    },
    exitCode,
    kill() {
      killed = true;
      void killTree(child?.pid);
    },
  };
}

/** Runs a command in the container to completion: exit code and (bounded) stdout. */
export async function execToEnd(
  ctx: RuntimeContext,
  r: Run,
  command: string[],
  timeoutMs: number,
): Promise<{ exitCode: number; stdout: string }> {
  const pid1 = await entryPid(r);
  if (pid1 === undefined) throw new Error(`container ${r.container} is not running`);
  const c = spawnExec(ctx, r, pid1, { command, tty: false, stdin: false });
  let out = '';
  c.stdout?.on('data', (d: Buffer) => {
    if (out.length < 1024 * 1024) out += d.toString('utf8');
  });
  c.stderr?.resume();
  const timer = setTimeout(() => void killTree(c.pid), timeoutMs);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      c.once('error', reject);
      c.once('close', (code, sig) => resolve(exitCodeOf(code, sig).exitCode));
    });
    return { exitCode: code, stdout: out };
  } finally {
    clearTimeout(timer);
  }
}
