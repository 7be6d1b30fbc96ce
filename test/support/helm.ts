// Helm, built from its Go module by tools/build-helm.sh (cached under ~/.cache/eci-virtual-node).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
export const CHART = path.join(root, 'charts', 'eci-virtual-node');

let built: Promise<string> | undefined;

/** The helm binary's path, building it the first time (progress on stderr). */
export function helmBinary(): Promise<string> {
  built ??= (async () => {
    const p = run('bash', [path.join(root, 'tools', 'build-helm.sh')], { maxBuffer: 16 * 1024 * 1024 });
    p.child.stderr?.pipe(process.stderr);
    return (await p).stdout.trim().split('\n').pop()!;
  })();
  return built;
}

/** Runs helm; rejects with its stderr. */
export async function helm(args: string[], env: Record<string, string> = {}): Promise<string> {
  const bin = await helmBinary();
  try {
    const { stdout } = await run(bin, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}
