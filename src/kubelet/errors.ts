import { describeError, ErrorCodes, hasCode } from '../util/errors.ts';

/**
 * The HTTP status of a failed kubelet API request, from the error's code: the one place that maps
 * them. NOT_FOUND: no such pod, container or instance; INVALID_INPUT: the request cannot be served as
 * asked (a bad query, a container not running). Anything else is the backend failing.
 */
export function httpStatusFor(err: unknown): number {
  if (hasCode(err, ErrorCodes.NOT_FOUND)) return 404;
  if (hasCode(err, ErrorCodes.INVALID_INPUT)) return 400;
  if (hasCode(err, ErrorCodes.TIMEOUT)) return 504;
  return 500;
}

/** The message a client sees: the error's own, never a stack. */
export function messageFor(err: unknown): string {
  return describeError(err);
}
