#!/usr/bin/env bash
# Builds the controller's OCI image without a Docker engine or a registry: a root filesystem assembled
# from scratch (glibc and libstdc++ from Debian's packages, Node.js 24 from the `node` npm package the
# lockfile pins, the app with its production dependencies), packed by umoci into an OCI image layout.
#
# Why umoci: it is Debian's tool for exactly this (unpack, repack, config of an OCI layout, as root or
# not) and needs no daemon; buildah would want a container storage and a runtime for its RUN steps,
# which this image does not need.
#
# Output, keyed by a hash of everything that goes in, under $ECI_VN_CACHE/image/<key>/:
#   oci/                  the OCI image layout (tag = the package version)
#   eci-virtual-node.oci.tar   the same as one archive: `skopeo copy oci-archive:<file> docker://<registry>/...`
# Prints the output directory as its last line on stdout; progress goes to stderr.
set -euo pipefail
{

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ECI_VN_CACHE:-$HOME/.cache/eci-virtual-node}"
log() { printf '[image build] %s\n' "$*" >&2; }
die() { printf '[image build] error: %s\n' "$*" >&2; exit 1; }

missing=()
for tool in umoci tar sha256sum dpkg-deb apt-get flock; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
((${#missing[@]} == 0)) || die "missing ${missing[*]}; on Debian/Ubuntu: apt-get install -y umoci (tar, gzip, dpkg and apt are standard)"
NODE_BIN="$ROOT/node_modules/node/bin/node"
[[ -x "$NODE_BIN" ]] || die "no Node.js 24 at $NODE_BIN: run \`npm ci\` in $ROOT first"

VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ROOT/package.json")
NODE_VERSION=$("$NODE_BIN" --version)
[[ $NODE_VERSION == v24.* ]] || die "the node npm package holds $NODE_VERSION, not Node.js 24"
# Debian's runtime libraries the Node.js binary links against (ldd: libc, libm, libdl, libpthread,
# libstdc++, libgcc_s).
DEBS=(libc6 libgcc-s1 libstdc++6)

# The key: app sources, lockfile, Node binary, this script, and the Debian package versions.
deb_versions=$(apt-cache policy "${DEBS[@]}" coreutils 2>/dev/null | awk '/^[a-z]/{p=$1} /Candidate:/{print p $2}' | tr '\n' ' ')
[[ -n "$deb_versions" ]] || die "apt knows none of ${DEBS[*]}; run apt-get update"
KEY=$(
  {
    echo "$VERSION $NODE_VERSION $deb_versions"
    sha256sum "$0" "$ROOT/package.json" "$ROOT/package-lock.json"
    (cd "$ROOT" && find bin src -type f ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
)
OUT="$CACHE/image/$VERSION-$KEY"
if [[ -f "$OUT/.complete" ]]; then
  echo "$OUT"
  exit 0
fi
mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9
if [[ -f "$OUT/.complete" ]]; then echo "$OUT"; exit 0; fi
started=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/evn-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

log "production dependencies (npm ci --omit=dev)"
APP="$WORK/app"
mkdir -p "$APP"
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$APP/"
# --ignore-scripts: no production dependency has an install script (only the dev-only `node` package).
(cd "$APP" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2) || die "npm ci --omit=dev failed"
rm -f "$APP/package-lock.json"
# What only a developer reads: type declarations, source maps, READMEs and @types (half the size of
# the dependencies). Licences stay.
find "$APP/node_modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
  -o -name '*.md' -o -name '*.markdown' \) -delete
rm -rf "$APP/node_modules/@types"
(cd "$ROOT" && tar -c --exclude='*.test.ts' bin src) | tar -x -C "$APP"

log "Debian runtime libraries: ${DEBS[*]}"
DEBDIR="$CACHE/image/debs"
mkdir -p "$DEBDIR"
(cd "$DEBDIR" && apt-get download "${DEBS[@]}" coreutils >/dev/null 2>&1) || die "apt-get download ${DEBS[*]} coreutils failed; run apt-get update"

log "OCI layout and root filesystem"
rm -rf "$OUT/oci"
umoci init --layout "$OUT/oci"
umoci new --image "$OUT/oci:$VERSION"
umoci unpack --image "$OUT/oci:$VERSION" "$WORK/bundle" >/dev/null
R="$WORK/bundle/rootfs"
for d in "${DEBS[@]}"; do
  for f in "$DEBDIR/${d}"_*.deb; do dpkg-deb -x "$f" "$R"; done
done
# What a shell-less image needs of the libraries' packages: no docs, manuals, locales or gconv modules.
rm -rf "$R/usr/share" "$R/usr/lib/x86_64-linux-gnu/gconv" "$R/usr/lib/x86_64-linux-gnu/audit" \
  "$R/usr/libexec" "$R/usr/bin" "$R/usr/sbin" "$R/sbin" "$R/bin" "$R/etc/ld.so.conf.d" "$R/var"
install -D -m 0755 "$NODE_BIN" "$R/usr/local/bin/node"
# Stripped of its symbol table as Debian strips its own nodejs (-18 MB); stack traces keep JavaScript
# names, only native frames of a core dump lose theirs.
if command -v strip >/dev/null 2>&1; then strip "$R/usr/local/bin/node"; else log "strip not found (binutils): Node.js left unstripped"; fi
mkdir -p "$R/app" "$R/etc" "$R/tmp" "$R/var/lib/eci-virtual-node" "$R/proc"
chmod 1777 "$R/tmp"
chown 1000:1000 "$R/var/lib/eci-virtual-node"
cp -a "$APP/." "$R/app/"
chown -R 0:0 "$R/app"
ln -s /app/bin/eci-virtual-node.js "$R/usr/local/bin/eci-virtual-node"
# `eci-virtual-node` on PATH is the script with `#!/usr/bin/env node`, as the Deployment's command
# names it: env, alone of coreutils, comes along for that line.
dpkg-deb -x "$(ls "$DEBDIR"/coreutils_*.deb | head -n1)" "$WORK/coreutils"
install -D -m 0755 "$WORK/coreutils/usr/bin/env" "$R/usr/bin/env"
# The runtime user by number (Kubernetes verifies runAsNonRoot on the number), named for `id` and logs.
printf 'root:x:0:0:root:/root:/sbin/nologin\neci:x:1000:1000:eci-virtual-node:/var/lib/eci-virtual-node:/sbin/nologin\n' >"$R/etc/passwd"
printf 'root:x:0:\neci:x:1000:\n' >"$R/etc/group"
printf 'hosts: files dns\n' >"$R/etc/nsswitch.conf"

umoci repack --image "$OUT/oci:$VERSION" "$WORK/bundle" >/dev/null
umoci config --image "$OUT/oci:$VERSION" \
  --config.user 1000:1000 \
  --config.workingdir /app \
  --config.env NODE_ENV=production \
  --config.env PATH=/usr/local/bin:/usr/bin:/bin \
  --config.entrypoint /usr/local/bin/node --config.entrypoint /app/bin/eci-virtual-node.js \
  --config.cmd run --config.cmd --metrics-port=10255 \
  --config.exposedports 10250/tcp --config.exposedports 10255/tcp --config.exposedports 9443/tcp \
  --config.label "org.opencontainers.image.title=eci-virtual-node" \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label "org.opencontainers.image.source=https://github.com/eci-virtual-node/eci-virtual-node" \
  --author eci-virtual-node --history.comment "eci-virtual-node $VERSION on Node.js $NODE_VERSION" \
  --history.created_by "tools/build-image.sh"
umoci gc --layout "$OUT/oci"
# One file to hand to skopeo/podman/crane (`oci-archive:`).
tar -C "$OUT/oci" -cf "$OUT/eci-virtual-node.oci.tar" .
touch "$OUT/.complete"
log "done in $(($(date +%s) - started))s: $OUT (image $VERSION, $(du -sh "$OUT/eci-virtual-node.oci.tar" | cut -f1) as an archive)"
echo "$OUT"
exit
}
