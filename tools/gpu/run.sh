#!/usr/bin/env bash
# tools/gpu/run.sh OUTDIR [bench:gpu options…] — runs bench:gpu from the .gpu/ pack (made by
# tools/gpu/pack.sh) on a bare GPU server: no network, no Node.js, maybe no Vulkan loader.
# Run from anywhere inside the repo copy. It
#   1. unpacks .gpu/*.tar.xz into $GLAS3D_GPU_WORK (default /tmp/glas3d-gpu) and links atlases/;
#   2. makes the Vulkan loader available: when none is installed, the .gl/*.deb loaders go into /
#      (root with an NVIDIA driver: the device README's recipe, dpkg -x + ldconfig), else into a
#      private folder on LD_LIBRARY_PATH (so a test run elsewhere leaves / alone);
#   3. points Vulkan (and EGL) at NVIDIA's ICD when it is outside the standard folders, and prints
#      every nvidia_icd.json it found; prints nvidia-smi; looks for onnxruntime CUDA providers;
#   4. runs the bench under a time limit ($GLAS3D_GPU_LIMIT_S, default 300 s; no row starts in
#      the last 60 s), writing OUTDIR/bench.json, stdout.log, stderr.log, env.txt and
#      placements.txt (onnxruntime's node placements on GPU devices), and prints the table again
#      at the end;
#   (GLAS3D_GPU_BENCH=0 skips the bench)
#   5. then (unless GLAS3D_GPU_PROFILE=0) runs bench/gpu-profile.ts for GPU kernel times per
#      model, into OUTDIR/profile.json and profile.log (limit $GLAS3D_GPU_PROFILE_S, default 180 s);
#   6. with GLAS3D_GPU_CLI=1, runs tools/gpu/cli-check.sh: glas3d synth + glas3d run on WebGPU,
#      perturbation in the graph vs on the host (OUTDIR/cli.log);
#   7. with GLAS3D_GPU_BATCHES="32 64 …", runs the bench once per batch size on WebGPU for the
#      cases in $GLAS3D_GPU_SWEEP_CASES (default 2d-float): OUTDIR/sweep.log and sweep-N.json
#      (this sweep runs before step 4).
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUTDIR=${1:?usage: tools/gpu/run.sh OUTDIR [bench options]}
shift
mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=${GLAS3D_GPU_WORK:-/tmp/glas3d-gpu}
LIMIT=${GLAS3D_GPU_LIMIT_S:-300}
ENVLOG=$OUTDIR/env.txt
: >"$ENVLOG"
say() { echo "$*" | tee -a "$ENVLOG"; }

say "== glas3d bench:gpu on $(hostname) ($(uname -srm)), $(date -u +%FT%TZ), user $(id -un)"
if ! ls "$REPO"/.gpu/*.tar.xz >/dev/null 2>&1; then
  say "no .gpu/*.tar.xz in $REPO: run tools/gpu/pack.sh first and carry .gpu"
  exit 2
fi
t0=$(date +%s)
rm -rf "$WORK" && mkdir -p "$WORK"
for archive in "$REPO"/.gpu/*.tar.xz; do
  tar -xJf "$archive" -C "$WORK" || { say "cannot unpack $archive"; exit 2; }
done
ln -sfn "$REPO/atlases" "$WORK/app/atlases"
NODE=$WORK/node/node
say "unpacked $(du -sh "$WORK" | cut -f1) in $(($(date +%s) - t0)) s; node $("$NODE" --version 2>&1)"

echo "== GPU loaders" | tee -a "$ENVLOG"
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  say "Vulkan loader: installed ($(ldconfig -p | grep 'libvulkan\.so\.1' | head -1 | sed 's/.*=> //'))"
elif ls "$REPO"/.gl/*.deb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v nvidia-smi >/dev/null 2>&1; then
    for f in "$REPO"/.gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    say "Vulkan loader: installed .gl/*.deb into / ($(ldconfig -p | grep -c 'libvulkan\.so\.1') libvulkan.so.1 now)"
  else
    mkdir -p "$WORK/gl"
    for f in "$REPO"/.gl/*.deb; do dpkg -x "$f" "$WORK/gl"; done
    export LD_LIBRARY_PATH="$WORK/gl/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "Vulkan loader: .gl/*.deb unpacked into $WORK/gl, on LD_LIBRARY_PATH (not root or no NVIDIA driver: / left alone)"
  fi
else
  say "Vulkan loader: none installed and no .gl/*.deb carried; WebGPU will find no adapter"
fi
icds=$(timeout 20 find /usr/local/nvidia /usr/share/vulkan /etc/vulkan /usr/local/share/vulkan /opt \
  -name 'nvidia_icd*.json' 2>/dev/null | sort -u)
say "nvidia_icd.json found: ${icds:-none}"
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -n "$icds" ]; then
  if ! echo "$icds" | grep -qE '^/(etc|usr/share|usr/local/share)/vulkan/icd\.d/'; then
    # Outside the loader's own search folders: it would not find it by itself.
    VK_DRIVER_FILES=$(echo "$icds" | head -1)
    export VK_DRIVER_FILES
    say "VK_DRIVER_FILES=$VK_DRIVER_FILES"
  fi
fi
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f "$egl" ]; then
  export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
  say "__EGL_VENDOR_LIBRARY_FILENAMES=$egl"
fi

echo "== nvidia-smi" | tee -a "$ENVLOG"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi 2>&1 | tee -a "$ENVLOG"
else
  say "nvidia-smi: not found"
fi
# npm's onnxruntime-node ships no CUDA provider; use one beside a Python onnxruntime(-gpu) when
# its version matches (a mismatched one is only reported: it would fail to load or crash).
ORT_BIN=$WORK/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64
ORT_VERSION=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$WORK/app/node_modules/onnxruntime-node/package.json" | head -1)
cuda_ep=$(timeout 20 find /usr /opt /root /home -name 'libonnxruntime_providers_cuda.so' 2>/dev/null | head -3)
say "onnxruntime CUDA provider libraries: ${cuda_ep:-none found} (onnxruntime-node is $ORT_VERSION)"
for lib in $cuda_ep; do
  dir=$(dirname "$lib")
  version=$(ls -d "$dir"/../../onnxruntime*.dist-info 2>/dev/null | head -1 | sed -n 's/.*onnxruntime[_a-z-]*-\([0-9.]*\)\.dist-info.*/\1/p')
  if [ "$version" = "$ORT_VERSION" ] && [ -f "$dir/libonnxruntime_providers_shared.so" ]; then
    cp "$lib" "$dir/libonnxruntime_providers_shared.so" "$ORT_BIN/"
    say "using the CUDA provider from $dir (onnxruntime $version)"
    break
  fi
  say "not using $lib (onnxruntime ${version:-of unknown version})"
