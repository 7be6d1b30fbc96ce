import type { Command } from 'commander';

export function registerRunCommand(_program: Command): void {}
