#!/usr/bin/env bash
# device_check.sh — the one prepared check of clft's CUDA backend on a lent GPU machine (an
# H100/H200 with the CUDA toolkit, cmake and Python with PyTorch, but none of clft's Debian
# libraries and no network). Run from the repository root, with the .deb files of
# scripts/device_debs.sh in .debs/ (carried there: they are git-ignored):
#
#     OUT=/some/dir scripts/device_check.sh        (OUT: where the results go; default out/device)
#
# From a session with a lent machine: scripts/device_debs.sh here first, then the device tool's run
# with carry [".debs"] (44 MiB) and a timeout of ~590 s; the files that come back belong in
# results/device/.
#
# Phases, each timed, logged and bounded (a phase that fails or runs out of time is recorded and
# the next one runs; the whole stays under CLFT_DEVICE_BUDGET seconds, 530 by default, i.e. at most
# 9 minutes with the summary):
#   unpack      dpkg -x every .deb into a prefix (ar + tar where dpkg-deb is absent); pkg-config,
#               include, library and Fashion-MNIST paths pointed at it
#   build       cmake with CLFT_CUDA=ON (AUTO without nvcc), CMAKE_CUDA_ARCHITECTURES from
#               nvidia-smi's compute capability, -j$(nproc), against the prefix
#   cuda_tests  test_backend_parity cpu cuda, test_backend_step cpu cuda, and both at tf32 and bf16
#               (cuda first: the harness holds its first backend to CLFT_PARITY_PRECISION)
#   mini        clft pretrain --baseline moco_v2 --preset mini --device cuda, 1 epoch, kNN monitor
#               every epoch; then clft eval --protocol knn for the floors (random encoder, pixels):
#               passes when the loss falls and the kNN top-1 beats the random-encoder floor
#   bench       bench_moco (MoCo v2 + FT step) clft vs PyTorch eager on the GPU, fp32 / tf32 / bf16:
#               resnet18 (small stem, 32x32x3, batch 256, K 4096) and resnet50 (224 px, K 65536,
#               batch 256, else 128 when 256 does not fit)
#   ctest_rest  every other ctest test (CPU), with what time is left
# Without nvidia-smi (a dry run on a machine with no GPU) the GPU phases are skipped and recorded so.
# Files under $OUT (what comes back from the device): device_check.log (everything), phases.csv
# (phase,status,seconds,detail), results.csv (kind,name,status,value,seconds: each test, the mini
# run's numbers), bench.csv (bench_moco --csv rows). The summary table is printed last.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/out/device}
WORK=${CLFT_DEVICE_WORK:-${TMPDIR:-/tmp}/clft-device}
DEBS=${CLFT_DEBS:-$ROOT/.debs}
BUDGET=${CLFT_DEVICE_BUDGET:-530}
PREFIX=$WORK/prefix BUILD=$WORK/build
ARCH=x86_64-linux-gnu
mkdir -p "$OUT" "$WORK"
LOG=$OUT/device_check.log PHASES=$OUT/phases.csv RESULTS=$OUT/results.csv BENCH=$OUT/bench.csv
: >"$LOG"
echo "phase,status,seconds,detail" >"$PHASES"
echo "kind,name,status,value,seconds" >"$RESULTS"
rm -f "$BENCH"
T0=$(date +%s)
NPROC=$(nproc)
GPU=0
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && GPU=1
export ROOT OUT WORK DEBS PREFIX BUILD ARCH LOG RESULTS BENCH T0 BUDGET NPROC GPU

left() { echo $((BUDGET - ($(date +%s) - T0))); }
log() { # to the log and the terminal; inside a phase (whose output is the log) to stderr only
  local line
  line="[$(date +%H:%M:%S) +$(($(date +%s) - T0))s] $*"
  if [ -n "${IN_PHASE:-}" ]; then echo "$line" >&2; else echo "$line" | tee -a "$LOG" >&2; fi
}
csv_field() { printf '%s' "$*" | tr ',\n' ';' | cut -c1-200; }
result() { # kind name status value seconds
  echo "$1,$2,$3,$(csv_field "$4"),$5" >>"$RESULTS"
}
export -f left log csv_field result

