#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager, kube-scheduler and etcd)
# from their Go modules, once per version, into a cache outside the repository.
#
# Why Go modules and not release tarballs: this machine reaches only package registries, and the
# Go module proxy is the one that carries Kubernetes and etcd sources.
#
# Output: $ECI_VN_CACHE/control-plane/k8s-v$K8S_VERSION-etcd-v$ETCD_VERSION/bin/{etcd,kube-*}
# Prints the bin directory as its last line on stdout; progress goes to stderr.
set -euo pipefail

# Bash reads a script as it runs it; inside one brace group it reads everything first, so editing this
# file while a (half-hour) build runs cannot make that build execute a mix of old and new lines.
{

GB_NAME="control-plane build"
# shellcheck source=tools/lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"

K8S_VERSION="${K8S_VERSION:-1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
KEY="k8s-v${K8S_VERSION}-etcd-v${ETCD_VERSION}"
OUT="$CACHE/control-plane/$KEY"
BIN="$OUT/bin"

if [[ -f "$BIN/.complete" ]]; then
  echo "$BIN"
  exit 0
fi

# Kubernetes 1.34 needs Go >= 1.24.
go_env 24
export GOFLAGS="-mod=mod"

mkdir -p "$BIN"
if ! take_lock "$OUT" "$BIN/.complete"; then echo "$BIN"; exit 0; fi

started=$GB_STARTED
S_VERSION="0.${K8S_VERSION#1.}"
STAGING=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
  kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller)

build_k8s() {
  local mod="$OUT/k8s-module" out
  mkdir -p "$mod"
  cd "$mod"
  if [[ ! -f go.mod ]]; then
    out=$(go mod init eci-virtual-node.local/control-plane 2>&1) || die "go mod init failed in $mod: $out"
    go mod edit -go=1.24.0 -godebug=default=go1.24
    for m in "${STAGING[@]}"; do go mod edit "-replace=k8s.io/$m=k8s.io/$m@v$S_VERSION"; done
  fi
  log "downloading k8s.io/kubernetes v$K8S_VERSION and its modules (first time: a few minutes)"
  go get "k8s.io/kubernetes@v$K8S_VERSION" 2>&1 | tail -n 3 >&2 || die "go get k8s.io/kubernetes@v$K8S_VERSION failed"
  local date
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local ld="" minor
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  log "compiling kube-apiserver, kube-controller-manager, kube-scheduler v$K8S_VERSION (cold: 15-30 minutes on 2 cores)"
  go_build "Kubernetes v$K8S_VERSION" -trimpath -tags selinux,notest -ldflags "$ld -s -w" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
}

build_etcd() {
  local mod="$OUT/etcd-module" out
  mkdir -p "$mod"
  cd "$mod"
  if [[ ! -f go.mod ]]; then
    out=$(go mod init eci-virtual-node.local/etcd 2>&1) || die "go mod init failed in $mod: $out"
  fi
  log "downloading go.etcd.io/etcd/server/v3 v$ETCD_VERSION"
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" 2>&1 | tail -n 3 >&2 || die "go get etcd v$ETCD_VERSION failed"
  log "compiling etcd v$ETCD_VERSION"
  go_build "etcd v$ETCD_VERSION" -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
}

[[ -x "$BIN/etcd" ]] || build_etcd
if [[ ! -x "$BIN/kube-apiserver" || ! -x "$BIN/kube-controller-manager" || ! -x "$BIN/kube-scheduler" ]]; then
  build_k8s
fi
touch "$BIN/.complete"
log "done in $(($(date +%s) - started))s: $BIN"
echo "$BIN"
exit
}
