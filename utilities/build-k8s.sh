#!/bin/sh
# Builds the real Kubernetes control plane and the real CNI runtime library
# that the system tests, the benchmarks and the sandbox run against, from
# the upstream Go modules pinned in tests/k8s-build (test infrastructure
# only: the product stays C):
#   etcd, kube-apiserver, kubectl, kube-proxy      tests/k8s-build/go.mod
#   cnitool, tuning, bandwidth, portmap            tests/k8s-build/cni/go.mod
# and the bed's own tools, rebuilt when their source changes (which Go's
# cache makes cheap): the fault-injecting proxy (tests/fault-proxy) and
# cni-runtime, which runs plugins through libcni as a container runtime
# does (tests/k8s-build/cni/cni-runtime).
# The binaries land in a cache directory (git-ignored, like .ovs-cache)
# keyed by the pinned versions and the Go release; a second run with the
# same key is a no-op.  Go's own module and build caches live outside the
# tree, so a fresh clone on the same machine rebuilds in seconds.
#
# Usage: utilities/build-k8s.sh [CACHE_DIR]
# Prints the cache directory on the last line; the binaries are in
# CACHE_DIR/bin.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${1:-${LIVEBIND_K8S_CACHE:-$top/.k8s-cache}}
mods=$top/tests/k8s-build

go=$(command -v go 2>/dev/null || true)
if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then
    go=/usr/local/go/bin/go
fi
if [ -z "$go" ]; then
    echo "build-k8s: no Go toolchain (go 1.26 or later) in PATH or" \
         "/usr/local/go/bin" >&2
    exit 1
fi
# Go keeps its module and build caches under $HOME: CI's environment may
# lack it.
if [ -z "${HOME:-}" ]; then
    HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
    export HOME
fi
# Never let the go directive fetch another toolchain: the pinned release
# builds with the one on the machine or fails clearly.
GOTOOLCHAIN=local
GOFLAGS="-mod=readonly -buildvcs=false -trimpath"
export GOTOOLCHAIN GOFLAGS

k8s_version=$(cd "$mods" && "$go" list -m -f '{{.Version}}' \
              k8s.io/kubernetes)
# What kubectl version and /version report: the release, as upstream's
# hack/lib/version.sh stamps it.
minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $p.gitVersion=$k8s_version -X $p.gitMajor=1"
    ldflags="$ldflags -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ldflags="$ldflags -X $p.buildDate=1970-01-01T00:00:00Z"
done

# The key: the pinned versions, the Go release and how they are built.
bins="etcd kube-apiserver kubectl kube-proxy cnitool tuning bandwidth
      portmap"
key=$( (cat "$mods/go.mod" "$mods/go.sum" "$mods/cni/go.mod" \
        "$mods/cni/go.sum"; "$go" version; echo "$ldflags $bins") |
      cksum | cut -d' ' -f1)
stamp=$cache/.built

all_there() {
    for b in $bins; do
        [ -x "$cache/bin/$b" ] || return 1
    done
}
own_tools() {
    (cd "$top/tests/fault-proxy" && "$go" build -p 2 \
        -o "$cache/bin/.fault-proxy.new" .) >&2
    (cd "$mods/cni" && "$go" build -p 2 \
        -o "$cache/bin/.cni-runtime.new" ./cni-runtime) >&2
    mv -f "$cache/bin/.fault-proxy.new" "$cache/bin/fault-proxy"
    mv -f "$cache/bin/.cni-runtime.new" "$cache/bin/cni-runtime"
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && all_there; then
    own_tools
    echo "build-k8s: up to date ($k8s_version, key $key)" >&2
    echo "$cache"
    exit 0
fi

start=$(date +%s)
echo "build-k8s: building Kubernetes $k8s_version, etcd and CNI into" \
     "$cache/bin with $("$go" version | cut -d' ' -f3)" \
     "(module cache $("$go" env GOMODCACHE)," \
     "build cache $("$go" env GOCACHE))" >&2
# Binaries are replaced one by one (rename), never removed first: a test
# may be running the old ones.
rm -f "$stamp"
mkdir -p "$cache/bin"

# The machine has two cores shared with other work: two packages at a time,
# and only the binaries the tests use.
build() {
    dir=$1 out=$2 pkg=$3
    t0=$(date +%s)
    echo "build-k8s: go build $pkg" >&2
    (cd "$dir" && "$go" build -p 2 -ldflags "$ldflags" \
        -o "$cache/bin/.$out.new" "$pkg") >&2
    mv -f "$cache/bin/.$out.new" "$cache/bin/$out"
    echo "build-k8s:   $out in $(( $(date +%s) - t0 ))s" >&2
}
build "$mods" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build "$mods" kubectl k8s.io/kubernetes/cmd/kubectl
build "$mods" kube-proxy k8s.io/kubernetes/cmd/kube-proxy
build "$mods" etcd go.etcd.io/etcd/server/v3
build "$mods/cni" cnitool github.com/containernetworking/cni/cnitool
for p in tuning bandwidth portmap; do
    build "$mods/cni" "$p" \
        "github.com/containernetworking/plugins/plugins/meta/$p"
done

own_tools
echo "$key" > "$stamp"
echo "build-k8s: built in $(( $(date +%s) - start ))s" >&2
echo "$cache"
