import type {
  CreateContainerGroupRequestVolume,
  CreateContainerGroupRequestVolumeConfigFileVolumeConfigFileToPath,
} from '@alicloud/eci20180808';
import type {
  V1ConfigMap,
  V1DownwardAPIVolumeFile,
  V1KeyToPath,
  V1Secret,
  V1Volume,
} from '@kubernetes/client-node';
import { refuse, type BuildContext } from './build-context.ts';
import { podFieldValue } from './env.ts';
import { tokenKey } from './refs.ts';
import { resourceFieldValue } from './resources.ts';
import { RefusalReasons, type ModelInit } from './types.ts';

export type VolumeInit = ModelInit<CreateContainerGroupRequestVolume>;
type FileInit = ModelInit<CreateContainerGroupRequestVolumeConfigFileVolumeConfigFileToPath>;

/** ECI volume types (CreateContainerGroup `Volume.N.Type`). */
export const ECI_VOLUME_TYPES = {
  EMPTY_DIR: 'EmptyDirVolume',
  NFS: 'NFSVolume',
  CONFIG_FILE: 'ConfigFileVolume',
} as const;

/** `ConfigFileVolume.ConfigFileToPath.N.Content` holds at most 32 KB per file (ECI reference). */
export const CONFIG_FILE_MAX_BYTES = 32 * 1024;

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** Decoded size of base64 text, without decoding it (so no Secret value is ever materialised). */
function b64Bytes(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return Math.floor((s.replace(/\s/g, '').length * 3) / 4) - pad;
}

/** Files of a ConfigMap or Secret, each as base64 content (Secrets are already base64 and stay so). */
function objectFiles(obj: V1ConfigMap | V1Secret, kind: 'ConfigMap' | 'Secret'): Map<string, string> {
  const files = new Map<string, string>();
  if (kind === 'Secret') {
    for (const [k, v] of Object.entries((obj as V1Secret).data ?? {})) files.set(k, v);
  } else {
    const cm = obj as V1ConfigMap;
    for (const [k, v] of Object.entries(cm.data ?? {})) files.set(k, b64(v));
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) files.set(k, v);
  }
  return files;
}

/**
 * The files a configMap/secret source projects: all keys, or `items` (key → path, with mode). A missing
 * object or key that is not optional is recorded in `b.missing`.
 */
function sourceFiles(
  b: BuildContext,
  kind: 'ConfigMap' | 'Secret',
  name: string,
  items: V1KeyToPath[] | undefined,
  optional: boolean | undefined,
  field: string,
): FileInit[] {
  const obj = kind === 'ConfigMap' ? b.refs.configMaps.get(name) : b.refs.secrets.get(name);
  if (!obj) {
    if (!optional) b.missing.push({ kind, name, field });
    return [];
  }
  const files = objectFiles(obj, kind);
  if (!items || items.length === 0) {
    return [...files.entries()].map(([path, content]) => ({ path, content }));
  }
  const out: FileInit[] = [];
  for (const it of items) {
    const content = files.get(it.key);
    if (content === undefined) {
      if (!optional) b.missing.push({ kind, name, key: it.key, field });
      continue;
    }
    out.push({ path: it.path, content, ...(it.mode !== undefined ? { mode: it.mode } : {}) });
  }
  return out;
}

/** Go's %q-style rendering the kubelet uses for labels/annotations files: sorted `k="v"` lines. */
function formatMap(m: Readonly<Record<string, string>> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m?.[k] ?? '')}`)
    .join('\n');
}

function downwardFiles(
  b: BuildContext,
  items: V1DownwardAPIVolumeFile[] | undefined,
  field: string,
): FileInit[] {
  const out: FileInit[] = [];
  (items ?? []).forEach((it, i) => {
    const f = `${field}.items[${i}]`;
    let value: string;
    if (it.fieldRef) {
      const p = it.fieldRef.fieldPath;
      if (p === 'metadata.labels') value = formatMap(b.pod.metadata?.labels);
      else if (p === 'metadata.annotations') value = formatMap(b.pod.metadata?.annotations);
      else {
        const r = podFieldValue(b, it.fieldRef, f);
        if ('podIP' in r) {
          refuse(
            `${f}.fieldRef.fieldPath`,
            RefusalReasons.PROJECTION,
            `${p} is not known before the ECI instance starts and cannot be a file; use an environment variable`,
          );
        }
        value = r.value;
      }
    } else if (it.resourceFieldRef) {
      const r = it.resourceFieldRef;
      const target = [...(b.pod.spec?.containers ?? []), ...(b.pod.spec?.initContainers ?? [])].find(
        (x) => x.name === r.containerName,
      );
      const v = target ? resourceFieldValue(target, r.resource, r.divisor, b.groupCapacity) : undefined;
      if (v === undefined) {
        refuse(
          `${f}.resourceFieldRef`,
          RefusalReasons.PROJECTION,
          `resourceFieldRef ${r.resource} of container ${r.containerName ?? ''} cannot be resolved`,
        );
      }
      value = v;
    } else {
      return;
    }
    out.push({ path: it.path, content: b64(value), ...(it.mode !== undefined ? { mode: it.mode } : {}) });
  });
  return out;
}

function configFileVolume(
  name: string,
  files: FileInit[],
  defaultMode: number | undefined,
  field: string,
): VolumeInit {
  for (const f of files) {
    if (b64Bytes(f.content ?? '') > CONFIG_FILE_MAX_BYTES) {
      refuse(
        field,
        RefusalReasons.CONFIG_FILE_TOO_LARGE,
        `file ${f.path} of volume ${name} is larger than ECI's 32 KB limit for configuration files; ` +
          `split it, or ship it in the image or on NFS`,
      );
    }
  }
  // ECI has no empty ConfigFileVolume; Kubernetes mounts an empty directory for an absent optional
  // source, and so does an EmptyDirVolume.
  if (files.length === 0) return { name, type: ECI_VOLUME_TYPES.EMPTY_DIR, emptyDirVolume: {} };
  return {
    name,
    type: ECI_VOLUME_TYPES.CONFIG_FILE,
    configFileVolume: { configFileToPath: files, ...(defaultMode !== undefined ? { defaultMode } : {}) },
  };
}

