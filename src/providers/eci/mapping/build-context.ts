import type { V1Pod } from '@kubernetes/client-node';
import type { MissingRef, ResolvedRefs } from './refs.ts';
import type { Refusal, RefusalReason } from './types.ts';

/**
 * State one `podToCreateRequest` call threads through its helpers: inputs, plus the warnings and
 * missing references collected on the way. Created per call and never shared, so the mapping stays pure.
 */
export interface BuildContext {
  readonly pod: V1Pod;
  readonly refs: ResolvedRefs;
  readonly nodeName: string;
  readonly hostIP?: string;
  /** What an unset limit falls back to in `resourceFieldRef`: the group's size. */
  readonly groupCapacity: { cpu: number; memory: number; ephemeralGiB: number };
  readonly warnings: string[];
  readonly missing: MissingRef[];
}

/**
 * Thrown inside the mapping to stop at the first refusal, caught by `podToCreateRequest` and returned
 * as data. It never leaves this folder.
 */
export class Refused extends Error {
  readonly refusal: Refusal;
  constructor(r: Refusal) {
    super(r.message);
    this.name = 'Refused';
    this.refusal = r;
  }
}

export function refuse(field: string, reason: RefusalReason, message: string): never {
  throw new Refused({ field, reason, message });
}
