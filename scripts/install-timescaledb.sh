#!/usr/bin/env bash
# Builds and installs the Apache-licensed TimescaleDB for the local PostgreSQL from
# Debian's own source package of the next release, when no TimescaleDB is installed.
# Only Debian's package mirrors are used, read from this machine's apt sources.
set -euo pipefail

pg_major=${TIMESCALEDB_PG_MAJOR:-15}
pg_config=/usr/lib/postgresql/$pg_major/bin/pg_config
if [ -f "/usr/share/postgresql/$pg_major/extension/timescaledb.control" ]; then
  echo "scoreboard: TimescaleDB already installed for PostgreSQL $pg_major"
  exit 0
fi

mirror=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
  | awk '{print $2}' | grep -v security | head -n 1 || true)
if [ -z "$mirror" ]; then
  mirror=$(grep -hoE '^deb +\S+' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n 1)
fi
[ -n "$mirror" ] || { echo "scoreboard: no Debian mirror found in apt sources" >&2; exit 1; }

src_list=/etc/apt/sources.list.d/scoreboard-timescaledb-src.sources
cat > "$src_list" <<SOURCES
Types: deb-src
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends dpkg-dev cmake gcc make \
  "postgresql-server-dev-$pg_major" libssl-dev libkrb5-dev >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source -qq timescaledb >/dev/null
cd timescaledb-*/
./bootstrap -DPG_CONFIG="$pg_config" -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
  -DAPACHE_ONLY=ON -DWARNINGS_AS_ERRORS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
make -C build -j"$(nproc)" >/dev/null
make -C build install >/dev/null
echo "scoreboard: TimescaleDB $(grep -oE "default_version = '[^']+'" \
  "/usr/share/postgresql/$pg_major/extension/timescaledb.control") installed"
