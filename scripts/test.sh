#!/bin/sh
# Installs dependencies, builds svcd, starts a throwaway MariaDB on loopback
# and runs the whole test suite (unit, SQLite, MariaDB and end-to-end tests).
# Usage: scripts/test.sh [extra ctest arguments]
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

db_dir=$(mktemp -d /tmp/svcd-mariadb.XXXXXX)
# Stop MariaDB however the script ends, keeping ctest's exit status.
trap 'status=$?; "$repo/scripts/mariadb.sh" stop "$db_dir"; exit $status' EXIT
trap 'exit 130' INT TERM
scripts/mariadb.sh start "$db_dir"
set -a
. "$db_dir/env"
set +a
# Tests that need MariaDB fail instead of skipping when this is set.
export SVCD_REQUIRE_MYSQL=1

cd build
ctest --output-on-failure --timeout 600 "$@"
