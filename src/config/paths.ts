import os from 'node:os';
import path from 'node:path';

/**
 * The one default state directory of the ECI emulator, whether embedded in `run`, `cleanup` and
 * `demo` or started by `eci-virtual-node emulator`: $XDG_STATE_HOME/eci-virtual-node/emulator
 * (~/.local/state/... by default), so every command finds the groups the others made.
 */
export const DEFAULT_EMULATOR_STATE_DIR = path.join(
  process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'),
  'eci-virtual-node',
  'emulator',
);
