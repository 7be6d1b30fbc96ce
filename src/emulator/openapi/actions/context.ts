import { cloudErrors } from '../../engine/cloud-errors.ts';
import { pageLimitFor } from '../../config.ts';
import type { EmulatorCore } from '../../engine/core.ts';
import type { GroupRecord, Tag } from '../../engine/model.ts';
import type { Params, TagFilter } from '../params.ts';

/** What an action handler gets: the parsed request and the emulated cloud. */
export interface ActionContext {
  core: EmulatorCore;
  /** The action's parameters as a tree. */
  params: Params;
  /** The same parameters, flat, as they came (for request hashing and templates). */
  flat: ReadonlyMap<string, string>;
  requestId: string;
  accessKeyId: string;
  now: number;
}

export type ActionResult = Record<string, unknown>;

export interface ActionDef {
  /** Top-level parameter names the action knows (checked only with `strictParameters`). */
  params: readonly string[];
  /** RegionId must be given (all actions but ExportContainerGroupTemplate). */
  regionRequired?: boolean;
  handle(ctx: ActionContext): Promise<ActionResult> | ActionResult;
}

/** Parameters every action accepts. */
export const COMMON_ACTION_PARAMS = [
  'RegionId',
  'OwnerId',
  'OwnerAccount',
  'ResourceOwnerId',
  'ResourceOwnerAccount',
  'ResourceGroupId',
  'ClientToken',
];

export function checkRegion(ctx: ActionContext, required: boolean): void {
  const region = ctx.params.string('RegionId');
  if (region === undefined || region === '') {
    if (required) throw cloudErrors.missingParameter('RegionId');
    return;
  }
  if (region !== ctx.core.config.region.id) throw cloudErrors.regionNotFound(region);
}

/** ClientToken: at most 64 ASCII characters. */
export function readClientToken(p: Params): string | undefined {
  const t = p.string('ClientToken');
  if (t === undefined || t === '') return undefined;
  if (t.length > 64 || !/^[\x20-\x7e]+$/.test(t)) {
    throw cloudErrors.invalidParameter('ClientToken', 'It must be at most 64 ASCII characters.');
  }
  return t;
}

export function readLimit(ctx: ActionContext, action: string): number {
  const limits = pageLimitFor(ctx.core.config, action);
  const limit = ctx.params.int('Limit');
  if (limit === undefined) return limits.default;
  if (limit < 1 || limit > limits.max) {
    throw cloudErrors.invalidParameter('Limit', `It must be between 1 and ${limits.max}.`);
  }
  return limit;
}

const TOKEN = /^emu\.([0-9a-f]{1,12})$/;

/** NextToken is opaque to clients; inside it is the creation number of the last item returned. */
export function readNextToken(p: Params): number {
  const t = p.string('NextToken');
  if (t === undefined || t === '') return 0;
  const m = TOKEN.exec(t);
  if (m === null) throw cloudErrors.invalidParameter('NextToken', 'Use the NextToken of the previous page.');
  return parseInt(m[1]!, 16);
}

export function nextToken(seq: number): string {
  return `emu.${seq.toString(16)}`;
}

/** Every filter matches one of the tags (plain loops: lists run this for every group on every call). */
export function matchTags(tags: readonly Tag[], filters: readonly TagFilter[]): boolean {
  for (const f of filters) {
    let found = false;
    for (const t of tags) {
      if (t.key === f.key && (f.value === undefined || t.value === f.value)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

export interface Page<T> {
  items: T[];
  total: number;
  nextToken: string;
}

/** Cuts a page from `source` (in creation order) after `afterSeq`, counting every match for TotalCount. */
export function paginate<T extends { seq: number }>(
  source: readonly T[],
  filter: ((item: T) => boolean) | undefined,
  afterSeq: number,
  limit: number,
): Page<T> {
  const items: T[] = [];
  if (filter === undefined) {
    // Unfiltered: the count is the length, and the page starts where a binary search says.
    let lo = 0;
    let hi = source.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (source[mid]!.seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    const page = source.slice(lo, lo + limit);
    const more = lo + limit < source.length;
    return {
      items: page,
      total: source.length,
      nextToken: more ? nextToken(page[page.length - 1]!.seq) : '',
    };
  }
  let total = 0;
  let more = false;
  for (let i = 0; i < source.length; i++) {
    const item = source[i]!;
    if (!filter(item)) continue;
    total++;
    if (item.seq <= afterSeq) continue;
    if (items.length < limit) items.push(item);
    else more = true;
  }
  const last = items[items.length - 1];
  return { items, total, nextToken: more && last !== undefined ? nextToken(last.seq) : '' };
}

/** Container groups named by a `ContainerGroupIds` JSON list, in creation order (unknown IDs are skipped). */
export function groupsByIds(ctx: ActionContext, ids: readonly string[]): GroupRecord[] {
  const out: GroupRecord[] = [];
  for (const id of new Set(ids)) {
    const g = ctx.core.findGroup(id);
    if (g !== undefined) out.push(g);
  }
  return out.sort((a, b) => a.seq - b.seq);
}
