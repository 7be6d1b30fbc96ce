import { InvalidArgumentError } from 'commander';
import { RUNTIME_CHOICES, type RuntimeChoice } from '../emulator/config.ts';

/** Parses `--runtime` / `--emulator-runtime`: process, simulated or auto. */
export function parseRuntimeChoice(value: string): RuntimeChoice {
  if (!(RUNTIME_CHOICES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${RUNTIME_CHOICES.join(', ')}`);
  }
  return value as RuntimeChoice;
}

export const EMULATOR_RUNTIME_HELP =
  "what runs the embedded ECI emulator's containers: process (real processes; Linux, root), simulated, or auto (process where it can run)";
