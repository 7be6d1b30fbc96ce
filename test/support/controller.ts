import { spawn, type ChildProcess } from 'node:child_process';
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
    child.stdout?.on('data', (b: Buffer) => (this.#log += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (this.#log += b.toString()));
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
