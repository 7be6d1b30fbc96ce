# Shared by the tools/build-*.sh scripts: they build Go programs from their modules, once per version,
# into $ECI_VN_CACHE (default ~/.cache/eci-virtual-node), one builder at a time, with progress on stderr.
# Source it after setting GB_NAME (the prefix of every progress line).

CACHE="${ECI_VN_CACHE:-$HOME/.cache/eci-virtual-node}"

log() { printf '[%s] %s\n' "$GB_NAME" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$GB_NAME" "$*" >&2; exit 1; }

# One module cache and build cache for every build, so modules shared between them download once.
go_env() {
  command -v go >/dev/null 2>&1 || die "Go is not installed or not on PATH; install Go >= 1.$1 (https://go.dev/doc/install) and retry"
  export GOMODCACHE="$CACHE/go/mod"
  export GOCACHE="$CACHE/go/build"
  export CGO_ENABLED=0
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
  require_go "$1" "the build"
}

# require_go MINOR WHAT: with GOTOOLCHAIN=local an older Go fails deep in the build; say so up front.
require_go() {
  local go_version
  go_version=$(go env GOVERSION 2>/dev/null) || die "\`go env GOVERSION\` failed; check the Go installation"
  if [[ $go_version =~ ^go1\.([0-9]+) ]] && ((BASH_REMATCH[1] < $1)); then
    die "Go $go_version is too old for $2 (it needs Go >= 1.$1); install a newer Go (https://go.dev/doc/install) and retry"
  fi
}

# take_lock DIR MARKER: one builder of DIR at a time; a second caller waits instead of racing on the
# same files. Returns 1 when the build it waited for left MARKER behind (nothing left to do).
take_lock() {
  local dir="$1" marker="$2" fd
  mkdir -p "$dir"
  exec {fd}>"$dir/.lock"
  if ! flock -n "$fd"; then
    log "another build of $(basename "$dir") is running; waiting for it"
    flock "$fd"
    [[ -f "$marker" ]] && return 1
  fi
  return 0
}

GB_STARTED=$(date +%s)

# Counts packages as `go build -v` names them, printing a line every 50 so a long build shows life.
progress() {
  local what="$1" n=0
  while IFS= read -r line; do
    n=$((n + 1))
    if ((n % 50 == 0)); then log "$what: $n packages compiled ($(($(date +%s) - GB_STARTED))s elapsed)"; fi
    # `go build -v` prints package paths; anything else (a "# pkg" header, file.go:L:C) is a diagnostic.
    case "$line" in "# "* | *.go:[0-9]* | go:*) printf '%s\n' "$line" >&2 ;; esac
  done
  log "$what: $n packages compiled"
}

# go_build WHAT ARGS...: `go build -v ARGS` with progress; dies naming WHAT when it fails.
go_build() {
  local what="$1" rc
  shift
  set +e
  go build -v "$@" 2>&1 | progress "$what"
  rc=${PIPESTATUS[0]}
  set -e
  ((rc == 0)) || die "building $what failed (exit $rc); see the log above"
}
