// Detached background processes tracked by PID files. Linux only: liveness and ownership are read from
// /proc, which is what lets `down` prove a PID is still the process we started before signalling it.
import { spawn } from 'node:child_process';
import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, ProductError } from '../../src/util/errors.ts';
import { writeFileAtomic } from './fs.ts';

export interface ProcessSpec<N extends string = string> {
  name: N;
  /** Absolute path: it is what `/proc/<pid>/cmdline` must show for the PID to count as ours. */
  binary: string;
  args: readonly string[];
  cwd: string;
  logFile: string;
  pidFile: string;
}

export interface StartedProcess<N extends string = string> {
  name: N;
  pid: number;
  logFile: string;
  /** Where this run's output starts in the (appended) log file. */
  logOffset: number;
}

/**
 * Starts `spec` in its own session with stdout and stderr appended to its log file, so that it keeps
 * running after the CLI exits and a Ctrl-C in the CLI's terminal does not reach it.
 */
export async function startDetached<N extends string>(spec: ProcessSpec<N>): Promise<StartedProcess<N>> {
  const log = await open(spec.logFile, 'a', 0o600);
  try {
    await log.write(`\n==== ${new Date().toISOString()} starting ${spec.name}\n`);
    const { size: logOffset } = await log.stat();
    const child = spawn(spec.binary, spec.args, {
      cwd: spec.cwd,
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    }).catch((err: unknown) => {
      throw new ProductError(
        ErrorCodes.START_FAILED,
        `cannot start ${spec.name} (${spec.binary}): ${String(err)}`,
        {
          cause: err,
        },
      );
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined)
      throw new ProductError(ErrorCodes.START_FAILED, `${spec.name} started without a PID`);
    await writeFileAtomic(spec.pidFile, `${pid}\n`, 0o644);
    return { name: spec.name, pid, logFile: spec.logFile, logOffset };
  } finally {
    await log.close();
  }
}

/** How to recognise our process: its executable path, and a string one of its arguments contains. */
export interface Ownership {
  binary: string;
  marker: string;
}

/**
 * The PID in `pidFile` if that process is alive and is ours (same executable, an argument containing
 * the marker); undefined otherwise, e.g. when the PID was reused by an unrelated process.
 */
export async function readOwnedPid(pidFile: string, owner: Ownership): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 1) return undefined;
  const argv = await readCmdline(pid);
  if (argv === undefined || argv[0] !== owner.binary) return undefined;
  if (!argv.slice(1).some((a) => a.includes(owner.marker))) return undefined;
  return (await isAlive(pid)) ? pid : undefined;
}

async function readCmdline(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return (raw.endsWith('\0') ? raw.slice(0, -1) : raw).split('\0');
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie: a killed child of a still-running parent lingers as one until reaped. */
export async function isAlive(pid: number): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // The command name in parentheses may contain spaces; the state letter follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  if (!signal(pid, 'SIGTERM')) return;
  if (await waitForExit(pid, graceMs)) return;
  if (!signal(pid, 'SIGKILL')) return;
  if (await waitForExit(pid, 5_000)) return;
  throw new ProductError(ErrorCodes.TIMEOUT, `process ${pid} did not exit after SIGKILL`);
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

export async function removePidFile(pidFile: string): Promise<void> {
  await rm(pidFile, { force: true });
}

/** The last `lines` lines a process wrote since `fromOffset`, for error messages. */
export async function tailLog(logFile: string, fromOffset = 0, lines = 30): Promise<string> {
  const maxBytes = 64 * 1024;
  let fh;
  try {
    fh = await open(logFile, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(fromOffset, size - maxBytes);
    const buf = Buffer.alloc(Math.max(0, size - start));
    await fh.read(buf, 0, buf.length, start);
    return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    await fh.close();
  }
}
