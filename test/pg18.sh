#!/usr/bin/env bash
# Print the pg_config of a PostgreSQL 18 installation, building one first
# when the cache holds none.
#
# Debian 12 packages only PostgreSQL 15, but Debian's archive carries the
# postgresql-18 source package in its unstable suite.  We fetch it with a
# private sources list that has a single deb-src line, so no unstable binary
# package can ever reach this system (they would replace libc), and build the
# upstream tarball into a prefix of its own.  Debian's patches are left out:
# they exist to fit Debian's directory layout, which a private prefix does not
# use.
#
# The build takes about 6 minutes on 2 cores, so its result is cached outside
# the clone and reused when present: CI pays for it only on a fresh machine.
#
# Of contrib, only postgres_fdw is built (test/t_scaleout.py puts a
# coordinator in front of cloud_fdw with it).  A cache from before it was
# built gets just the module added: the same source package is fetched and
# contrib/postgres_fdw built with PGXS against the cached installation,
# which takes seconds, not a rebuild.
#
# Everything but the final pg_config path goes to stderr, so that callers can
# write PG_CONFIG=$(bash test/pg18.sh).
set -euo pipefail

if [[ $(id -u) -eq 0 ]]; then
    default_cache=/var/cache/cloud_fdw
    as_root=()
else
    default_cache=${XDG_CACHE_HOME:-$HOME/.cache}/cloud_fdw
    as_root=(sudo)
fi
prefix=${PG18_PREFIX:-$default_cache/pg18}
pg_config=$prefix/bin/pg_config

say() { echo "test/pg18.sh: $*" >&2; }

# A finished build leaves the stamp .complete last, so an interrupted one is
# redone; an installed postgres_fdw leaves .postgres_fdw, before .complete
# in a fresh build, alone when added to a cached one.
cached=false
if [[ -x $pg_config && -f $prefix/.complete ]]; then
    if [[ -f $prefix/.postgres_fdw ]]; then
        say "using the cached $("$pg_config" --version) in $prefix"
        echo "$pg_config"
        exit 0
    fi
    cached=true
fi

# What the build needs beyond test/deps.sh: the parser generators, bzip2
# for the tarball, ICU, which every packaged PostgreSQL has and the suite's
# nondeterministic collations need, and Python for PL/Python, the
# benchmark's baseline.
missing=()
for pkg in bison flex bzip2 libicu-dev pkg-config python3-dev; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    say "installing ${missing[*]}"
    "${as_root[@]}" apt-get update -q >&2
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# apt verifies the source package against the archive's signed Release file,
# with the system's Debian keyring.
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
echo 'deb-src http://deb.debian.org/debian unstable main' > "$work/apt/sources.list"
apt_private=(-o "Dir::Etc::SourceList=$work/apt/sources.list"
             -o "Dir::Etc::SourceParts=/dev/null"
             -o "Dir::State::Lists=$work/apt/lists"
             -o "Dir::Cache=$work/apt/cache"
             -o "APT::Sandbox::User=root")
say "fetching the postgresql-18 source package from Debian unstable"
apt-get -q "${apt_private[@]}" update >&2
(cd "$work/src" && apt-get -q "${apt_private[@]}" source --download-only postgresql-18 >&2)

tarball=$(ls "$work"/src/postgresql-18_*.orig.tar.*)
tar -xf "$tarball" -C "$work/src"
tree=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'postgresql-18*')

if $cached; then
    # The minor releases of a major keep the ABI that extensions use, so a
    # newer source than the cached build (unstable moved on) still fits it.
    installed=$("$pg_config" --version)
    source_version=${tree##*/postgresql-}
    if [[ $installed != "PostgreSQL $source_version" ]]; then
        say "note: building postgres_fdw $source_version for the cached $installed"
    fi
    say "adding postgres_fdw to the cached $installed in $prefix"
    make -s -C "$tree/contrib/postgres_fdw" USE_PGXS=1 PG_CONFIG="$pg_config" >&2 \
        && make -s -C "$tree/contrib/postgres_fdw" USE_PGXS=1 PG_CONFIG="$pg_config" \
            install >&2 \
        || { say "the build of postgres_fdw failed"; exit 1; }
    touch "$prefix/.postgres_fdw"
    say "added postgres_fdw to $installed"
    echo "$pg_config"
    exit 0
fi

say "building $(basename "$tree") into $prefix"
mkdir -p "$(dirname "$prefix")"
rm -rf "$prefix"
(
    cd "$tree"
    ./configure --prefix="$prefix" --enable-debug \
        --with-python PYTHON=/usr/bin/python3 \
        --without-readline --without-zlib >&2
    make -s -j"$(nproc)" >&2
    make -s install >&2
    make -s -C contrib/postgres_fdw >&2
    make -s -C contrib/postgres_fdw install >&2
) || { say "the build of PostgreSQL 18 failed"; exit 1; }
touch "$prefix/.postgres_fdw"
touch "$prefix/.complete"

say "built $("$pg_config" --version)"
echo "$pg_config"
