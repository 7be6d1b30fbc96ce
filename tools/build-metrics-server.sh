#!/usr/bin/env bash
# Builds metrics-server from its Go module (sigs.k8s.io/metrics-server), once per version, into the
# cache beside the control plane binaries. The local control plane runs it so `kubectl top` and HPAs
# work on the virtual node.
#
# Output: $ECI_VN_CACHE/control-plane/metrics-server-v$METRICS_SERVER_VERSION/bin/metrics-server
# Prints the bin directory as its last line on stdout; progress goes to stderr.
set -euo pipefail

# Read whole before running, so an edit during a build cannot mix old and new lines (see
# build-control-plane.sh).
{

METRICS_SERVER_VERSION="${METRICS_SERVER_VERSION:-0.8.0}"
CACHE="${ECI_VN_CACHE:-$HOME/.cache/eci-virtual-node}"
OUT="$CACHE/control-plane/metrics-server-v$METRICS_SERVER_VERSION"
BIN="$OUT/bin"

log() { printf '[metrics-server build] %s\n' "$*" >&2; }
die() { printf '[metrics-server build] error: %s\n' "$*" >&2; exit 1; }

if [[ -f "$BIN/.complete" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not installed or not on PATH; install Go >= 1.24 (https://go.dev/doc/install) and retry"

export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export CGO_ENABLED=0
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
# `go install module@version` builds with the module's own go.mod, as its release does.
unset GOFLAGS

mkdir -p "$BIN"
exec 9>"$OUT/.lock"
if ! flock -n 9; then
  log "another build of metrics-server v$METRICS_SERVER_VERSION is running; waiting for it"
  flock 9
  if [[ -f "$BIN/.complete" ]]; then echo "$BIN"; exit 0; fi
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

PKG=k8s.io/client-go/pkg/version
LDFLAGS="-s -w -X $PKG.gitVersion=v$METRICS_SERVER_VERSION -X $PKG.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
log "downloading and compiling sigs.k8s.io/metrics-server v$METRICS_SERVER_VERSION (cold: 5-15 minutes on 2 cores)"
set +e
GOBIN="$BIN" go install -v -trimpath -ldflags "$LDFLAGS" \
  "sigs.k8s.io/metrics-server/cmd/metrics-server@v$METRICS_SERVER_VERSION" 2>&1 | progress
rc=${PIPESTATUS[0]}
set -e
((rc == 0)) || die "building metrics-server v$METRICS_SERVER_VERSION failed (exit $rc); rerun with the log above"
[[ -x "$BIN/metrics-server" ]] || die "go install reported success but $BIN/metrics-server is missing"
touch "$BIN/.complete"
log "done in $(($(date +%s) - started))s: $BIN"
echo "$BIN"
exit
}
