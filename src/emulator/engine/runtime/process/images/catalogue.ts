import { chmod, copyFile, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type ImageRef, parseImageRef } from './reference.ts';

/**
 * The images the process runtime can run: built-in recipes (root filesystems assembled from Debian
 * packages) and images the emulator configuration adds (a directory or tarball as root filesystem).
 * References resolve by repository name: `nginx`, `nginx:1.27`, `docker.io/library/nginx:1.27` and
 * `registry-vpc.cn-hangzhou.aliyuncs.com/x/nginx` are all the nginx recipe.
 */

/** What `docker inspect` would call the image's Config. */
export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  /** `KEY=value` */
  env: string[];
  workingDir: string;
  /** Numeric uid the image runs as, when not root. */
  user?: number;
}

export interface Recipe {
  /** Catalogue name: the repository name it answers to. */
  name: string;
  /** Debian packages it is made of (their libraries are added, see apt.ts). */
  packages: string[];
  config: ImageConfig;
  /** Finishing steps on the extracted root filesystem (what the packages' maintainer scripts would do). */
  finish(rootfs: string): Promise<void>;
}

/** Changes when a recipe's steps change, so cached images built by older steps are rebuilt. */
export const RECIPE_VERSION = 1;

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function link(target: string, at: string): Promise<void> {
  await mkdir(path.dirname(at), { recursive: true });
  await symlink(target, at).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}

