#!/bin/sh
# The main job on the embedded default (SQLite store, local processes).
# It installs packages, builds svcd and svcctl and starts svcd on 127.0.0.1.
# Then it applies manifests/examples/quickstart.yaml (a master and two workers
# of a stand-in model server), waits until the deploy is Ready, shows it, and
# sends one completion request to the master.
#
# Usage: scripts/quickstart.sh
# Environment: SVCD_PORT (default 7070), SVCD_DATA_DIR (default ./svcd-data).
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target svcd svcctl

port=${SVCD_PORT:-7070}
data_dir=${SVCD_DATA_DIR:-$repo/svcd-data}
mkdir -p "$data_dir"
export SVCD_SERVER="http://127.0.0.1:$port"
svcctl="$repo/build/bin/svcctl"

if curl -fsS -m 2 "$SVCD_SERVER/healthz" >/dev/null 2>&1; then
  echo "quickstart: port $port is in use (a server responds on $SVCD_SERVER); stop it or set SVCD_PORT" >&2
  exit 1
fi

# svcd runs in the background; the template starts svcd-standin-model-server,
# which lies next to the binaries in build/bin.
echo "== starting svcd on $SVCD_SERVER (data in $data_dir, log in $data_dir/svcd.log)"
PATH="$repo/build/bin:$PATH" nohup "$repo/build/bin/svcd" --listen "127.0.0.1:$port" \
  --data-dir "$data_dir" >"$data_dir/svcd.log" 2>&1 &
echo $! >"$data_dir/svcd.pid"
i=0
until curl -fsS -m 2 "$SVCD_SERVER/healthz" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt 100 ] || ! kill -0 "$(cat "$data_dir/svcd.pid")" 2>/dev/null; then
    echo "quickstart: svcd did not start; its log:" >&2
    cat "$data_dir/svcd.log" >&2
    exit 1
  fi
  sleep 0.2
done

echo "== svcctl apply -f manifests/examples/quickstart.yaml"
"$svcctl" apply -f manifests/examples/quickstart.yaml
echo "== svcctl wait sd/quickstart --for=condition=Ready (progress on stderr)"
"$svcctl" wait sd/quickstart --for=condition=Ready --timeout 120s
echo "== svcctl get sd -o wide"
"$svcctl" get sd -o wide
echo "== one completion request to the master"
endpoint=$("$svcctl" get sd quickstart -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["endpoint"])')
curl -fsS -m 10 "$endpoint/v1/completions" -H 'Content-Type: application/json' \
  -d '{"model":"qwen2-7b","prompt":"Paris is the capital of","max_tokens":4}'
echo
cat <<EOT

The deploy is Ready. Next:
  export SVCD_SERVER=$SVCD_SERVER
  build/bin/svcctl describe sd quickstart
  build/bin/svcctl logs sd/quickstart --target master -f
To stop everything:
  build/bin/svcctl delete sd quickstart --wait && kill \$(cat $data_dir/svcd.pid)
EOT