done

rc=0
cd "$WORK/app"
# The batch sweep runs first: it is the short, targeted measurement a lease is most often for.
for batch in ${GLAS3D_GPU_BATCHES:-}; do
  echo "== batch sweep: --batch $batch --cases ${GLAS3D_GPU_SWEEP_CASES:-2d-float}" | tee -a "$OUTDIR/sweep.log"
  timeout --kill-after=15 120 "$NODE" bench.mjs --data "$WORK/app/data" --devices webgpu \
    --cases "${GLAS3D_GPU_SWEEP_CASES:-2d-float}" --batch "$batch" --no-placements --budget-s 90 \
    --out "$OUTDIR/sweep-$batch.json" 2>>"$OUTDIR/sweep-stderr.log" |
    sed -n '/^case  /,/^$/p' | tee -a "$OUTDIR/sweep.log"
done
if [ "${GLAS3D_GPU_BENCH:-1}" != 0 ]; then
echo "== bench (limit ${LIMIT} s)" | tee -a "$ENVLOG"
budget=$((LIMIT > 120 ? LIMIT - 60 : LIMIT / 2))
timeout --kill-after=15 "$LIMIT" "$NODE" bench.mjs --data "$WORK/app/data" \
  --out "$OUTDIR/bench.json" --budget-s "$budget" "$@" \
  2>"$OUTDIR/stderr.log" | tee "$OUTDIR/stdout.log"
rc=${PIPESTATUS[0]}
say "== bench exit code $rc$([ "$rc" = 124 ] && echo " (time limit of $LIMIT s: rows so far are in bench.json)")"
# onnxruntime's node placements for GPU devices (bench:gpu logs them after marker lines).
grep -E 'placement log:|VerifyEachNodeIsAssignedToAnEp' "$OUTDIR/stderr.log" |
  sed 's/^.*VerifyEachNodeIsAssignedToAnEp\] //' >"$OUTDIR/placements.txt"
if [ -s "$OUTDIR/placements.txt" ]; then
  echo "== node placements (per provider; node lists in placements.txt)"
  grep -E 'placement log:|placed on' "$OUTDIR/placements.txt"
fi
echo "== stderr without onnxruntime's verbose/info lines (last 12, cut at 240 characters; all in stderr.log)"
grep -v -E '\[[VI]:onnxruntime' "$OUTDIR/stderr.log" | tail -n 12 | cut -c1-240
echo "== table"
sed -n '/^case  /,$p' "$OUTDIR/stdout.log"
fi
if [ "${GLAS3D_GPU_PROFILE:-1}" != 0 ] && [ -f "$WORK/app/profile.mjs" ]; then
  echo "== kernel profile (bench/gpu-profile.ts, limit ${GLAS3D_GPU_PROFILE_S:-180} s)" | tee -a "$ENVLOG"
  timeout --kill-after=15 "${GLAS3D_GPU_PROFILE_S:-180}" "$NODE" profile.mjs --data "$WORK/app/data" \
    --out "$OUTDIR" ${GLAS3D_GPU_PROFILE_ARGS:-} --budget-s $((${GLAS3D_GPU_PROFILE_S:-180} - 40)) \
    2>"$OUTDIR/profile-stderr.log" | tee "$OUTDIR/profile.log"
  say "== profile exit code ${PIPESTATUS[0]}"
fi
if [ "${GLAS3D_GPU_CLI:-0}" = 1 ]; then
  echo "== glas3d CLI end to end (tools/gpu/cli-check.sh)" | tee -a "$ENVLOG"
  NODE=$NODE WORK=$WORK OUTDIR=$OUTDIR timeout 300 bash "$REPO/tools/gpu/cli-check.sh"
fi
exit "$rc"
