import { InvalidArgumentError, type Command } from 'commander';
import { resolve } from 'node:path';
import {
  DEFAULT_ACCESS_KEY,
  type EmulatorConfigInput,
  loadEmulatorConfigFile,
  type RuntimeChoice,
} from '../emulator/config.ts';
import { parseRuntimeChoice } from './emulator-runtime-flag.ts';
import { startEmulator } from '../emulator/server.ts';

const DEFAULT_STATE_DIR = '.eci-virtual-node/emulator';

interface EmulatorCliOptions {
  port?: number;
  host?: string;
  stateDir?: string;
  memory?: boolean;
  config?: string;
  quotas: boolean;
  logLevel?: string;
  runtime?: RuntimeChoice;
  recoverState?: boolean;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port number 0-65535');
  return n;
}

export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description(
      'Run the ECI OpenAPI emulator: a local server that speaks the ECI 2018-08-08 RPC protocol, so the ' +
        'official ECI SDK (and the virtual node) work against it with no cloud account. State is durable in ' +
        'the state directory; the admin API at /_emulator/ drives faults, stock and container states.',
    )
    .option('--port <port>', 'port to listen on; 0 picks a free port (default: 9440)', parsePort)
    .option('--host <address>', 'address to listen on (default: 127.0.0.1)')
    .option('--state-dir <dir>', `directory for the journal and snapshots (default: ${DEFAULT_STATE_DIR})`)
    .option('--memory', 'keep state in memory only; nothing survives a restart')
    .option(
      '--config <file>',
      'YAML configuration: region, zones, vSwitches, security groups, AccessKeys, timings, quotas, faults',
    )
    .option(
      '--runtime <runtime>',
      "what runs the containers: process (real processes in namespaces; Linux, root), simulated (the exit-code convention), or auto (process where it can run, else simulated) (default: the config file's, else auto)",
      parseRuntimeChoice,
    )
    .option('--no-quotas', 'turn off the per-action quotas (Throttling.User)')
    .option(
      '--recover-state',
      'start even when the state directory is damaged: keep every record that can be read, move the damaged files to <state-dir>/quarantine/',
    )
    .option('--log-level <level>', 'log level of the JSON request log on stderr (default: info)')
    .addHelpText(
      'after',
      [
        '',
        'Defaults: region cn-hangzhou, zones cn-hangzhou-h/i/j, vSwitches vsw-emulator-h/i/j, security group',
        `sg-emulator, AccessKey ${DEFAULT_ACCESS_KEY.id} / ${DEFAULT_ACCESS_KEY.secret} (local use only; set accessKeys in --config).`,
        '',
        'On start it prints one JSON line on stdout: {"url", "endpoint", "protocol", "regionId", "accessKeyId",',
        '"adminUrl", "stateDir"}. Point the SDK at it with',
        "  new Config({ accessKeyId, accessKeySecret, endpoint, protocol: 'http', regionId })",
        'See docs/emulator.md for the configuration, the admin API and the container exit-code convention.',
      ].join('\n'),
    )
    .action(async (opts: EmulatorCliOptions) => {
      const fileConfig: EmulatorConfigInput =
        opts.config === undefined ? {} : await loadEmulatorConfigFile(opts.config);
      const config: EmulatorConfigInput = { ...fileConfig };
      if (opts.logLevel !== undefined) config.logLevel = opts.logLevel;
      if (!opts.quotas) config.quotas = { ...fileConfig.quotas, enabled: false };
      if (opts.recoverState === true) config.journal = { ...fileConfig.journal, recovery: 'salvage' };
      let stateDir: string | undefined;
      if (opts.memory === true) {
        delete config.stateDir;
      } else {
        stateDir = resolve(opts.stateDir ?? fileConfig.stateDir ?? DEFAULT_STATE_DIR);
      }
      const emu = await startEmulator({
        config,
        port: opts.port,
        host: opts.host,
        stateDir,
        runtime: opts.runtime ?? fileConfig.runtime ?? 'auto',
      });
      process.stdout.write(
        `${JSON.stringify({
          url: emu.url,
          endpoint: emu.endpoint,
          protocol: emu.protocol,
          regionId: emu.regionId,
          accessKeyId: emu.accessKeyId,
          adminUrl: emu.adminUrl,
          stateDir: emu.config.stateDir ?? null,
          runtime: emu.core.runtime.kind,
        })}\n`,
      );
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          emu.close().then(done, done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
