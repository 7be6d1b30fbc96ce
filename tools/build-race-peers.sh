#!/usr/bin/env bash
# Builds the peers the pod-startup race (bench/race.ts) runs against, from their Go modules, once per
# version, into the cache beside the control plane:
#
#   kwok      sigs.k8s.io/kwok cmd/kwok, with the "fast" stage files of the same module
#   vk        github.com/virtual-kubelet/virtual-kubelet cmd/virtual-kubelet (its mock provider), as released
#   vk-tuned  the same source with the patch step below applied (see patch_vk_tuned)
#
# Usage: tools/build-race-peers.sh [kwok] [vk] [vk-tuned]   (no argument: all three)
# Prints one line `<peer> <binary>` per peer on stdout (kwok's stage files are in ../stages beside its
# binary); progress goes to stderr.
#
# Why Go modules: this machine reaches only package registries, and the Go module proxy serves both
# projects' sources. Nothing of either project is kept in this repository: the sources come from the
# proxy at build time, and the tuned variant is made by the small edits in patch_vk_tuned.
set -euo pipefail

# Bash reads a script as it runs it; inside one brace group it reads everything first, so editing this
# file while a build runs cannot make that build execute a mix of old and new lines.
{

GB_NAME="race peers build"
# shellcheck source=tools/lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"

KWOK_VERSION="${KWOK_VERSION:-0.8.0}"
VK_VERSION="${VK_VERSION:-1.14.1}"
KWOK_MODULE=sigs.k8s.io/kwok
VK_MODULE=github.com/virtual-kubelet/virtual-kubelet

# replace FILE COUNT OLD NEW: replaces the literal text OLD by NEW in FILE, and stops the build unless OLD
# occurs exactly COUNT times, so a source that moved on cannot silently yield an untuned binary.
replace() {
  local file="$1" want="$2"
  OLD="$3" NEW="$4" perl -e '
    my ($file, $want) = @ARGV;
    open(my $in, "<", $file) or die "cannot read $file: $!\n";
    my $text = do { local $/; <$in> };
    close($in);
    my $found = () = $text =~ /\Q$ENV{OLD}\E/g;
    die "expected $want occurrence(s) of the text to replace in $file, found $found\n" if $found != $want;
    $text =~ s/\Q$ENV{OLD}\E/$ENV{NEW}/g;
    open(my $out, ">", $file) or die "cannot write $file: $!\n";
    print $out $text;
  ' "$file" "$want" || die "patching $file failed"
}

# The "tuned" virtual-kubelet. Stock, the node is throttled by settings, not by its code: client-go's
# default client rate limit (5 QPS, burst 10) and the work queues' default overall limit (10 items/s,
# burst 100) cap it at a few pods per second. And the mock provider keeps its pods in a plain map that
# the pod workers write concurrently, which crashes the process ("concurrent map writes") under load.
# This raises the two limits to KWOK's "unlimited" figures (5000 QPS, burst 10000) and guards the map
# with a lock, so the race measures what the virtual-kubelet library itself can do.
patch_vk_tuned() {
  local src="$1"
  replace "$src/node/nodeutil/client.go" 1 \
    $'\treturn kubernetes.NewForConfig(config)' \
    $'\t// Raised for the pod-startup race (was client-go\'s default 5 QPS, burst 10).\n\tconfig.QPS, config.Burst = 5000, 10000\n\treturn kubernetes.NewForConfig(config)'

  replace "$src/node/podcontroller.go" 1 \
    $'\t"k8s.io/client-go/util/workqueue"\n' \
    $'\t"k8s.io/client-go/util/workqueue"\n\t"golang.org/x/time/rate"\n'
  # Same per-item retry backoff as the default; the overall bucket goes from 10/s (burst 100) to 5000/s.
  replace "$src/node/podcontroller.go" 3 \
    'workqueue.DefaultTypedControllerRateLimiter[any]()' \
    'workqueue.NewTypedMaxOfRateLimiter[any](workqueue.NewTypedItemExponentialFailureRateLimiter[any](5*time.Millisecond, 1000*time.Second), &workqueue.TypedBucketRateLimiter[any]{Limiter: rate.NewLimiter(rate.Limit(5000), 10000)})'

  local mock="$src/cmd/virtual-kubelet/internal/provider/mock/mock.go"
  replace "$mock" 1 $'\t"strings"\n' $'\t"strings"\n\t"sync"\n'
  replace "$mock" 1 $'\tpods               map[string]*v1.Pod\n' \
    $'\tpods               map[string]*v1.Pod\n\tpodsMu             sync.RWMutex // guards pods: the pod workers call in concurrently\n'
  replace "$mock" 2 $'\tp.pods[key] = pod\n' $'\tp.podsMu.Lock()\n\tp.pods[key] = pod\n\tp.podsMu.Unlock()\n'
  replace "$mock" 1 $'\tdelete(p.pods, key)\n' ''
  replace "$mock" 1 $'\tif _, exists := p.pods[key]; !exists {\n' \
    $'\tp.podsMu.Lock()\n\t_, exists := p.pods[key]\n\tdelete(p.pods, key)\n\tp.podsMu.Unlock()\n\tif !exists {\n'
  replace "$mock" 1 $'\tif pod, ok := p.pods[key]; ok {\n' \
    $'\tp.podsMu.RLock()\n\tpod, ok := p.pods[key]\n\tp.podsMu.RUnlock()\n\tif ok {\n'
  replace "$mock" 3 'range p.pods {' 'range p.podList() {'
  cat >>"$mock" <<'GO'

// podList copies the pods under the lock, so listing never races the pod workers.
func (p *MockProvider) podList() []*v1.Pod {
	p.podsMu.RLock()
	defer p.podsMu.RUnlock()
	out := make([]*v1.Pod, 0, len(p.pods))
	for _, pod := range p.pods {
		out = append(out, pod)
	}
	return out
}
GO
}

# The tuned build is keyed by the patch too, so changing the patch step rebuilds it.
TUNED_KEY="virtual-kubelet-v$VK_VERSION-tuned-$(declare -f patch_vk_tuned replace | sha256sum | cut -c1-12)"

# module_source MODULE VERSION DEST: a writable copy of the module's source, fresh from the module cache.
module_source() {
  local dir out
  log "downloading $1 v$2"
  out=$(go mod download -json "$1@v$2" 2>&1) || die "go mod download $1@v$2 failed: $out"
  dir=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$out")
  [[ -d "$dir" ]] || die "go mod download $1@v$2 named no source directory: $out"
  # Both modules state the Go they need in go.mod; with GOTOOLCHAIN=local an older Go fails late.
  local need
  need=$(sed -n 's/^go 1\.\([0-9]*\).*/\1/p' "$dir/go.mod")
  [[ -z "$need" ]] || require_go "$need" "$1 v$2"
  rm -rf "$3"
  cp -r "$dir" "$3"
  chmod -R u+w "$3"
}

# build_peer PEER KEY: builds PEER into $CACHE/race-peers/KEY/bin unless it is there already.
build_peer() {
  local peer="$1" out="$CACHE/race-peers/$2"
  local bin="$out/bin" marker="$out/.complete" name
  case "$peer" in kwok) name=kwok ;; *) name=virtual-kubelet ;; esac
  if [[ -f "$marker" ]]; then
    echo "$peer $bin/$name"
    return
  fi
  if ! take_lock "$out" "$marker"; then
    echo "$peer $bin/$name"
    return
  fi
  mkdir -p "$bin"
  local src="$out/src"
  case "$peer" in
    kwok)
      module_source "$KWOK_MODULE" "$KWOK_VERSION" "$src"
      log "compiling kwok v$KWOK_VERSION (cold: several minutes on 2 cores)"
      (cd "$src" && go_build "kwok v$KWOK_VERSION" -trimpath -ldflags "-s -w" -o "$bin/kwok" ./cmd/kwok)
      # The stages that make KWOK's nodes Ready and its pods Running at once ("fast", as kwokctl uses).
      mkdir -p "$out/stages"
      cp "$src"/kustomize/stage/node/fast/node-initialize.yaml \
        "$src"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
        "$src"/kustomize/stage/pod/fast/pod-ready.yaml "$src"/kustomize/stage/pod/fast/pod-complete.yaml \
        "$src"/kustomize/stage/pod/fast/pod-delete.yaml "$out/stages/"
      ;;
    vk | vk-tuned)
      module_source "$VK_MODULE" "$VK_VERSION" "$src"
      if [[ $peer == vk-tuned ]]; then
        log "patching virtual-kubelet v$VK_VERSION: client and work-queue limits raised, mock map locked"
        patch_vk_tuned "$src"
      fi
      log "compiling $peer (virtual-kubelet v$VK_VERSION; cold: several minutes on 2 cores)"
      (cd "$src" && go_build "$peer v$VK_VERSION" -trimpath -ldflags "-s -w -X main.buildVersion=v$VK_VERSION" \
        -o "$bin/virtual-kubelet" ./cmd/virtual-kubelet)
      ;;
  esac
  # The source copy is only needed while building.
  rm -rf "$src"
  touch "$marker"
  log "$peer done in $(($(date +%s) - GB_STARTED))s: $bin/$name"
  echo "$peer $bin/$name"
}

