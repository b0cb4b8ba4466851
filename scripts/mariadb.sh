#!/bin/sh
# Starts or stops a throwaway MariaDB server on loopback for the tests.
#
#   scripts/mariadb.sh start DIR   creates DIR, starts mariadbd on a free port,
#                                  creates database svcd_test and user svcd,
#                                  and writes DIR/env with SVCD_TEST_MYSQL_URL
#                                  and SVCD_TEST_MYSQL_PASSWORD to source.
#   scripts/mariadb.sh stop DIR    stops that server and removes DIR.
set -eu

cmd=${1:?usage: mariadb.sh start|stop DIR}
dir=${2:?usage: mariadb.sh start|stop DIR}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  port=$(free_port)
  password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
    --auth-root-authentication-method=normal >"$dir/install.log" 2>&1
  mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" \
    --port="$port" --bind-address=127.0.0.1 --user=root --skip-log-bin \
    --pid-file="$dir/pid" >"$dir/server.log" 2>&1 &
  # Wait up to 30 s for the server to answer.
  i=0
  until mariadb-admin --no-defaults --socket="$dir/sock" -uroot ping >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 300 ]; then
      echo "mariadb.sh: mariadbd did not start within 30 s; see $dir/server.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  mariadb --no-defaults --socket="$dir/sock" -uroot -e "
    CREATE DATABASE svcd_test CHARACTER SET utf8mb4;
    CREATE USER 'svcd'@'127.0.0.1' IDENTIFIED BY '$password';
    GRANT ALL ON *.* TO 'svcd'@'127.0.0.1';"
  {
    echo "SVCD_TEST_MYSQL_URL=mysql://svcd@127.0.0.1:$port/svcd_test"
    echo "SVCD_TEST_MYSQL_PASSWORD=$password"
    echo "SVCD_TEST_MYSQL_SOCKET=$dir/sock"
  } >"$dir/env"
  echo "mariadb.sh: MariaDB listening on 127.0.0.1:$port (data in $dir)"
  ;;
stop)
  if [ -f "$dir/pid" ]; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    i=0
    while [ -f "$dir/pid" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: mariadb.sh start|stop DIR" >&2
  exit 2
  ;;
esac
