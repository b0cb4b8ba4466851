#!/bin/sh
# Installs every Debian 12 package that svcd's build, tests and quickstart need.
# Run as root (or through sudo). Safe to run again: apt-get skips what is there.
set -eu

if [ "$(id -u)" -ne 0 ]; then
  exec sudo "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y --no-install-recommends \
  build-essential cmake pkg-config git ca-certificates \
  libcpprest-dev libssl-dev libboost-dev zlib1g-dev \
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libcli11-dev \
  libgtest-dev libgmock-dev \
  libsoci-dev libsqlite3-dev sqlite3 libmariadb-dev \
  mariadb-server mariadb-client \
  prometheus \
  dash bash curl procps util-linux python3
