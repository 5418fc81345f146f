#!/usr/bin/env bash
# Install the Debian packages that building and testing cloud_fdw need.
#
# Idempotent and fast: each package is checked with dpkg-query first, and
# apt-get (which needs the network and takes a while) only runs when
# something is actually missing.  Uses sudo when not root, because
# developers run `make test` as a normal user while CI runs as root.
set -euo pipefail

PACKAGES="postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev libjson-c-dev
pkg-config make gcc libc6-dev python3 curl ca-certificates util-linux
postgresql-plpython3-15 clang-14 libclang-rt-14-dev valgrind"

missing=()
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "test/deps.sh: missing packages: ${missing[*]}" >&2
    echo "test/deps.sh: cannot install them: not root and sudo is not available;" \
         "install them as root, or run this script as root" >&2
    exit 1
fi

echo "test/deps.sh: installing ${missing[*]}"
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
