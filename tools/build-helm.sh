#!/usr/bin/env bash
# Builds the Helm CLI from its Go module (helm.sh/helm/v4), once per version, into the same cache as
# the test control plane. The chart's tests (`helm lint`, `helm template`, `helm install`) use it.
#
# Why the Go module and not a release tarball: this machine reaches only package registries, and the
# Go module proxy is the one that carries Helm's sources.
#
# Output: $ECI_VN_CACHE/helm/v$HELM_VERSION/bin/helm
# Prints the binary's path as its last line on stdout; progress goes to stderr.
set -euo pipefail
{

HELM_VERSION="${HELM_VERSION:-4.3.2}"
CACHE="${ECI_VN_CACHE:-$HOME/.cache/eci-virtual-node}"
OUT="$CACHE/helm/v$HELM_VERSION"
BIN="$OUT/bin/helm"

log() { printf '[helm build] %s\n' "$*" >&2; }
die() { printf '[helm build] error: %s\n' "$*" >&2; exit 1; }

if [[ -f "$OUT/.complete" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not installed or not on PATH; install Go >= 1.24 (https://go.dev/doc/install) and retry"

# Shares the module and build caches with the control plane build: Helm and Kubernetes have most of
# their dependencies in common, so a machine that built one compiles little of the other.
export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export GOFLAGS="-mod=mod"
export CGO_ENABLED=0
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

mkdir -p "$OUT/bin"
exec 9>"$OUT/.lock"
if ! flock -n 9; then
  log "another build of Helm v$HELM_VERSION is running; waiting for it"
  flock 9
  if [[ -f "$OUT/.complete" ]]; then echo "$BIN"; exit 0; fi
fi

started=$(date +%s)
progress() {
  local n=0
  while IFS= read -r line; do
    n=$((n + 1))
    if ((n % 50 == 0)); then log "$n packages compiled ($(($(date +%s) - started))s elapsed)"; fi
    case "$line" in "# "* | *.go:[0-9]* | go:*) printf '%s\n' "$line" >&2 ;; esac
  done
  log "$n packages compiled"
}

mod="$OUT/module"
mkdir -p "$mod"
cd "$mod"
if [[ ! -f go.mod ]]; then
  out=$(go mod init eci-virtual-node.local/helm 2>&1) || die "go mod init failed in $mod: $out"
fi
log "downloading helm.sh/helm/v4 v$HELM_VERSION and its modules (first time: a few minutes)"
go get "helm.sh/helm/v4@v$HELM_VERSION" 2>&1 | tail -n 3 >&2 || die "go get helm.sh/helm/v4@v$HELM_VERSION failed"
log "compiling helm v$HELM_VERSION (cold: 3-8 minutes on 2 cores)"
ld="-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
set +e
go build -v -trimpath -ldflags "$ld" -o "$BIN" helm.sh/helm/v4/cmd/helm 2>&1 | progress
rc=${PIPESTATUS[0]}
set -e
((rc == 0)) || die "building Helm v$HELM_VERSION failed (exit $rc); rerun with the log above"
touch "$OUT/.complete"
log "done in $(($(date +%s) - started))s: $BIN"
echo "$BIN"
exit
}
