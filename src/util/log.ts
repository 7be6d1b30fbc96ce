import { pino, type Logger } from 'pino';
import { redact, redactText } from './redact.ts';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  name?: string;
  /**
   * Values known to be secret (an AccessKey secret, a resolved Secret), masked wherever they appear in a
   * line. Read at every line, so values learnt later (a rotated AccessKey) are covered too.
   */
  secrets?: () => Iterable<string>;
  /** Where lines go; default stderr. */
  destination?: pino.DestinationStream;
}

/**
 * The product's logger: JSON lines on stderr (stdout stays free for command output). Every line is
 * redacted in depth before it is written (src/util/redact.ts): secret keys at any level, credentials
 * inside strings and error messages, and the registered secret values — so a caller that logs a whole
 * config, request or SDK error by mistake still prints no AccessKey, token or key.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = opts.secrets ?? (() => []);
  return pino(
    {
      name: opts.name ?? 'eci-virtual-node',
      level: opts.level ?? 'info',
      base: undefined,
      formatters: {
        log: (obj) => redact(obj, secrets()) as Record<string, unknown>,
      },
      hooks: {
        // The message and its interpolation arguments are text too.
        logMethod(args, method) {
          const list = [...secrets()];
          const clean = args.map((a) => (typeof a === 'string' ? redactText(a, list) : a));
          return method.apply(this, clean as Parameters<typeof method>);
        },
      },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
