#!/usr/bin/env bash
# device_debs.sh — fetch, HERE (a Debian 12 machine with network), the .deb files that
# scripts/device_check.sh unpacks on a lent GPU machine that has the CUDA toolkit, cmake and Python
# with PyTorch but none of clft's Debian libraries and no network.
#
#   scripts/device_debs.sh [DIR]        (default DIR = .debs, ignored by git)
#
# What: the runtime AND -dev packages clft's build and tests need (OpenBLAS pthread flavour, oneDNN, inih,
# cJSON, libcsv, cmocka, libjpeg-turbo, libpng, zlib, pkg-config), their library dependencies, and
# the Fashion-MNIST data (dataset-fashion-mnist). Not fetched: what every glibc system with a C
# compiler has (libc6, libgcc-s1, libstdc++6, libgomp1 and their -dev/base packages). Each
# package is fetched at this machine's candidate version with `apt-get download` (no root, no
# install); DIR/MANIFEST lists name, version, file and the newest GLIBC symbol version its shared
# libraries and programs ask for (the GPU machine's glibc must be at least that: `ldd --version`;
# for Debian 12's packages it is 2.34, so Ubuntu 22.04 and newer, RHEL 9 and newer will do).
set -euo pipefail
dir=${1:-.debs}
mkdir -p "$dir"
# The list, in dependency order of no importance (dpkg -x does not care).
PKGS=(
  libopenblas0-pthread libopenblas0 libopenblas-pthread-dev libopenblas-dev libgfortran5 libquadmath0
  libdnnl2 libdnnl-dev ocl-icd-libopencl1
  libinih1 libinireader0 libinih-dev
  libcjson1 libcjson-dev
  libcsv3 libcsv-dev
  libcmocka0 libcmocka-dev
  libjpeg62-turbo libjpeg62-turbo-dev
  libpng16-16 libpng-dev
  zlib1g zlib1g-dev
  pkg-config pkgconf pkgconf-bin libpkgconf3
  dataset-fashion-mnist
)
# Anything those depend on that is neither in the list nor a base package is an error: the list
# must be kept complete by hand (a new Debian point release may add a dependency).
BASE='^(libc6|libc6-dev|libc-dev-bin|libcrypt1|libcrypt-dev|libnsl2|libnsl-dev|libtirpc.*|linux-libc-dev|rpcsvc-proto|libgssapi-krb5-2|libkrb5.*|libk5crypto3|libkeyutils1|libcom-err2|libssl3|gcc-12-base|libgcc-s1|libstdc\+\+6|libgomp1|libopenblas0-openmp|libopenblas0-serial|libopenblas-openmp-dev|libopenblas-serial-dev)$'
missing=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "${PKGS[@]}" 2>/dev/null | grep -v '^[ <]' | sort -u |
          grep -Ev "$BASE" | grep -vxF -f <(printf '%s\n' "${PKGS[@]}") || true)
if [ -n "$missing" ]; then
  echo "device_debs: dependencies not in the list (add them to PKGS or BASE): $missing" >&2
  exit 1
fi
cd "$dir"
rm -f ./*.deb MANIFEST
apt-get download "${PKGS[@]}" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  echo "# package version file max_glibc (fetched $(date -u +%Y-%m-%dT%H:%MZ) on $(. /etc/os-release; echo "$PRETTY_NAME"))"
  for f in *.deb; do
    name=$(dpkg-deb -f "$f" Package) ver=$(dpkg-deb -f "$f" Version)
    rm -rf "${tmp:?}"/x && dpkg -x "$f" "$tmp/x"
    glibc=$(find "$tmp/x" -type f \( -name '*.so*' -o -path '*/bin/*' \) -exec objdump -T {} + 2>/dev/null |
            grep -o 'GLIBC_[0-9.]*' | sort -t. -k1,1 -k2,2n -k3,3n -u | tail -1 || true)
    echo "$name $ver $f ${glibc:--}"
  done
} > MANIFEST
echo "device_debs: $(ls ./*.deb | wc -l) packages, $(du -sh . | cut -f1) in $dir (MANIFEST beside them)"
