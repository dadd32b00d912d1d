#!/usr/bin/env bash
# tools/gpu/train-on-device.sh OUTDIR — on the GPU machine: synthesize the reference model's
# training cohort (glas3d synth, many processes in parallel) and a held-out cohort of another
# seed, train the paper's 3D CNN there with PyTorch on the GPU (tools/train-reference/train.py),
# and leave the weights (reference-cnn3d.bin/.json) and the logs in OUTDIR. Uses the Node binary
# and the bundled CLI from the .gpu pack (tools/gpu/pack.sh): the machine has no Node.js.
# Env: GLAS3D_TRAIN_N (per group, default 200), GLAS3D_TEST_N (per group, default 30),
#      GLAS3D_TRAIN_EPOCHS (default 8), GLAS3D_SYNTH_JOBS (default: cores).
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUTDIR=${1:?usage: tools/gpu/train-on-device.sh OUTDIR}
mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd)
N=${GLAS3D_TRAIN_N:-200}
NT=${GLAS3D_TEST_N:-30}
EPOCHS=${GLAS3D_TRAIN_EPOCHS:-8}
JOBS=${GLAS3D_SYNTH_JOBS:-$(nproc)}
WORK=/tmp/glas3d-train
rm -rf "$WORK" && mkdir -p "$WORK"
for archive in "$REPO"/.gpu/*.tar.xz; do tar -xJf "$archive" -C "$WORK"; done
ln -sfn "$REPO/atlases" "$WORK/app/atlases"
NODE=$WORK/node/node
CLI=$WORK/app/cli.mjs
t0=$(date +%s)
# The training cohort: JOBS cohorts of seeds 1001.., N/JOBS subjects per group each.
per=$(((N + JOBS - 1) / JOBS))
echo "== synth: $JOBS jobs × $per AD + $per NC (train), and $NT + $NT (test, seed 2026)"
for j in $(seq 1 "$JOBS"); do
  "$NODE" "$CLI" synth --out "$WORK/train/part-$j" --n-ad "$per" --n-nc "$per" --seed $((1000 + j)) --quiet \
    >"$WORK/synth-$j.log" 2>&1 &
done
"$NODE" "$CLI" synth --out "$WORK/test" --n-ad "$NT" --n-nc "$NT" --seed 2026 --quiet >"$WORK/synth-test.log" 2>&1 &
wait
mkdir -p "$WORK/all/ad" "$WORK/all/nc"
for j in $(seq 1 "$JOBS"); do
  for g in ad nc; do
    for f in "$WORK/train/part-$j/$g"/*.nii*; do ln -s "$f" "$WORK/all/$g/p$j-$(basename "$f")"; done
  done
done
cat "$WORK"/synth-*.log | tail -n 20
echo "synth done in $(($(date +%s) - t0)) s: $(ls "$WORK/all/ad" | wc -l) AD, $(ls "$WORK/all/nc" | wc -l) NC, test $(ls "$WORK/test/ad" | wc -l)+$(ls "$WORK/test/nc" | wc -l)"
echo "== train ($EPOCHS epochs)"
t1=$(date +%s)
PYTHONUNBUFFERED=1 python3 "$REPO/tools/train-reference/train.py" --train "$WORK/all" --test "$WORK/test" \
  --out "$OUTDIR/reference-cnn3d" --epochs "$EPOCHS" 2>&1 | tee "$OUTDIR/train.log"
echo "training took $(($(date +%s) - t1)) s"
