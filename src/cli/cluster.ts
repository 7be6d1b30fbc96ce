import type { Command } from 'commander';

// Placeholder until the control-plane manager lands in this same change set.
export function registerClusterCommand(_program: Command): void {}