/**
 * One pod volume as an ECI volume. configMap, secret, downwardAPI and projected volumes become
 * ConfigFileVolumes written once at creation: unlike the kubelet, ECI does not refresh them when the
 * source changes (and a projected token is not rotated — see refs.ts). Unsupported types are refused
 * by validatePod before this runs.
 */
export function mapVolume(b: BuildContext, v: V1Volume, field: string): VolumeInit {
  if (v.emptyDir) {
    const medium = v.emptyDir.medium === 'Memory' ? 'Memory' : undefined;
    return {
      name: v.name,
      type: ECI_VOLUME_TYPES.EMPTY_DIR,
      emptyDirVolume: {
        ...(medium ? { medium } : {}),
        ...(v.emptyDir.sizeLimit !== undefined ? { sizeLimit: String(v.emptyDir.sizeLimit) } : {}),
      },
    };
  }
  if (v.nfs) {
    return {
      name: v.name,
      type: ECI_VOLUME_TYPES.NFS,
      NFSVolume: { server: v.nfs.server, path: v.nfs.path, readOnly: v.nfs.readOnly ?? false },
    };
  }
  if (v.configMap) {
    const files = sourceFiles(
      b,
      'ConfigMap',
      v.configMap.name ?? '',
      v.configMap.items,
      v.configMap.optional,
      `${field}.configMap`,
    );
    return configFileVolume(v.name, files, v.configMap.defaultMode, field);
  }
  if (v.secret) {
    const files = sourceFiles(
      b,
      'Secret',
      v.secret.secretName ?? '',
      v.secret.items,
      v.secret.optional,
      `${field}.secret`,
    );
    return configFileVolume(v.name, files, v.secret.defaultMode, field);
  }
  if (v.downwardAPI) {
    return configFileVolume(
      v.name,
      downwardFiles(b, v.downwardAPI.items, `${field}.downwardAPI`),
      v.downwardAPI.defaultMode,
      field,
    );
  }
  if (v.projected) {
    const files: FileInit[] = [];
    (v.projected.sources ?? []).forEach((s, i) => {
      const f = `${field}.projected.sources[${i}]`;
      if (s.configMap)
        files.push(
          ...sourceFiles(
            b,
            'ConfigMap',
            s.configMap.name ?? '',
            s.configMap.items,
            s.configMap.optional,
            `${f}.configMap`,
          ),
        );
      else if (s.secret)
        files.push(
          ...sourceFiles(b, 'Secret', s.secret.name ?? '', s.secret.items, s.secret.optional, `${f}.secret`),
        );
      else if (s.downwardAPI) files.push(...downwardFiles(b, s.downwardAPI.items, `${f}.downwardAPI`));
      else if (s.serviceAccountToken) {
        const t = s.serviceAccountToken;
        const key = tokenKey(t.audience, t.expirationSeconds);
        const token = b.refs.serviceAccountTokens.get(key);
        if (token === undefined) {
          b.missing.push({
            kind: 'ServiceAccountToken',
            name: b.pod.spec?.serviceAccountName || b.pod.spec?.serviceAccount || 'default',
            key,
            field: `${f}.serviceAccountToken`,
          });
        } else {
          files.push({ path: t.path, content: b64(token) });
        }
      }
    });
    return configFileVolume(v.name, files, v.projected.defaultMode, field);
  }
  return refuse(field, RefusalReasons.VOLUME_TYPE, `volume ${v.name} has a type ECI cannot mount`);
}
