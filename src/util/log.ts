import { pino, type DestinationStream, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { ErrorCodes, ProductError } from './errors.ts';

export type { Logger };

/** `json` for machines (one object a line), `text` for people reading a terminal. */
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Paths that may carry secrets anywhere in a log record. pino replaces them before serialising, so a
 * caller that logs a whole config or request by mistake still prints no AccessKey, token or key.
 */
const REDACT = [
  'accessKeyId',
  'accessKeySecret',
  'secretKey',
  'securityToken',
  'token',
  'authorization',
  '*.accessKeyId',
  '*.accessKeySecret',
  '*.secretKey',
  '*.securityToken',
  '*.token',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
];

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
  /** Where lines go; default stderr (stdout stays free for command output). */
  destination?: DestinationStream;
  /** Fields added to every record at write time (the active trace id). */
  mixin?: () => Record<string, unknown>;
}

/**
 * The product's logger. JSON records carry `level` as a word ("info", not 30) and `time` as ISO 8601,
 * which is what log pipelines (Loki, Elasticsearch, Cloud Logging) and people grepping expect; the
 * text format renders the same records as one readable line each.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
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
      redact: { paths: REDACT, censor: '[redacted]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      ...(opts.mixin ? { mixin: opts.mixin } : {}),
    },
    destination,
  );
}