peers=("$@")
((${#peers[@]} > 0)) || peers=(kwok vk vk-tuned)
for peer in "${peers[@]}"; do
  case "$peer" in
    kwok | vk | vk-tuned) ;;
    *) die "unknown peer '$peer' (known: kwok, vk, vk-tuned)" ;;
  esac
done

need_build=0
for peer in "${peers[@]}"; do
  case "$peer" in
    kwok) key="kwok-v$KWOK_VERSION" ;;
    vk) key="virtual-kubelet-v$VK_VERSION" ;;
    vk-tuned) key="$TUNED_KEY" ;;
  esac
  [[ -f "$CACHE/race-peers/$key/.complete" ]] || need_build=1
done
if ((need_build)); then
  # Both modules' go.mod ask for Go 1.26; module_source checks the exact figure once it has the source.
  go_env 24
  # Build each module exactly as its go.mod and go.sum pin it.
  export GOFLAGS="-mod=readonly -buildvcs=false"
fi

for peer in "${peers[@]}"; do
  case "$peer" in
    kwok) build_peer kwok "kwok-v$KWOK_VERSION" ;;
    vk) build_peer vk "virtual-kubelet-v$VK_VERSION" ;;
    vk-tuned) build_peer vk-tuned "$TUNED_KEY" ;;
  esac
done
exit
}