# phase NAME NEED LIMIT FUNCTION: FUNCTION under a timeout (LIMIT, or what is left of the budget);
# skipped when less than NEED seconds are left. Never fails: the status goes to phases.csv.
phase() {
  local name=$1 need=$2 limit=$3 fn=$4 l t rc status detail
  l=$(left)
  if [ "$l" -lt "$need" ]; then
    echo "$name,skipped,0,only ${l}s of the budget left (needs ${need}s)" >>"$PHASES"
    log "== $name skipped: only ${l}s left"
    return 0
  fi
  [ "$limit" -gt "$l" ] && limit=$l
  log "== $name (limit ${limit}s)"
  t=$(date +%s)
  rc=0
  PHASE_LIMIT=$limit IN_PHASE=1 timeout -k 10 "$limit" bash -euo pipefail -c "$fn" >>"$LOG" 2>&1 || rc=$?
  case $rc in
  0) status=ok ;;
  124 | 137) status=timeout ;;
  *) status="failed(rc=$rc)" ;;
  esac
  detail=$(cat "$WORK/$name.detail" 2>/dev/null || true)
  echo "$name,$status,$(($(date +%s) - t)),$(csv_field "$detail")" >>"$PHASES"
  log "== $name: $status in $(($(date +%s) - t))s ${detail:+($detail)}"
}

# ---- phases (each runs in its own bash; they share files under $WORK) ----

