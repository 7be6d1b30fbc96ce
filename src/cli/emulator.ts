import type { Command } from 'commander';

// Placeholder until the ECI emulator lands in this same change set.
export function registerEmulatorCommand(_program: Command): void {}
