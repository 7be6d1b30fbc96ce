/**
 * Image references as users write them — `nginx`, `nginx:1.27`, `docker.io/library/nginx:1.27`,
 * `registry-vpc.cn-hangzhou.aliyuncs.com/x/nginx`, `busybox@sha256:…` — split into their parts. The
 * image catalogue resolves by repository name, so tags and registries do not matter to it.
 */

export interface ImageRef {
  /** The registry host, when the reference names one. */
  registry?: string;
  /** The repository path without registry, e.g. `library/nginx` or `x/nginx`. */
  path: string;
  /** The last path component, e.g. `nginx`. */
  name: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** Parses a reference; null when it is not one. */
export function parseImageRef(text: string): ImageRef | null {
  let rest = text.trim();
  if (rest === '' || rest.length > 512) return null;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/.test(digest)) return null;
  }
  const parts = rest.split('/');
  let registry: string | undefined;
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) registry = parts.shift();
  let tag: string | undefined;
  const last = parts[parts.length - 1]!;
  const colon = last.indexOf(':');
  if (colon >= 0) {
    tag = last.slice(colon + 1);
    parts[parts.length - 1] = last.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) return null;
  }
  if (parts.some((p) => !COMPONENT.test(p))) return null;
  const ref: ImageRef = { path: parts.join('/'), name: parts[parts.length - 1]! };
  if (registry !== undefined) ref.registry = registry;
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}
