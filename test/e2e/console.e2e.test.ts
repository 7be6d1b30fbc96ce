// The emulator's web console in a real browser: Debian's headless Chromium driven by playwright-core.
// Groups are created through the official SDK; the page must show them (state, zone, IP), the zones
// with their vSwitches and stock, events, a container's log, quotas and faults, and follow changes
// live without a reload. A screenshot is saved under test-output/console/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as $Eci from '@alicloud/eci20180808';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { sdkClient, type EciClient } from '../support/emulator-sdk.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.ts';
import { createLogger } from '../../src/util/log.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const OUTPUT = path.join(root, 'test-output', 'console');

/** The flags a sandbox-less CI machine needs; nothing reaches out to the network. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('the emulator console in Chromium', { timeout: 300_000 }, () => {
  let emu: RunningEmulator;
  let eci: EciClient;
  let browser: BrowserContext;
  let page: Page;
  let profile = '';

  const create = async (name: string, vSwitchId: string) => {
    const r = await eci.createContainerGroup(
      new $Eci.CreateContainerGroupRequest({
        regionId: emu.regionId,
        containerGroupName: name,
        securityGroupId: 'sg-emulator',
        vSwitchId,
        container: [
          new $Eci.CreateContainerGroupRequestContainer({
            name: 'app',
            image: 'nginx:1.27',
            cpu: 1,
            memory: 2,
            command: ['sh', '-c', 'echo hello from the console test; sleep 3600'],
          }),
        ],
      }),
    );
    return r.body!.containerGroupId!;
  };

  before(async () => {
    emu = await startEmulator({ port: 0, logger: createLogger({ level: 'warn', name: 'console-emulator' }) });
    eci = sdkClient(emu);
    profile = await mkdtemp(path.join(os.tmpdir(), 'evn-chromium-'));
    // A fresh profile directory each run: playwright passes it as --user-data-dir.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1400, height: 900 },
    });
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await emu?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  test('shows groups, zones, stock, events, a log, quotas and faults, and follows changes live', async () => {
    const first = await create('web-1', 'vsw-emulator-h');
    const second = await create('batch-1', 'vsw-emulator-i');
    await fetch(`${emu.adminUrl}/zones/cn-hangzhou-j/stock`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stock: 0 }),
    });
    await page.goto(`${emu.adminUrl}/`);
    assert.equal(await page.title(), 'ECI emulator');

    // Groups: name, ID, status, zone and IP, once they run.
    const row = (id: string) => page.locator(`#groups tr[data-id="${id}"]`);
    await row(first).locator('.status.Running').waitFor({ timeout: 60_000 });
    await row(second).locator('.status.Running').waitFor({ timeout: 60_000 });
    const g1 = (await row(first).innerText()).split('\t');
    assert.equal(g1[0], 'web-1');
    assert.equal(g1[3], 'cn-hangzhou-h');
    assert.match(g1[4]!, /^192\.168\.\d+\.\d+$/);
    assert.equal((await row(second).innerText()).split('\t')[3], 'cn-hangzhou-i');

    // Zones with vSwitches, IPs in use and stock.
    const zones = await page.locator('#zones').innerText();
    assert.match(zones, /cn-hangzhou-h\s+unlimited\s+1\s+vsw-emulator-h\s+192\.168\.0\.0\/18\s+1 \/ \d+/);
    assert.match(zones, /cn-hangzhou-j\s+0\s+0\s+vsw-emulator-j/);

    // Quotas and faults.
    assert.match(await page.locator('#quotas').innerText(), /CreateContainerGroup\s+\d+/);
    assert.match(await page.locator('#faults').innerText(), /none/);
    const fault = (await (
      await fetch(`${emu.adminUrl}/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ actions: ['RestartContainerGroup'], kind: 'throttle' }),
      })
    ).json()) as { id?: string };
    assert.ok(fault.id, `fault created: ${JSON.stringify(fault)}`);
    await page.locator('#faults').getByText(fault.id, { exact: true }).waitFor({ timeout: 10_000 });

    // Events, as ECI reports them.
    await page.locator('#events').getByText('web-1').first().waitFor({ timeout: 10_000 });

    // A container's log, on a click.
    await row(first).click();
    await page.locator('#log').getByText('hello from the console test').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('#log-title').innerText(), new RegExp(`${first} / app`));

    // Live: a group made after the page loaded appears, and a deleted one goes, without a reload.
    await fetch(`${emu.adminUrl}/faults`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
    });
    const third = await create('live-1', 'vsw-emulator-h');
    await row(third).waitFor({ timeout: 10_000 });
    await eci.deleteContainerGroup(
      new $Eci.DeleteContainerGroupRequest({ regionId: emu.regionId, containerGroupId: second }),
    );
    await row(second).waitFor({ state: 'detached', timeout: 60_000 });
    assert.match(await page.locator('#live').innerText(), /^live · updated/);

    await mkdir(OUTPUT, { recursive: true });
    const shot = path.join(OUTPUT, 'console.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok((await stat(shot)).size > 10_000, 'a screenshot with something on it');
    process.stderr.write(`[console] screenshot: ${shot}\n`);
  });
});
