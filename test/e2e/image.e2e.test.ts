// The controller image, built as CI builds it (tools/build-image.sh: umoci, no Docker engine), checked
// by what it is (entrypoint, user, size, production dependencies only) and by running its app from the
// unpacked root filesystem as the image's user.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { buildImage, startInRootfs, unpackImage, type BuiltImage } from '../support/image.ts';
import { waitFor } from '../support/wait.ts';

const MB = 1024 * 1024;

describe('the controller image (tools/build-image.sh)', { timeout: 600_000 }, () => {
  let image: BuiltImage;
  let unpacked: Awaited<ReturnType<typeof unpackImage>>;

  before(async () => {
    image = await buildImage();
    unpacked = await unpackImage(image);
  });
  after(async () => {
    await unpacked?.remove();
  });

  test('runs bin/eci-virtual-node.js on the Node.js 24 inside, as uid 1000, `run` by default', () => {
    const c = image.config.config;
    assert.equal(image.config.os, 'linux');
    assert.equal(image.config.architecture, 'amd64');
    assert.deepEqual(c.Entrypoint, ['/usr/local/bin/node', '/app/bin/eci-virtual-node.js']);
    assert.deepEqual(c.Cmd, ['run', '--metrics-port=10255']);
    assert.equal(c.User, '1000:1000', 'numeric, so Kubernetes can verify runAsNonRoot');
    assert.ok(c.Env?.includes('NODE_ENV=production'));
    assert.deepEqual(Object.keys(c.ExposedPorts ?? {}).sort(), ['10250/tcp', '10255/tcp', '9443/tcp']);
    assert.equal(c.Labels?.['org.opencontainers.image.title'], 'eci-virtual-node');
  });

  test('is at most 120 MB as stored and pulled (compressed layers); its size is printed', async () => {
    const compressed = image.manifest.layers.reduce((n, l) => n + l.size, 0) + image.manifest.config.size;
    let unpackedBytes = 0;
    for (const e of await readdir(unpacked.rootfs, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) unpackedBytes += (await stat(path.join(e.parentPath, e.name))).size;
    }
    process.stderr.write(
      `[image] ${image.tag}: ${(compressed / MB).toFixed(1)} MB compressed, ${(unpackedBytes / MB).toFixed(1)} MB unpacked, ${image.manifest.layers.length} layer(s)\n`,
    );
    assert.ok(compressed <= 120 * MB, `compressed size ${(compressed / MB).toFixed(1)} MB`);
  });

  test('holds the production dependencies only and no tests', async () => {
    const modules = path.join(unpacked.rootfs, 'app', 'node_modules');
    for (const prod of ['@kubernetes/client-node', '@alicloud/eci20180808', 'pino', 'prom-client']) {
      await access(path.join(modules, prod, 'package.json'));
    }
    for (const dev of ['node', 'typescript', 'eslint', 'prettier', 'playwright-core']) {
      await assert.rejects(access(path.join(modules, dev)), `${dev} is a devDependency`);
    }
    const tests = (await readdir(path.join(unpacked.rootfs, 'app', 'src'), { recursive: true })).filter((f) =>
      String(f).endsWith('.test.ts'),
    );
    assert.deepEqual(tests, []);
  });

  test('its app starts from the unpacked root filesystem as uid 1000: the emulator serves', async () => {
    const env = Object.fromEntries(
      (image.config.config.Env ?? []).map((kv) => [
        kv.slice(0, kv.indexOf('=')),
        kv.slice(kv.indexOf('=') + 1),
      ]),
    );
    const version = startInRootfs(unpacked.rootfs, [...image.config.config.Entrypoint!, '--version'], {
      env,
      user: image.config.config.User!,
    });
    const code = await version.exited;
    const out = version.output;
    assert.equal(code, 0, out);
    assert.equal(out.trim(), image.tag);

    // The Deployment's command: `eci-virtual-node` on the image's PATH.
    const onPath = startInRootfs(unpacked.rootfs, ['eci-virtual-node', '--version'], {
      env,
      user: image.config.config.User!,
    });
    assert.equal(await onPath.exited, 0, onPath.output);
    assert.equal(onPath.output.trim(), image.tag);

    const emu = startInRootfs(
      unpacked.rootfs,
      [...image.config.config.Entrypoint!, 'emulator', '--port', '0', '--memory'],
      { env, user: image.config.config.User! },
    );
    try {
      const adminUrl = await waitFor(
        'the emulator prints its URLs',
        async () => (/"adminUrl":"([^"]+)"/.exec(emu.output)?.[1] ?? false) as string | false,
        { timeoutMs: 30_000 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${emu.output}`);
      });
      const health = (await (await fetch(`${adminUrl}/health`)).json()) as { ok: boolean };
      assert.equal(health.ok, true);
      // Its logs are the product's JSON format.
      assert.match(emu.output, /"level":"info","time":"\d{4}-\d\d-\d\dT/);
    } finally {
      assert.equal(await emu.stop('SIGTERM'), 0, 'stops cleanly on SIGTERM');
    }
  });
});
