import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../../../../util/log.ts';
import { type HostTools, run } from '../host.ts';
import { type AptPackage, parseAptShow, parseDependsNames, resolvePackages } from './apt.ts';
import {
  type CatalogueEntry,
  type ConfiguredImage,
  finishCommon,
  type ImageCatalogue,
  type ImageConfig,
  RECIPE_VERSION,
  type Recipe,
} from './catalogue.ts';

/**
 * Root filesystems on disk, built once on first use and cached under the image cache directory
 * (`~/.cache/eci-virtual-node/images/` by default), keyed by the exact versions of the packages they
 * are made of: a newer package in the apt lists makes a new image, an unchanged one is never rebuilt.
 * Several emulators on one machine share the cache; a lock directory makes one of them build while the
 * others wait. Builds print progress (the first one downloads a few MB of Debian packages).
 */

export interface Image {
  /** The catalogue name (recipe) or configured name. */
  name: string;
  key: string;
  rootfs: string;
  config: ImageConfig;
  packages: { name: string; version: string }[];
}

export class ImageUnavailable extends Error {
  /** `NotFound`: the catalogue has no such image; `BuildFailed`: it has, but building it failed. */
  readonly kind: 'NotFound' | 'BuildFailed';
  constructor(kind: 'NotFound' | 'BuildFailed', message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'ImageUnavailable';
    this.kind = kind;
  }
}

const LOCK_STALE_MS = 30 * 60_000;

export class ImageStore {
  readonly cacheDir: string;
  readonly #catalogue: ImageCatalogue;
  readonly #tools: HostTools;
  readonly #logger: Logger;
  readonly #building = new Map<string, Promise<Image>>();
  readonly #resolved = new Map<string, Promise<AptPackage[]>>();
  #aptUpdated = false;

  constructor(o: { cacheDir: string; catalogue: ImageCatalogue; tools: HostTools; logger: Logger }) {
    this.cacheDir = o.cacheDir;
    this.#catalogue = o.catalogue;
    this.#tools = o.tools;
    this.#logger = o.logger;
  }

