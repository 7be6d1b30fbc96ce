import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may carry secrets anywhere in a log record. pino replaces them before serialising, so a
 * caller that logs a whole config or request by mistake still prints no AccessKey, token or key.
 */
const REDACT = [
  'accessKeyId',
  'accessKeySecret',
  'secretKey',
  'token',
  'authorization',
  '*.accessKeyId',
  '*.accessKeySecret',
  '*.secretKey',
  '*.token',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
];

/** The product's logger: JSON lines on stderr (stdout stays free for command output). */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'eci-virtual-node',
      level: opts.level ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: undefined,
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