/** Directories and mount targets every image has; users and groups from base-passwd, or a minimal set. */
export async function finishCommon(rootfs: string): Promise<void> {
  for (const d of ['proc', 'sys', 'dev', 'run', 'etc', 'root', 'home', 'var/log']) {
    await mkdir(path.join(rootfs, d), { recursive: true });
  }
  for (const d of ['tmp', 'var/tmp']) {
    await mkdir(path.join(rootfs, d), { recursive: true });
    await chmod(path.join(rootfs, d), 0o1777);
  }
  await chmod(path.join(rootfs, 'root'), 0o700);
  // Mount targets for the files the runtime provides per group.
  for (const f of ['etc/hosts', 'etc/hostname', 'etc/resolv.conf']) {
    if (!(await exists(path.join(rootfs, f)))) await writeFile(path.join(rootfs, f), '');
  }
  const master = path.join(rootfs, 'usr/share/base-passwd');
  if (await exists(path.join(master, 'passwd.master'))) {
    await copyFile(path.join(master, 'passwd.master'), path.join(rootfs, 'etc/passwd'));
    await copyFile(path.join(master, 'group.master'), path.join(rootfs, 'etc/group'));
  } else if (!(await exists(path.join(rootfs, 'etc/passwd')))) {
    await writeFile(
      path.join(rootfs, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
    );
    await writeFile(
      path.join(rootfs, 'etc/group'),
      'root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n',
    );
  }
}

/** A Debian userland, as a `debian:bookworm-slim` image has it (what `debian`/`ubuntu` images get). */
const DEBIAN_USERLAND = [
  'base-files',
  'base-passwd',
  'bash',
  'coreutils',
  'dash',
  'debianutils',
  'diffutils',
  'findutils',
  'grep',
  'gzip',
  'hostname',
  'libc-bin',
  'mawk',
  'ncurses-base',
  'procps',
  'sed',
  'tar',
];

async function finishDebian(rootfs: string): Promise<void> {
  await link('mawk', path.join(rootfs, 'usr/bin/awk'));
  if (!(await exists(path.join(rootfs, 'bin/sh')))) await link('dash', path.join(rootfs, 'bin/sh'));
}

export const RECIPES: readonly Recipe[] = [
  {
    name: 'busybox',
    packages: ['busybox-static'],
    config: { entrypoint: [], cmd: ['sh'], env: [PATH_ENV], workingDir: '/' },
    async finish(rootfs) {
      // The official busybox image: every applet a link in /bin.
      const { execFile } = await import('node:child_process');
      const list = await new Promise<string>((resolve, reject) =>
        execFile(path.join(rootfs, 'bin/busybox'), ['--list'], (err, out) =>
          err ? reject(err) : resolve(out),
        ),
      );
      for (const applet of list.split('\n').filter((a) => a !== '' && a !== 'busybox' && !a.includes('/'))) {
        await link('busybox', path.join(rootfs, 'bin', applet));
      }
    },
  },
  {
    // Like the official image: Debian's nginx on a Debian userland (a shell for exec and probes).
    name: 'nginx',
    packages: [...DEBIAN_USERLAND, 'nginx', 'nginx-common'],
    config: { entrypoint: [], cmd: ['nginx', '-g', 'daemon off;'], env: [PATH_ENV], workingDir: '/' },
    async finish(rootfs) {
      // What nginx-common's postinst does, and the official image's logging to the container's streams.
      await link('/etc/nginx/sites-available/default', path.join(rootfs, 'etc/nginx/sites-enabled/default'));
      await mkdir(path.join(rootfs, 'var/www/html'), { recursive: true });
      await copyFile(
        path.join(rootfs, 'usr/share/nginx/html/index.html'),
        path.join(rootfs, 'var/www/html/index.nginx-debian.html'),
      );
      for (const d of ['var/lib/nginx', 'var/log/nginx', 'etc/nginx/modules-enabled']) {
        await mkdir(path.join(rootfs, d), { recursive: true });
      }
      await link('/dev/stdout', path.join(rootfs, 'var/log/nginx/access.log'));
      await link('/dev/stderr', path.join(rootfs, 'var/log/nginx/error.log'));
      await finishDebian(rootfs);
    },
  },
  {
    name: 'debian',
    packages: DEBIAN_USERLAND,
    config: { entrypoint: [], cmd: ['bash'], env: [PATH_ENV], workingDir: '/' },
    finish: finishDebian,
  },
];

/** Repository names served by a recipe of another name. */
const ALIASES: Record<string, string> = { ubuntu: 'debian' };

/** An image the emulator configuration adds. */
export interface ConfiguredImage {
  /** Repository it answers to: a bare name (`myapp`) or a path (`team/myapp`, `registry.example.com/team/myapp`). */
  name: string;
  /** A directory, or a tarball (.tar, .tar.gz, .tgz, .tar.xz), holding the root filesystem. */
  rootfs: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: Record<string, string>;
  workingDir?: string;
  user?: number;
}

export type CatalogueEntry =
  { kind: 'recipe'; recipe: Recipe } | { kind: 'configured'; image: ConfiguredImage };

export class ImageCatalogue {
  readonly #configured: readonly ConfiguredImage[];

  constructor(configured: readonly ConfiguredImage[] = []) {
    this.#configured = configured;
  }

  /** Repository names it can provide (for messages). */
  names(): string[] {
    return [...RECIPES.map((r) => r.name), ...Object.keys(ALIASES), ...this.#configured.map((c) => c.name)];
  }

  /** The entry for a reference, or null when the catalogue has no such image. */
  lookup(reference: string): CatalogueEntry | null {
    const ref = parseImageRef(reference);
    if (ref === null) return null;
    const configured = this.#findConfigured(ref);
    if (configured !== undefined) return { kind: 'configured', image: configured };
    const name = ALIASES[ref.name] ?? ref.name;
    const recipe = RECIPES.find((r) => r.name === name);
    return recipe === undefined ? null : { kind: 'recipe', recipe };
  }

  #findConfigured(ref: ImageRef): ConfiguredImage | undefined {
    const full = ref.registry === undefined ? ref.path : `${ref.registry}/${ref.path}`;
    return (
      this.#configured.find((c) => c.name === full) ??
      this.#configured.find((c) => c.name === ref.path) ??
      this.#configured.find((c) => !c.name.includes('/') && c.name === ref.name)
    );
  }
}

/** The image's user database, to find a uid's primary group and home. */
export async function passwdEntry(
  rootfs: string,
  uid: number,
): Promise<{ gid: number; home: string } | undefined> {
  const text = await readFile(path.join(rootfs, 'etc/passwd'), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 6 && Number(f[2]) === uid && f[2] !== '') return { gid: Number(f[3]), home: f[5]! };
  }
  return undefined;
}
