// The controller image as tools/build-image.sh builds it (an OCI layout), unpacked with umoci and its
// app run from the root filesystem: chroot, as the image's user, in a mount namespace of its own so
// the /proc it mounts goes away with the process.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface BuiltImage {
  /** Directory the build wrote: `oci/` (layout) and `eci-virtual-node.oci.tar`. */
  dir: string;
  tag: string;
  manifest: { config: OciDescriptor; layers: OciDescriptor[] };
  config: {
    architecture: string;
    os: string;
    config: {
      User?: string;
      Entrypoint?: string[];
      Cmd?: string[];
      Env?: string[];
      WorkingDir?: string;
      ExposedPorts?: Record<string, object>;
      Labels?: Record<string, string>;
    };
  };
}

async function blob(dir: string, digest: string): Promise<Buffer> {
  const [alg, hex] = digest.split(':');
  return readFile(path.join(dir, 'oci', 'blobs', alg!, hex!));
}

/** Builds (or finds in the cache) the image of this checkout and reads its manifest and config. */
export async function buildImage(): Promise<BuiltImage> {
  const { stdout } = await run('bash', [path.join(root, 'tools', 'build-image.sh')], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const dir = stdout.trim().split('\n').pop()!;
  const index = JSON.parse(await readFile(path.join(dir, 'oci', 'index.json'), 'utf8')) as {
    manifests: OciDescriptor[];
  };
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const desc = index.manifests.find(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] === pkg.version,
  );
  if (!desc) throw new Error(`no image tagged ${pkg.version} in ${dir}/oci`);
  const manifest = JSON.parse((await blob(dir, desc.digest)).toString()) as BuiltImage['manifest'];
  const config = JSON.parse((await blob(dir, manifest.config.digest)).toString()) as BuiltImage['config'];
  return { dir, tag: pkg.version, manifest, config };
}

/** Unpacks the image into a fresh directory; `rootfs` is its root filesystem. */
export async function unpackImage(
  image: BuiltImage,
): Promise<{ bundle: string; rootfs: string; remove(): Promise<void> }> {
  const parent = await mkdtemp(path.join(os.tmpdir(), 'evn-image-'));
  const bundle = path.join(parent, 'bundle');
  await run('umoci', ['unpack', '--image', `${path.join(image.dir, 'oci')}:${image.tag}`, bundle]);
  return {
    bundle,
    rootfs: path.join(bundle, 'rootfs'),
    remove: () => rm(parent, { recursive: true, force: true }),
  };
}

export interface RootfsProcess {
  child: ChildProcess;
  /** stdout and stderr so far. */
  readonly output: string;
  exited: Promise<number | null>;
  /** Signals the process group and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `argv` inside `rootfs` as uid:gid, with only `env` in its environment, the way a container
 * runtime would (same network namespace as the test, so loopback reaches the test's servers).
 */
export function startInRootfs(
  rootfs: string,
  argv: string[],
  o: { env: Record<string, string>; user: string },
): RootfsProcess {
  const q = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;
  // env -i and chroot run on the host (the image has no shell and no env; env -i clears the PATH that
  // finds /usr/sbin/chroot); node runs inside.
  const script =
    `mount -t proc proc ${q(`${rootfs}/proc`)} && exec env -i ` +
    `${Object.entries(o.env)
      .map(([k, v]) => q(`${k}=${v}`))
      .join(' ')} "$(command -v chroot)" --userspec=${o.user} ${q(rootfs)} ${argv.map(q).join(' ')}`;
  // Its own process group: `unshare --fork` ignores SIGTERM while it waits, so a stop signals the group.
  const child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', '--fork', '--kill-child=SIGKILL', 'sh', '-c', script],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    get output() {
      return output;
    },
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          // already gone
        }
      }
      return exited;
    },
  };
}
