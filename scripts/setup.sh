#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine: system packages, npm dependencies, the native addon, the build.
# As root it installs the Debian packages itself; anyone else is told the one command to run.
set -euo pipefail
cd "$(dirname "$0")/.."

# OpenBLAS and oneDNN for the addon; fonts for figures; PyTorch and scikit-learn for the reference checks and
# benchmark; Chromium for the web page's browser test; Snakemake, Slurm and munge for the annotation workflow.
DEB_PACKAGES=(libopenblas-dev libopenblas0-pthread libdnnl-dev python3-torch fonts-dejavu-core python3-sklearn
  chromium snakemake slurm-wlm munge)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages; run this once, then set-up again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# npm builds the native addon (binding.gyp) with node-gyp; point it at the installed Node's headers
# so that it never downloads them.
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node_api.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi
# onnxruntime-node (a dev dependency: the benchmark's and the ONNX export's reference) ships its CPU build in the
# package; its install step would download a GPU build, which cannot succeed offline.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
# Build the addon when it is missing or older than its sources (a stale one lacks the kernels the code calls).
addon=build/Release/gotune_native.node
if [ ! -f "$addon" ] || [ -n "$(find native binding.gyp -newer "$addon" -print -quit)" ]; then npm run build:native; fi
npm run build --silent
# The GO release of 2018-03-09 (Debian's tnseq-transit) into the cache, for the offline default and the tests.
node dist/src/cli/main.js fetch-go --source debian
echo "setup: done"
