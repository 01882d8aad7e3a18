#!/usr/bin/env bash
# Installs cfn-guard (AWS CloudFormation Guard) as <root>/bin/cfn-guard.
#
# Fast path (< 2 s): the statically linked Linux binary that AWS's own npm package
# @cdklabs/cdk-validator-cfnguard ships, taken with `npm pack` (npm checks the tarball against
# the registry's integrity hash) and checked against the SHA-256 pinned below.
# Fallback (about 3 min on 2 cores): `cargo install cfn-guard --locked` from crates.io.
# Usage: infra/install-cfn-guard.sh <root>
set -euo pipefail

root=${1:?usage: $0 <root>}
npm_package=@cdklabs/cdk-validator-cfnguard@0.0.62 # bundles cfn-guard 3.1.1
crate_version=3.2.1

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) arch=x86_64 sha256=9c7a820318676dc7372f6756ddfc7ca5f0c019299fb5505fda6dfd54718c58bd ;;
  Linux/aarch64) arch=aarch64 sha256=f596043df77b6e839759e90e3d08671b5384c6e07d4a9c34f6d0bfbc76148154 ;;
  *) arch= sha256= ;;
esac

mkdir -p "$root/bin"
if [[ -n $arch ]] && command -v npm >/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if tgz=$(cd "$tmp" && npm pack --silent "$npm_package" 2>/dev/null) &&
    tar -xzf "$tmp/$tgz" -C "$tmp" "package/bin/ubuntu/$arch/cfn-guard" &&
    echo "$sha256  $tmp/package/bin/ubuntu/$arch/cfn-guard" | sha256sum --check --status; then
    install -m 0755 "$tmp/package/bin/ubuntu/$arch/cfn-guard" "$root/bin/cfn-guard"
    "$root/bin/cfn-guard" --version
    exit 0
  fi
  echo "cfn-guard from npm ($npm_package) not available or not as pinned; building it" >&2
fi
cargo install cfn-guard --version "$crate_version" --locked --root "$root"
"$root/bin/cfn-guard" --version
