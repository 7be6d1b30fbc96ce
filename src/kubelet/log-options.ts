import { ErrorCodes, ProductError } from '../util/errors.ts';

/** The v1.PodLogOptions the kubelet reads from a /containerLogs query. */
export interface LogOptions {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  /** Last N lines; undefined = all. */
  tailLines?: number;
  /** Lines at or after this instant (epoch ms), from sinceSeconds or sinceTime. */
  since?: number;
  limitBytes?: number;
}

const BOOLS = ['follow', 'previous', 'timestamps', 'insecureSkipTLSVerifyBackend'] as const;

/**
 * Parses a /containerLogs query as kubelet does (v1.PodLogOptions, plus the legacy `tail`, where `all`
 * means no limit) and validates it as the API server would. A bad value throws INVALID_INPUT naming
 * the parameter. `now` resolves sinceSeconds.
 */
export function parseLogOptions(q: URLSearchParams, now: number): LogOptions {
  const bad = (name: string, why: string): never => {
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `query parameter ${name}: ${why} (got ${JSON.stringify(q.get(name))})`,
    );
  };
  const bool = (name: string): boolean => {
    const v = q.get(name);
    if (v === null || v === '') return false;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    return bad(name, 'must be true or false');
  };
  const int = (name: string, min: number): number | undefined => {
    const v = q.get(name);
    if (v === null || v === '') return undefined;
    if (!/^-?\d+$/.test(v)) return bad(name, 'must be a whole number');
    const n = Number(v);
    if (n < min) return bad(name, `must be at least ${min}`);
    return n;
  };
  for (const b of BOOLS) bool(b);
  let tailLines = int('tailLines', 0);
  const legacyTail = q.get('tail');
  if (legacyTail !== null && legacyTail !== '') {
    if (legacyTail === 'all') tailLines = undefined;
    else if (/^\d+$/.test(legacyTail)) tailLines = Number(legacyTail);
    else bad('tail', 'must be a whole number or all');
  }
  const sinceSeconds = int('sinceSeconds', 1);
  const sinceTimeText = q.get('sinceTime');
  let sinceTime: number | undefined;
  if (sinceTimeText !== null && sinceTimeText !== '') {
    sinceTime = Date.parse(sinceTimeText);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(sinceTimeText) || Number.isNaN(sinceTime)) {
      bad('sinceTime', 'must be an RFC 3339 time');
    }
  }
  if (sinceSeconds !== undefined && sinceTime !== undefined) {
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      'query parameters sinceSeconds and sinceTime: at most one may be given',
    );
  }
  return {
    follow: bool('follow'),
    previous: bool('previous'),
    timestamps: bool('timestamps'),
    tailLines,
    since: sinceSeconds !== undefined ? now - sinceSeconds * 1000 : sinceTime,
    limitBytes: int('limitBytes', 1),
  };
}
