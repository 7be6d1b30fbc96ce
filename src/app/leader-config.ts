import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import type { Env } from './env.ts';

/** Leader election among replicas of one virtual node's controller (`run --leader-elect`). */
export interface LeaderElectionConfig {
  namespace: string;
  /** One Lease per virtual node: replicas of different nodes never compete. */
  name: string;
  /** This process among the candidates: the pod name and a random suffix (a restart is a new one). */
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface LeaderElectionFlags {
  leaderElect?: boolean;
  leaderElectNamespace?: string;
  leaderElectLeaseName?: string;
  leaderElectLeaseDuration?: string;
  leaderElectRenewDeadline?: string;
  leaderElectRetryPeriod?: string;
}

/**
 * Defaults sized for failover well within 15 s of a leader's death: a standby takes over at most one
 * lease duration plus two retry periods after the leader's last renewal (8 + 3 s: one to see the last
 * change, one to look again), and the leader stops writing after failing to renew for the renew
 * deadline (6 s), two seconds before anyone may take over.
 */
export const LEADER_DEFAULTS = {
  namespace: 'kube-system',
  leaseDuration: '8s',
  renewDeadline: '6s',
  retryPeriod: '1.5s',
} as const;

export function leaderElectionConfig(
  flags: LeaderElectionFlags,
  env: Env,
  nodeName: string,
): LeaderElectionConfig | undefined {
  if (flags.leaderElect !== true) return undefined;
  const leaseDurationMs = seconds(
    '--leader-elect-lease-duration',
    flags.leaderElectLeaseDuration ?? LEADER_DEFAULTS.leaseDuration,
  );
  const renewDeadlineMs = seconds(
    '--leader-elect-renew-deadline',
    flags.leaderElectRenewDeadline ?? LEADER_DEFAULTS.renewDeadline,
  );
  const retryPeriodMs = seconds(
    '--leader-elect-retry-period',
    flags.leaderElectRetryPeriod ?? LEADER_DEFAULTS.retryPeriod,
  );
  if (renewDeadlineMs >= leaseDurationMs) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      '--leader-elect-renew-deadline: must be shorter than --leader-elect-lease-duration (the leader must stop before a standby may start)',
    );
  }
  if (retryPeriodMs >= renewDeadlineMs) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      '--leader-elect-retry-period: must be shorter than --leader-elect-renew-deadline',
    );
  }
  const pod = env.POD_NAME || env.HOSTNAME || os.hostname();
  return {
    namespace: flags.leaderElectNamespace || LEADER_DEFAULTS.namespace,
    name: flags.leaderElectLeaseName || `eci-virtual-node-${nodeName}`,
    identity: `${pod}_${randomBytes(4).toString('hex')}`,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
  };
}

/** `10s`, `1.5s` or `10` (seconds) as milliseconds. */
function seconds(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)s?$/.exec(value.trim());
  const ms = m ? Math.round(Number(m[1]) * 1000) : Number.NaN;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `${flag}: must be a duration such as 10s (got ${JSON.stringify(value)})`,
    );
  }
  return ms;
}