# One .deb into the prefix: dpkg-deb, else ar + tar, else Python (a .deb is an ar archive whose
# data.tar.* member holds the files).
unpack_deb() {
  local deb=$1 tmp
  if command -v dpkg-deb >/dev/null 2>&1; then
    dpkg-deb -x "$deb" "$PREFIX"
    return
  fi
  tmp=$(mktemp -d)
  if command -v ar >/dev/null 2>&1 && (cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$PREFIX") 2>/dev/null; then
    rm -rf "$tmp"
    return
  fi
  rm -rf "$tmp"
  python3 - "$deb" "$PREFIX" <<'PY'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
with open(deb, "rb") as f:
    assert f.read(8) == b"!<arch>\n", deb
    while True:
        h = f.read(60)
        if len(h) < 60:
            sys.exit("no data.tar member in " + deb)
        name, size = h[:16].decode().strip().rstrip("/"), int(h[48:58])
        body = f.read(size)
        f.read(size % 2)
        if name.startswith("data.tar"):
            tarfile.open(fileobj=io.BytesIO(body)).extractall(dest)
            break
PY
}
export -f unpack_deb

phase_unpack() {
  ls "$DEBS"/*.deb >/dev/null || { echo "no .deb files in $DEBS (scripts/device_debs.sh)" >"$WORK/unpack.detail"; exit 1; }
  rm -rf "$PREFIX" && mkdir -p "$PREFIX"
  n=0
  for f in "$DEBS"/*.deb; do unpack_deb "$f" && n=$((n + 1)); done
  # Absolute symlinks (zlib1g-dev's libz.so -> /lib/...) must point into the prefix, not at the
  # machine's own files (which may be another version, or absent).
  find "$PREFIX" -type l -lname '/*' | while read -r l; do ln -sfn "$PREFIX$(readlink "$l")" "$l"; done
  FM=$PREFIX/usr/share/datasets/fashion-mnist
  ls "$FM"/train-images-idx3-ubyte.gz >/dev/null
  # Tests that read Fashion-MNIST at Debian's path find it there when the machine lets us link it.
  if [ ! -e /usr/share/datasets/fashion-mnist ] && mkdir -p /usr/share/datasets 2>/dev/null; then
    ln -s "$FM" /usr/share/datasets/fashion-mnist 2>/dev/null || true
  fi
  PC=$(command -v pkg-config || echo "$PREFIX/usr/bin/pkgconf")
  cat >"$WORK/env.sh" <<EOF
export PKG_CONFIG_LIBDIR="$PREFIX/usr/lib/$ARCH/pkgconfig:$PREFIX/usr/share/pkgconfig:$PREFIX/usr/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$PREFIX" PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
export LD_LIBRARY_PATH="$PREFIX/usr/lib/$ARCH:$PREFIX/lib/$ARCH:$PREFIX/usr/lib/$ARCH/openblas-pthread\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export CFLAGS="-I$PREFIX/usr/include -I$PREFIX/usr/include/$ARCH" LDFLAGS="-L$PREFIX/usr/lib/$ARCH -L$PREFIX/lib/$ARCH"
export CLFT_PKG_CONFIG="$PC" FM="$FM"
EOF
  echo "$n packages into $PREFIX; glibc $(ldd --version 2>/dev/null | head -1 | grep -o '[0-9.]*$'); debs ask for $(awk 'NR>1 && $4!="-"{print $4}' "$DEBS/MANIFEST" 2>/dev/null | sort -V | tail -1)" >"$WORK/unpack.detail"
}

phase_build() {
  . "$WORK/env.sh"
  NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  args=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX/usr" -DPKG_CONFIG_EXECUTABLE="$CLFT_PKG_CONFIG"
        -DOPENBLAS_INCLUDE_DIR="$PREFIX/usr/include/$ARCH/openblas-pthread"
        -DOPENBLAS_LIBRARY="$PREFIX/usr/lib/$ARCH/openblas-pthread/libopenblas.so" -DCLFT_MPI=OFF)
  if [ -x "$NVCC" ]; then
    args+=(-DCLFT_CUDA=ON -DCMAKE_CUDA_COMPILER="$NVCC")
    # No system cuDNN: PyTorch's wheel ships one (nvidia-cudnn-cu*), headers and libraries.
    cuda_inc=$(dirname "$(dirname "$NVCC")")/include
    if ! ls "$cuda_inc"/cudnn.h /usr/include/cudnn.h /usr/local/include/cudnn.h >/dev/null 2>&1 &&
       dn=$(env -u LD_LIBRARY_PATH python3 -c 'import nvidia.cudnn as m, os; print(os.path.dirname(m.__file__) if m.__file__ else list(m.__path__)[0])' 2>/dev/null) &&
       [ -f "$dn/include/cudnn.h" ]; then
      lib=$(ls "$dn"/lib/libcudnn.so* | head -1)
      echo "cuDNN from PyTorch's wheel: $dn ($lib)"
      args+=(-DCUDNN_INCLUDE_DIR="$dn/include" -DCUDNN_LIBRARY="$lib")
      echo "export LD_LIBRARY_PATH=\"$dn/lib:\$LD_LIBRARY_PATH\"" >>"$WORK/env.sh"
    fi
    if [ "$GPU" = 1 ]; then
      cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
      [ -n "$cap" ] && args+=(-DCMAKE_CUDA_ARCHITECTURES="$cap")
    fi
  fi
  cmake -S "$ROOT" -B "$BUILD" "${args[@]}"
  cmake --build "$BUILD" -j "$NPROC" 2>&1 | grep -Ev '^\[ *[0-9]+%\] (Building|Linking)' || true
  [ -x "$BUILD/clft" ] && [ -x "$BUILD/test_backend_parity" ] && [ -x "$BUILD/bench_moco" ]
  "$BUILD/clft" --version
  echo "-- what the build found (all under $PREFIX, not the system):"
  grep -E '^(OPENBLAS_LIBRARY|CSV_LIBRARY|CSV_INCLUDE_DIR|JPEG_LIBRARY_RELEASE|PNG_LIBRARY_RELEASE|ZLIB_LIBRARY_RELEASE|CMOCKA_LINK_LIBRARIES|INIH_LINK_LIBRARIES|CJSON_LINK_LIBRARIES|CUDNN_LIBRARY):' "$BUILD/CMakeCache.txt" || true
  ldd "$BUILD/clft" | grep -E 'openblas|inih|cjson|csv|jpeg|png|libz|cudnn|cublas|cudart|gfortran' || true
  echo "$("$BUILD/clft" --version | grep 'backends')" >"$WORK/build.detail"
}

phase_cuda_tests() {
  . "$WORK/env.sh"
  export CLFT_CUDA_VERBOSE=1 # every convolution plan: algorithms, math types, workspace
  fails=0
  for prec in fp32 tf32 bf16; do
    for t in test_backend_parity test_backend_step; do
      if [ "$prec" = fp32 ]; then pair="cpu cuda"; else pair="cuda cpu"; fi
      name="${t}_cuda_$prec"
      log "-- $name ($pair)"
      s=$(date +%s) rc=0
      (cd "$ROOT" && CLFT_PARITY_PRECISION=$prec CLFT_PARITY_VERBOSE=1 timeout 120 "$BUILD/$t" $pair) >"$WORK/$name.out" 2>&1 || rc=$?
      cat "$WORK/$name.out"
      case $rc in 0) st=passed ;; 77) st=skipped ;; 124) st=timeout ;; *) st="failed(rc=$rc)" fails=$((fails + 1)) ;; esac
      worst=$(grep -Eo '[0-9.]+e[-+][0-9]+ \(bound' "$WORK/$name.out" | sort -g | tail -1 | cut -d' ' -f1 || true)
      result test "$name" "$st" "${worst:+max_err=$worst}$(grep -m1 -Eo '(FAILED|fail).*' "$WORK/$name.out" | head -c 150 || true)" $(($(date +%s) - s))
    done
  done
  echo "$fails of 6 failed" >"$WORK/cuda_tests.detail"
  [ "$fails" = 0 ]
}

phase_mini() {
  . "$WORK/env.sh"
  run=$WORK/runs/mini
  rm -rf "$run"
  workers=$((NPROC > 16 ? 16 : NPROC))
  s=$(date +%s)
  "$BUILD/clft" pretrain --baseline moco_v2 --preset mini --device cuda --data "fashion-mnist:$FM" \
    --set optim.epochs=1 --set run.knn_every=1 --set data.workers="$workers" --out "$run" --quiet
  result mini pretrain_1_epoch "done" "$(tail -1 "$run/train.csv" | cut -d, -f6 | xargs printf 'img_per_s=%.0f')" $(($(date +%s) - s))
  s=$(date +%s)
  "$BUILD/clft" eval --run "$run" --protocol knn --device cuda --quiet
  result mini eval_knn_floors "done" "" $(($(date +%s) - s))
  cp "$run/eval.csv" "$WORK/mini_eval.csv"
  # loss: mean of the first and of the last 5 logged steps; kNN top-1 of the run and the floors
  read -r first last < <(awk -F, 'NR>1{l[n++]=$4} END{a=b=0; for(i=0;i<5&&i<n;i++){a+=l[i]; b+=l[n-1-i]}; k=(n<5?n:5); printf "%.4f %.4f\n", a/k, b/k}' "$run/train.csv")
  knn=$(awk -F, '$1=="knn" && $4=="top1"{print $5}' "$run/eval.csv" | tail -1)
  mon=$(awk -F, '$1=="knn_monitor" && $4=="top1"{print $5}' "$run/eval.csv" | tail -1)
  rnd=$(awk -F, '$1=="knn_random" && $4=="top1"{print $5}' "$run/eval.csv" | tail -1)
  pix=$(awk -F, '$1=="knn_pixels" && $4=="top1"{print $5}' "$run/eval.csv" | tail -1)
  falls=$(awk -v a="$first" -v b="$last" 'BEGIN{print (b < a) ? "yes" : "no"}')
  beats=$(awk -v a="${knn:-0}" -v b="${rnd:-100}" 'BEGIN{print (a > b) ? "yes" : "no"}')
  result mini loss_first5 - "$first" 0
  result mini loss_last5 "falls=$falls" "$last" 0
  result mini knn_monitor_top1 - "${mon:-nan}" 0
  result mini knn_top1 "beats_random=$beats" "${knn:-nan}" 0
  result mini knn_random_floor_top1 - "${rnd:-nan}" 0
  result mini knn_pixels_floor_top1 - "${pix:-nan}" 0
  echo "loss $first -> $last; kNN $knn vs random $rnd, pixels $pix" >"$WORK/mini.detail"
  [ "$falls" = yes ] && [ "$beats" = yes ]
}

phase_bench() {
  . "$WORK/env.sh"
  export CLFT_CUDA_VERBOSE=1
  py=""
  for c in python3 /usr/bin/python3 python; do
    if env -u LD_LIBRARY_PATH "$c" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then py=$c; break; fi
  done
  torch=(--python "env -u LD_LIBRARY_PATH $py")
  [ -z "$py" ] && torch=(--no-torch) && log "no Python with CUDA PyTorch: clft only"
  [ -n "$py" ] && env -u LD_LIBRARY_PATH "$py" -c 'import torch; print("torch", torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))'
  for net in resnet18 resnet50; do
    for prec in fp32 tf32 bf16; do
      if [ "$net" = resnet50 ]; then steps=(--warmup 2 --steps 5); else steps=(--warmup 3 --steps 10); fi
      [ "$(left)" -lt 60 ] && { log "bench: out of time before $net $prec"; break 2; }
      log "-- bench $net $prec"
      rc=0
      (cd "$ROOT" && timeout 200 "$BUILD/bench_moco" --net "$net" --device cuda --precision "$prec" --variant ft \
        --rounds 1 "${steps[@]}" "${torch[@]}" --csv "$BENCH") || rc=$?
      if [ "$net" = resnet50 ] && ! tail -1 "$BENCH" 2>/dev/null | grep -q ',ok$' && [ "$(left)" -gt 90 ]; then
        log "-- bench $net $prec at batch 128 (256: $(tail -1 "$BENCH" | awk -F, '{print $NF}'), rc $rc)"
        (cd "$ROOT" && timeout 150 "$BUILD/bench_moco" --net "$net" --device cuda --precision "$prec" --variant ft \
          --rounds 1 --batch 128 "${steps[@]}" "${torch[@]}" --csv "$BENCH") || true
      fi
    done
  done
  echo "$(awk -F, 'NR>1' "$BENCH" 2>/dev/null | wc -l) rows" >"$WORK/bench.detail"
  [ -s "$BENCH" ]
}

phase_ctest_rest() {
  . "$WORK/env.sh"
  rc=0
  # ctest's own limit inside the phase's, so that what did run is still parsed and recorded
  (cd "$BUILD" && timeout -k 5 $((PHASE_LIMIT - 20)) ctest -E '_cuda' -j "$NPROC" --timeout 300 \
    --output-on-failure) 2>&1 | tee "$WORK/ctest.out" || rc=$?
  sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) \.+ *(\*\*\*)?([A-Za-z]+[^0-9]*) +([0-9.]+) sec$/\1,\3,\4/p' "$WORK/ctest.out" |
    while IFS=, read -r n st sec; do result ctest "$n" "$(echo "$st" | xargs)" "" "$sec"; done
  grep -E 'tests passed|tests failed' "$WORK/ctest.out" | tail -1 >"$WORK/ctest_rest.detail" || true
  return $rc
}

export -f phase_unpack phase_build phase_cuda_tests phase_mini phase_bench phase_ctest_rest

log "clft device check: $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo no-git), $NPROC CPUs, budget ${BUDGET}s"
if [ "$GPU" = 1 ]; then nvidia-smi -L | tee -a "$LOG" >&2; else log "no nvidia-smi: a dry run, the GPU phases are skipped"; fi
phase unpack 5 60 phase_unpack
phase build 60 300 phase_build
if [ -x "$BUILD/clft" ] && [ "$GPU" = 1 ]; then
  phase cuda_tests 30 200 phase_cuda_tests
  phase mini 60 150 phase_mini
  phase bench 60 330 phase_bench
else
  why=$([ "$GPU" = 1 ] && echo "no build" || echo "no GPU (nvidia-smi absent)")
  for p in cuda_tests mini bench; do echo "$p,skipped,0,$why" >>"$PHASES"; done
fi
if [ -x "$BUILD/clft" ]; then phase ctest_rest 40 300 phase_ctest_rest; else echo "ctest_rest,skipped,0,no build" >>"$PHASES"; fi

# ---- summary, last ----
table() { awk -F, '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; if (NF > m) m = NF }
  END { for (r = 1; r <= n; r++) { s = ""; for (i = 1; i <= m; i++) s = s sprintf("%-" w[i] + 2 "s", c[r, i]); print s } }' "$@"; }
{
  echo
  echo "==== clft device check: $(($(date +%s) - T0))s of ${BUDGET}s ===="
  table "$PHASES"
  echo
  grep -Ev '^ctest,' "$RESULTS" | table
  echo "ctest (rest): $(grep '^ctest,' "$RESULTS" | grep -c ',Passed,' || true) passed, $(grep '^ctest,' "$RESULTS" | grep -vc ',Passed,' || true) not passed"
  if [ -s "$BENCH" ]; then
    echo
    cut -d, -f1,3,5,6,7,8,9,12,13 "$BENCH" | table
  fi
} | tee -a "$LOG"
