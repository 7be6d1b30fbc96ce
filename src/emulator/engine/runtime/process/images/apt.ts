/**
 * Which Debian packages make an image: the recipe's packages and, transitively, the libraries they
 * depend on (Depends and Pre-Depends into packages of section `libs`). Programs a package merely
 * depends on for its maintainer scripts or for other tools (debconf, adduser, iproute2 ...) are left
 * out: an image is a root filesystem to run one program, not an installed system. Pure functions over
 * `apt-cache show` output, so the choice is tested without apt.
 */

export interface AptPackage {
  name: string;
  version: string;
  section: string;
  /** Depends + Pre-Depends: groups of alternatives, names only. */
  depends: string[][];
}

/** Parses `apt-cache show --no-all-versions` output (one paragraph per package). */
export function parseAptShow(text: string): Map<string, AptPackage> {
  const out = new Map<string, AptPackage>();
  for (const para of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let key: string | undefined;
    for (const line of para.split('\n')) {
      if (/^\s/.test(line) && key !== undefined) {
        fields.set(key, `${fields.get(key) ?? ''} ${line.trim()}`);
        continue;
      }
      const m = /^([\w-]+):\s*(.*)$/.exec(line);
      if (m === null) continue;
      key = m[1]!;
      fields.set(key, m[2]!);
    }
    const name = fields.get('Package');
    const version = fields.get('Version');
    if (name === undefined || version === undefined || out.has(name)) continue;
    out.set(name, {
      name,
      version,
      section: fields.get('Section') ?? '',
      depends: [
        ...parseDepends(fields.get('Pre-Depends') ?? ''),
        ...parseDepends(fields.get('Depends') ?? ''),
      ],
    });
  }
  return out;
}

/** `libc6 (>= 2.34), debconf | debconf-2.0, libfoo:any` → [['libc6'], ['debconf', 'debconf-2.0'], ['libfoo']]. */
export function parseDepends(field: string): string[][] {
  if (field.trim() === '') return [];
  return field.split(',').map((group) =>
    group
      .split('|')
      .map((alt) =>
        alt
          .trim()
          .replace(/\s*\(.*?\)/g, '')
          .replace(/\s*\[.*?\]/g, '')
          .replace(/:\w+$/, '')
          .trim(),
      )
      .filter((n) => n !== ''),
  );
}

export function isLibrary(p: AptPackage): boolean {
  return /(^|\/)(libs|oldlibs)$/.test(p.section);
}

/**
 * The packages of an image: `roots` and their library closure, sorted by name. `show` describes the
 * packages it is given (unknown names are simply absent). Throws when a root package is unknown.
 */
export async function resolvePackages(
  roots: readonly string[],
  show: (names: string[]) => Promise<Map<string, AptPackage>>,
): Promise<AptPackage[]> {
  const known = new Map<string, AptPackage | null>();
  const chosen = new Map<string, AptPackage>();
  const rootSet = new Set(roots);
  let wanted = [...roots];
  const lookup = async (names: string[]) => {
    const fresh = [...new Set(names)].filter((n) => !known.has(n));
    if (fresh.length === 0) return;
    const found = await show(fresh);
    for (const n of fresh) known.set(n, found.get(n) ?? null);
  };
  await lookup(wanted);
  const missing = roots.filter((r) => known.get(r) === null);
  if (missing.length > 0) throw new Error(`no Debian package ${missing.join(', ')} in the apt lists`);
  while (wanted.length > 0) {
    const next: string[] = [];
    const groups: string[][] = [];
    for (const n of wanted) {
      const p = known.get(n);
      if (p === null || p === undefined || chosen.has(n)) continue;
      chosen.set(n, p);
      groups.push(...p.depends);
    }
    await lookup(groups.flat());
    for (const alts of groups) {
      const pick = alts
        .map((a) => known.get(a))
        .find((p): p is AptPackage => p !== null && p !== undefined && (isLibrary(p) || rootSet.has(p.name)));
      if (pick !== undefined && !chosen.has(pick.name)) next.push(pick.name);
    }
    wanted = next;
  }
  return [...chosen.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Package names in `apt-cache depends --recurse` output (virtual packages, in <>, left out). */
export function parseDependsNames(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(?:\|?[\w-]+:\s*)?([a-z0-9][a-z0-9+.-]*)\s*$/.exec(line);
    if (m !== null) names.add(m[1]!);
  }
  return [...names];
}
