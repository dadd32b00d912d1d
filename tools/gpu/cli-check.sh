#!/usr/bin/env bash
# tools/gpu/cli-check.sh — glas3d's main job end to end on the GPU machine, as a user runs it.
# Called by tools/gpu/run.sh (GLAS3D_GPU_CLI=1) with NODE, WORK (the unpacked app) and OUTDIR set
# and Vulkan already found. Synthesizes a small AD/NC cohort (glas3d synth), runs `glas3d run` with
# the bundled reference model on WebGPU with the perturbation in the graph (the GPU default) and on
# the host, and on the CPU; times each and compares their region rankings. Writes OUTDIR/cli.log.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${NODE:?}" "${WORK:?}" "${OUTDIR:?}"
CLI=("$NODE" "$WORK/app/cli.mjs")
T=$(mktemp -d /tmp/glas3d-cli.XXXXXX)
LOG=$OUTDIR/cli.log
{
  echo "== glas3d synth (8 AD + 8 NC, seed 7)"
  "${CLI[@]}" synth --out "$T/cohort" --n-ad 8 --n-nc 8 --seed 7 --quiet || exit 1
  for site in device host cpu; do
    device=webgpu perturbation=$site
    [ "$site" = cpu ] && device=cpu perturbation=host
    echo "== glas3d run --device $device --perturbation $perturbation"
    start=$(date +%s.%N)
    "${CLI[@]}" run --cohort "$T/cohort/ad" --control "$T/cohort/nc" --atlas aal \
      --model "$REPO/models/reference-cnn3d.onnx" --normalize zscore --device "$device" \
      --perturbation "$perturbation" --out "$T/run-$site" --quiet
    rc=$?
    end=$(date +%s.%N)
    echo "exit $rc, $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s for 16 subjects, 8 AD + 8 control (incl. start-up and cohort statistics)"
    head -7 "$T/run-$site/regions.csv" | cut -d, -f1-5
  done
  echo "== top-10 region indices: webgpu in graph, webgpu host, cpu"
  for site in device host cpu; do
    sed -n '2,11p' "$T/run-$site/regions.csv" | cut -d, -f3 | paste -sd' '
  done
  echo "== per-subject timing (the first subject's sidecar)"
  for site in device host cpu; do
    f=$(ls "$T/run-$site"/sub-*/*_desc-glas.json 2>/dev/null | head -1)
    [ -n "$f" ] && echo "$site: $("$NODE" -e 'console.log(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).timing))' "$f")"
  done
} 2>&1 | tee "$LOG"
