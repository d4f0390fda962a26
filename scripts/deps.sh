#!/usr/bin/env bash
# deps.sh — install the Debian packages clft needs that this machine lacks.
# As root it runs apt-get; otherwise it prints the exact command to run. Nothing else is downloaded.
set -euo pipefail
# Build and run: compiler, CMake, OpenBLAS, oneDNN, zlib, libjpeg-turbo, libpng, inih, cJSON, libcsv,
# cmocka, gnuplot, the embedded Fashion-MNIST data, Open MPI (data parallel over processes: the
# library to build with, mpirun to start the ranks; tests/test_dist.sh).
PKGS="build-essential cmake pkg-config libopenblas-openmp-dev libdnnl-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev
libinih-dev libcjson-dev libcsv-dev libcmocka-dev gnuplot-nox dataset-fashion-mnist libopenmpi-dev openmpi-bin"
# Optional extras: CLFT_DEPS_EXTRA="python3-torch python3-torchvision" make deps
PKGS="$PKGS ${CLFT_DEPS_EXTRA:-}"
missing=()
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "clft: missing Debian packages; run as root:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "clft: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
