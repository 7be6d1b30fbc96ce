import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ErrorCodes, ProductError } from '../../src/util/errors.ts';
import { controlPlaneBuilt, onPath, type Env } from './binaries.ts';

const run = promisify(execFile);

export interface Prerequisite {
  name: string;
  /** Why the command needs it. */
  why: string;
  /** How to get it, on Debian/Ubuntu and in general. */
  install: string;
}

const GO: Prerequisite = {
  name: 'go',
  why: 'builds the local control plane the first time (about 15 minutes on 2 cores, ~2 GB of caches)',
  install: 'Go >= 1.24: https://go.dev/doc/install (Debian 13: apt-get install golang)',
};
const KUBECTL: Prerequisite = {
  name: 'kubectl',
  why: 'the demo shows the install guide with the real kubectl',
  install:
    'https://kubernetes.io/docs/tasks/tools/ (Debian: apt-get install kubectl from the Kubernetes apt repository)',
};

/** What is missing of what `cluster up` (and with `kubectl`, `demo`) needs, before anything is built. */
export async function missingPrerequisites(o: {
  env: Env;
  kubectl?: string;
  needCluster: boolean;
}): Promise<Prerequisite[]> {
  const missing: Prerequisite[] = [];
  if (o.needCluster) {
    if (!(await controlPlaneBuilt(o.env)) && !(await goOk(o.env))) missing.push(GO);
  }
  if (o.kubectl !== undefined) {
    const found = o.kubectl.includes('/')
      ? await run(o.kubectl, ['version', '--client']).then(
          () => true,
          () => false,
        )
      : await onPath(o.kubectl, o.env);
    if (!found) missing.push({ ...KUBECTL, name: o.kubectl });
  }
  return missing;
}

async function goOk(env: Env): Promise<boolean> {
  if (!(await onPath('go', env))) return false;
  try {
    const { stdout } = await run('go', ['env', 'GOVERSION'], { env });
    const m = /^go1\.(\d+)/.exec(stdout.trim());
    return m === null || Number(m[1]) >= 24;
  } catch {
    return false;
  }
}

/** Throws one error listing every missing prerequisite, each with why and how to install it. */
export async function requirePrerequisites(o: Parameters<typeof missingPrerequisites>[0]): Promise<void> {
  const missing = await missingPrerequisites(o);
  if (missing.length === 0) return;
  throw new ProductError(
    ErrorCodes.NOT_FOUND,
    `missing prerequisite${missing.length > 1 ? 's' : ''} (nothing was built or started):\n` +
      missing.map((p) => `  - ${p.name}: ${p.why}\n    install: ${p.install}`).join('\n'),
  );
}
