import { cloudErrors } from '../engine/cloud-errors.ts';

/**
 * Reading RPC parameters. The SDK flattens nested request models into dotted keys with 1-based list
 * indexes (`Container.1.EnvironmentVar.2.Key`, `Tag.1.Value`, `NtpServer.1`); `unflatten` turns them back
 * into a tree, and `Params` reads typed values from it with the cloud's errors for missing or malformed
 * values.
 *
 * Every object of the tree is made without a prototype and read only through own properties: a
 * parameter name is data chosen by the caller, so `__proto__.X`, `constructor.prototype.X` or `toString`
 * must be ordinary keys, never a path into Object.prototype (which would change every later request).
 */

export type Tree = { [key: string]: Node };
export type Node = string | Tree | Node[];

const INDEX = /^[1-9]\d{0,3}$/;

/** Dotted keys → nested objects; numeric segments become arrays ordered by index (gaps dropped). */
export function unflatten(flat: ReadonlyMap<string, string>): Tree {
  // Build plain objects first (lists keyed by index) so sparse or unordered indexes still come out
  // ordered; `lists` remembers which objects are lists.
  type Building = { [key: string]: Building | string };
  const lists = new WeakSet<Building>();
  const root = bag<Building>();
  for (const [key, value] of flat) {
    const parts = key.split('.');
    let node: Building = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i === parts.length - 1) {
        node[part] = value;
        break;
      }
      const next = own(node, part);
      if (next === undefined || typeof next === 'string') {
        const child = bag<Building>();
        if (INDEX.test(parts[i + 1]!)) lists.add(child);
        node[part] = child;
        node = child;
      } else {
        node = next;
      }
    }
  }
  const finish = (b: Building): Tree | Node[] => {
    if (lists.has(b)) {
      return Object.entries(b)
        .filter(([k]) => INDEX.test(k))
        .sort((x, y) => Number(x[0]) - Number(y[0]))
        .map(([, v]) => (typeof v === 'string' ? v : finish(v)));
    }
    const out = bag<Tree>();
    for (const [k, v] of Object.entries(b)) out[k] = typeof v === 'string' ? v : finish(v);
    return out;
  };
  return finish(root) as Tree;
}

/** An object with no prototype: any string is an ordinary key of it. */
function bag<T extends object>(): T {
  return Object.create(null) as T;
}

/** The own property `key` of `o`, never one inherited. */
function own<T>(o: { [key: string]: T }, key: string): T | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/** Typed, validated access to one (sub)tree of parameters; `path` names it in error messages. */
export class Params {
  readonly tree: Tree;
  readonly path: string;

  constructor(tree: Tree, path = '') {
    this.tree = tree;
    this.path = path;
  }

  static fromFlat(flat: ReadonlyMap<string, string>): Params {
    return new Params(unflatten(flat));
  }

  #name(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  has(key: string): boolean {
    return own(this.tree, key) !== undefined;
  }

  keys(): string[] {
    return Object.keys(this.tree);
  }

  string(key: string): string | undefined {
    const v = own(this.tree, key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw cloudErrors.invalidParameter(this.#name(key), 'Expected a string.');
    return v;
  }

  requiredString(key: string): string {
    const v = this.string(key);
    if (v === undefined || v === '') throw cloudErrors.missingParameter(this.#name(key));
    return v;
  }

  int(key: string, bounds: { min?: number; max?: number } = {}): number | undefined {
    const s = this.string(key);
    if (s === undefined || s === '') return undefined;
    if (!/^-?\d+$/.test(s)) throw cloudErrors.invalidParameter(this.#name(key), 'Expected an integer.');
    const n = Number(s);
    if ((bounds.min !== undefined && n < bounds.min) || (bounds.max !== undefined && n > bounds.max)) {
      throw cloudErrors.invalidParameter(
        this.#name(key),
        `Expected a value between ${bounds.min ?? '-∞'} and ${bounds.max ?? '∞'}.`,
      );
    }
    return n;
  }

  number(key: string, bounds: { min?: number; max?: number } = {}): number | undefined {
    const s = this.string(key);
    if (s === undefined || s === '') return undefined;
    const n = Number(s);
    if (!Number.isFinite(n)) throw cloudErrors.invalidParameter(this.#name(key), 'Expected a number.');
    if ((bounds.min !== undefined && n < bounds.min) || (bounds.max !== undefined && n > bounds.max)) {
      throw cloudErrors.invalidParameter(
        this.#name(key),
        `Expected a value between ${bounds.min} and ${bounds.max}.`,
      );
    }
    return n;
  }

  bool(key: string): boolean | undefined {
    const s = this.string(key);
    if (s === undefined || s === '') return undefined;
    if (s === 'true') return true;
    if (s === 'false') return false;
    throw cloudErrors.invalidParameter(this.#name(key), 'Expected true or false.');
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    const s = this.string(key);
    if (s === undefined || s === '') return undefined;
    if (!(values as readonly string[]).includes(s)) {
      throw cloudErrors.invalidParameter(this.#name(key), `Valid values: ${values.join(', ')}.`);
    }
    return s as T;
  }

  /** A list of scalars (`NtpServer.1`, `Container.1.Command.2`). */
  strings(key: string): string[] {
    const v = own(this.tree, key);
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      throw cloudErrors.invalidParameter(this.#name(key), 'Expected a list of strings.');
    }
    return v as string[];
  }

  /** A list of structures (`Container.1.Image`, `Tag.2.Key`). */
  list(key: string): Params[] {
    const v = own(this.tree, key);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw cloudErrors.invalidParameter(this.#name(key), 'Expected a list.');
    return v.map((item, i) => {
      if (typeof item === 'string' || Array.isArray(item)) {
        throw cloudErrors.invalidParameter(`${this.#name(key)}.${i + 1}`, 'Expected a structure.');
      }
      return new Params(item, `${this.#name(key)}.${i + 1}`);
    });
  }

  /** A nested structure (`DnsConfig.NameServer.1`, `LivenessProbe.HttpGet.Path`). */
  struct(key: string): Params | undefined {
    const v = own(this.tree, key);
    if (v === undefined) return undefined;
    if (typeof v === 'string' || Array.isArray(v)) {
      throw cloudErrors.invalidParameter(this.#name(key), 'Expected a structure.');
    }
    return new Params(v, this.#name(key));
  }

  /** A JSON-encoded array of strings (`ContainerGroupIds`, `Command` of ExecContainerCommand). */
  jsonStrings(key: string, maxItems?: number): string[] | undefined {
    const s = this.string(key);
    if (s === undefined || s === '') return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch {
      throw cloudErrors.invalidParameter(this.#name(key), 'Expected a JSON array of strings.');
    }
    if (!Array.isArray(parsed) || parsed.some((x) => typeof x !== 'string')) {
      throw cloudErrors.invalidParameter(this.#name(key), 'Expected a JSON array of strings.');
    }
    if (maxItems !== undefined && parsed.length > maxItems) {
      throw cloudErrors.valueExceeded(this.#name(key), `At most ${maxItems} items are allowed.`);
    }
    return parsed as string[];
  }
}

export interface TagFilter {
  key: string;
  value: string | undefined;
}

/** `Tag.N.Key` / `Tag.N.Value` (at most 20, keys required). */
export function readTags(p: Params): TagFilter[] {
  const tags = p.list('Tag');
  if (tags.length > 20) throw cloudErrors.valueExceeded('Tag', 'At most 20 tags are allowed.');
  return tags.map((t) => ({ key: t.requiredString('Key'), value: t.string('Value') }));
}
