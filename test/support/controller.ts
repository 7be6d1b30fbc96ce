import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A controller (`eci-virtual-node run`) as a real child process, as users run it. */
export class ControllerProcess {
  readonly args: string[];
  #child: ChildProcess | undefined;
  #log = '';

  constructor(args: string[]) {
    this.args = args;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Everything the process wrote to stdout and stderr so far. */
  get output(): string {
    return this.#log;
  }

  start(env: Record<string, string> = {}): void {
    // process.execPath is the pinned Node 24 the test runner itself runs on.
    const child = spawn(process.execPath, [`${root}/bin/eci-virtual-node.js`, 'run', ...this.args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Kept for the run's secret scan too (test/global-setup.ts), when the runner set a directory.
    const dir = process.env.ECI_VN_E2E_OUTPUT_DIR;
    const file = dir
      ? createWriteStream(path.join(dir, `controller-${process.pid}-${child.pid}.log`))
      : undefined;
    const keep = (b: Buffer) => {
      this.#log += b.toString();
      file?.write(b);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', () => file?.end());
    this.#child = child;
  }

  /** Sends `signal` without waiting (SIGSTOP, SIGCONT, or a kill whose exit is awaited with `exited`). */
  signal(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }

  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  exited(): Promise<number | null> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null)
      return Promise.resolve(child?.exitCode ?? null);
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Sends `signal` and waits for the exit; resolves with the exit code (or null when killed). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }
}