  /** The image for a reference, building it the first time. Throws ImageUnavailable. */
  async get(reference: string): Promise<Image> {
    const entry = this.#catalogue.lookup(reference);
    if (entry === null) {
      throw new ImageUnavailable(
        'NotFound',
        `the ECI emulator's process runtime has no image "${reference}" (it provides ${this.#catalogue.names().join(', ')}); ` +
          'add it under process.images in the emulator configuration: a root filesystem directory or tarball with its entrypoint, cmd, env and workingDir',
      );
    }
    const id = entry.kind === 'recipe' ? `recipe:${entry.recipe.name}` : `configured:${entry.image.name}`;
    let p = this.#building.get(id);
    if (p === undefined) {
      p = this.#build(entry).catch((err: unknown) => {
        this.#building.delete(id);
        if (err instanceof ImageUnavailable) throw err;
        throw new ImageUnavailable(
          'BuildFailed',
          `building image "${reference}" failed: ${err instanceof Error ? err.message : String(err)}`,
          err,
        );
      });
      this.#building.set(id, p);
    }
    return p;
  }

  /** The static busybox the runtime's setup scripts run on (the busybox image's). */
  async toolbox(): Promise<string> {
    const img = await this.get('busybox');
    return path.join(img.rootfs, 'bin/busybox');
  }

  async #build(entry: CatalogueEntry): Promise<Image> {
    return entry.kind === 'recipe' ? this.#buildRecipe(entry.recipe) : this.#buildConfigured(entry.image);
  }

  async #packagesOf(recipe: Recipe): Promise<AptPackage[]> {
    let p = this.#resolved.get(recipe.name);
    if (p === undefined) {
      p = this.#resolve(recipe);
      this.#resolved.set(recipe.name, p);
      p.catch(() => this.#resolved.delete(recipe.name));
    }
    return p;
  }

  /**
   * The recipe's packages with their versions. apt-cache needs about a second per call on a machine
   * without a package cache file, so the whole dependency universe is read in two calls, and the answer
   * is kept on disk until the apt lists change.
   */
  async #resolve(recipe: Recipe): Promise<AptPackage[]> {
    const stamp = await this.#listsStamp();
    const file = path.join(this.cacheDir, `.resolved-${recipe.name}.json`);
    const saved = JSON.parse((await readFile(file, 'utf8').catch(() => 'null')) as string) as {
      stamp: string;
      v: number;
      roots: string[];
      packages: AptPackage[];
    } | null;
    const roots = JSON.stringify(recipe.packages);
    if (saved?.stamp === stamp && saved.v === RECIPE_VERSION && JSON.stringify(saved.roots) === roots)
      return saved.packages;
    let packages: AptPackage[];
    try {
      packages = await this.#resolveWithApt(recipe);
    } catch (err) {
      // A fresh machine may never have fetched its package lists.
      if (this.#aptUpdated) throw err;
      this.#aptUpdated = true;
      this.#logger.info(
        { image: recipe.name },
        'image build: the apt package lists lack it; running apt-get update',
      );
      await run(this.#tools['apt-get'], ['update', '-qq'], { timeoutMs: 10 * 60_000 });
      packages = await this.#resolveWithApt(recipe);
    }
    await mkdir(this.cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(
      tmp,
      JSON.stringify({
        stamp: await this.#listsStamp(),
        v: RECIPE_VERSION,
        roots: recipe.packages,
        packages,
      }),
    );
    await rename(tmp, file);
    return packages;
  }

  async #resolveWithApt(recipe: Recipe): Promise<AptPackage[]> {
    const universe = parseDependsNames(
      await this.#apt([
        'depends',
        '--recurse',
        '--no-recommends',
        '--no-suggests',
        '--no-conflicts',
        '--no-breaks',
        '--no-replaces',
        '--no-enhances',
        ...recipe.packages,
      ]),
    );
    const described = parseAptShow(
      await this.#apt(['show', '--no-all-versions', ...universe, ...recipe.packages]),
    );
    return resolvePackages(
      recipe.packages,
      async (names) =>
        new Map(
          names.flatMap((n) => {
            const p = described.get(n);
            return p === undefined ? [] : [[n, p] as const];
          }),
        ),
    );
  }

  /** Changes whenever `apt-get update` brought new package lists. */
  async #listsStamp(): Promise<string> {
    const dir = '/var/lib/apt/lists';
    let newest = 0;
    for (const f of await readdir(dir).catch(() => [] as string[])) {
      const st = await stat(path.join(dir, f)).catch(() => undefined);
      if (st?.isFile() === true) newest = Math.max(newest, st.mtimeMs);
    }
    return String(newest);
  }

  #apt(args: string[]): Promise<string> {
    // Unknown names make apt-cache exit non-zero; what it found is still on stdout.
    return new Promise((resolve, reject) =>
      execFile(
        this.#tools['apt-cache'],
        args,
        { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
        (err, stdout, stderr) => {
          if (err !== null && stdout.trim() === '')
            reject(new Error(`apt-cache ${args[0]}: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        },
      ),
    );
  }

  async #buildRecipe(recipe: Recipe): Promise<Image> {
    const pkgs = await this.#packagesOf(recipe);
    const key = createHash('sha256')
      .update(
        JSON.stringify({
          v: RECIPE_VERSION,
          recipe: recipe.name,
          pkgs: pkgs.map((p) => `${p.name}=${p.version}`),
        }),
      )
      .digest('hex')
      .slice(0, 16);
    const image: Image = {
      name: recipe.name,
      key,
      rootfs: '',
      config: recipe.config,
      packages: pkgs.map((p) => ({ name: p.name, version: p.version })),
    };
    return this.#cached(`${recipe.name}-${key}`, image, async (tmp) => {
      const debs = path.join(tmp, 'debs');
      const rootfs = path.join(tmp, 'rootfs');
      await mkdir(debs, { recursive: true });
      await mkdir(rootfs, { recursive: true });
      const started = Date.now();
      this.#logger.info(
        { image: recipe.name, packages: pkgs.length },
        `image build: ${recipe.name} (first use): downloading ${pkgs.length} Debian packages`,
      );
      await run(
        this.#tools['apt-get'],
        ['download', '-q', '-o', 'APT::Sandbox::User=root', ...pkgs.map((p) => `${p.name}=${p.version}`)],
        { cwd: debs, timeoutMs: 15 * 60_000 },
      );
      const files = (await readdir(debs)).filter((f) => f.endsWith('.deb')).sort();
      for (const [i, f] of files.entries()) {
        await run(this.#tools['dpkg-deb'], ['-x', path.join(debs, f), rootfs], { timeoutMs: 5 * 60_000 });
        if ((i + 1) % 10 === 0 || i + 1 === files.length)
          this.#logger.info(
            { image: recipe.name },
            `image build: ${recipe.name}: extracted ${i + 1}/${files.length}`,
          );
      }
      await finishCommon(rootfs);
      await recipe.finish(rootfs);
      await rm(debs, { recursive: true, force: true });
      this.#logger.info(
        { image: recipe.name, seconds: (Date.now() - started) / 1000 },
        `image build: ${recipe.name} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    });
  }

  async #buildConfigured(c: ConfiguredImage): Promise<Image> {
    const config: ImageConfig = {
      entrypoint: c.entrypoint ?? [],
      cmd: c.cmd ?? [],
      env: Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v}`),
      workingDir: c.workingDir ?? '/',
      ...(c.user === undefined ? {} : { user: c.user }),
    };
    const st = await stat(c.rootfs).catch((err: unknown) => {
      throw new ImageUnavailable(
        'BuildFailed',
        `image "${c.name}": its rootfs ${c.rootfs} cannot be read`,
        err,
      );
    });
    if (st.isDirectory())
      return { name: c.name, key: 'dir', rootfs: path.resolve(c.rootfs), config, packages: [] };
    const hash = await new Promise<string>((resolve, reject) => {
      const h = createHash('sha256');
      createReadStream(c.rootfs)
        .on('data', (d) => h.update(d))
        .on('end', () => resolve(h.digest('hex')))
        .on('error', reject);
    });
    const key = hash.slice(0, 16);
    return this.#cached(
      `configured-${key}`,
      { name: c.name, key, rootfs: '', config, packages: [] },
      async (tmp) => {
        const rootfs = path.join(tmp, 'rootfs');
        await mkdir(rootfs, { recursive: true });
        this.#logger.info({ image: c.name }, `image build: ${c.name}: extracting ${c.rootfs}`);
        await run(this.#tools.tar, ['-xf', path.resolve(c.rootfs), '-C', rootfs], { timeoutMs: 15 * 60_000 });
        await finishCommon(rootfs);
      },
    );
  }

  /**
   * The cached image `dirName`, or builds it with `fill` (into a private directory renamed into place
   * when complete, so a crash never leaves a half image behind).
   */
  async #cached(dirName: string, image: Image, fill: (tmp: string) => Promise<void>): Promise<Image> {
    const dir = path.join(this.cacheDir, dirName);
    const done = { ...image, rootfs: path.join(dir, 'rootfs') };
    const ready = async () =>
      (await readFile(path.join(dir, 'image.json'), 'utf8').catch(() => null)) !== null;
    if (await ready()) return done;
    await mkdir(this.cacheDir, { recursive: true });
    const lock = `${dir}.lock`;
    for (;;) {
      try {
        await mkdir(lock);
        await writeFile(path.join(lock, 'owner'), `${process.pid}\n`);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (await ready()) return done;
        if (await this.#staleLock(lock)) {
          await rm(lock, { recursive: true, force: true });
          continue;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    try {
      if (await ready()) return done;
      const tmp = path.join(this.cacheDir, `.tmp-${dirName}-${randomBytes(4).toString('hex')}`);
      try {
        await fill(tmp);
        await writeFile(
          path.join(tmp, 'image.json'),
          `${JSON.stringify({ name: image.name, key: image.key, config: image.config, packages: image.packages, builtAt: new Date().toISOString() }, null, 2)}\n`,
        );
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return done;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }

  /** A lock whose owner is gone (or that is very old) is taken over. */
  async #staleLock(lock: string): Promise<boolean> {
    const owner = Number((await readFile(path.join(lock, 'owner'), 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0) {
      try {
        process.kill(owner, 0);
      } catch {
        return true;
      }
    }
    const st = await stat(lock).catch(() => undefined);
    return st !== undefined && Date.now() - st.mtimeMs > LOCK_STALE_MS;
  }
}
