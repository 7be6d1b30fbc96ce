import { pino, type DestinationStream, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { ErrorCodes, ProductError } from './errors.ts';
import { redact, redactText } from './redact.ts';

export type { Logger };

/** `json` for machines (one object a line), `text` for people reading a terminal. */
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Validates a `--log-format` value; the error names the flag. */
export function parseLogFormat(value: string | undefined, flag = '--log-format'): LogFormat {
  const v = (value ?? 'json').trim().toLowerCase();
  if ((LOG_FORMATS as readonly string[]).includes(v)) return v as LogFormat;
  throw new ProductError(
    ErrorCodes.CONFIG_INVALID,
    `${flag}: must be one of ${LOG_FORMATS.join(', ')} (got ${JSON.stringify(value)})`,
  );
}

export interface LoggerOptions {
  level?: string;
  name?: string;
  format?: LogFormat;
  /**
   * Values known to be secret (an AccessKey secret, a resolved Secret), masked wherever they appear in a
   * line. Read at every line, so values learnt later (a rotated AccessKey) are covered too.
   */
  secrets?: () => Iterable<string>;
  /** Where lines go; default stderr (stdout stays free for command output). */
  destination?: DestinationStream;
  /** Fields added to every record at write time (the active trace id). */
  mixin?: () => Record<string, unknown>;
}

/**
 * The product's logger. JSON records carry `level` as a word ("info", not 30) and `time` as ISO 8601,
 * which is what log pipelines (Loki, Elasticsearch, Cloud Logging) and people grepping expect; the
 * text format renders the same records as one readable line each. Every line is redacted in depth
 * before it is written (src/util/redact.ts): secret keys at any level, credentials inside strings and
 * error messages, and the registered secret values — so a caller that logs a whole config, request or
 * SDK error by mistake still prints no AccessKey, token or key.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = opts.secrets ?? (() => []);
  const format = opts.format ?? 'json';
  const destination =
    opts.destination ??
    (format === 'text'
      ? // pino-pretty as a stream in this thread, not a transport worker: a CLI's last lines before
        // exit must not be lost in a worker's buffer.
        PinoPretty({
          destination: 2,
          sync: true,
          colorize: process.stderr.isTTY === true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'name',
          singleLine: true,
        })
      : pino.destination({ fd: 2, sync: false }));
  return pino(
    {
      name: opts.name ?? 'eci-virtual-node',
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
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
      ...(opts.mixin ? { mixin: opts.mixin } : {}),
    },
    destination,
  );
}
