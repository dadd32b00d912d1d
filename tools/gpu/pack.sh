#!/usr/bin/env bash
# tools/gpu/pack.sh — packs what `npm run bench:gpu` needs for a bare GPU server (no network,
# no Node.js, maybe no Vulkan loader) into .gpu/ (ignored through .git/info/exclude, never
# committed), to travel with the repo and be run there by tools/gpu/run.sh:
#   .gpu/node.tar.xz  this machine's Node binary (stripped), rebuilt only when it changes;
#   .gpu/app.tar.xz   app/bench.mjs (bench/gpu.ts and its src imports, bundled by esbuild),
#                     app/profile.mjs (bench/gpu-profile.ts), a
#                     package.json naming the glas3d root, onnxruntime-node (JS + Linux x64
#                     native libs), onnxruntime-common, sharp (+ libvips), and app/data: MobileNetV2 int8, the
#                     photos and their preprocessed tensors (so the server needs no sharp);
#   .gl/*.deb         Debian's Vulkan/EGL/GL loaders (downloaded here when missing).
# Usage (repo root or anywhere): tools/gpu/pack.sh   Env: GLAS3D_DATA (default ../shared/data/imagenet)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
DATA=${GLAS3D_DATA:-$REPO/../shared/data/imagenet}
LIMIT_MIB=64
for p in /.gpu/ /.gl/; do
  grep -qxF "$p" .git/info/exclude 2>/dev/null || echo "$p" >>.git/info/exclude
done
mkdir -p .gpu .gl
STAGE=$(mktemp -d /tmp/glas3d-pack.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT

echo "== bundle bench/gpu.ts"
APP=$STAGE/app
mkdir -p "$APP"
node_modules/.bin/esbuild bench/gpu.ts --bundle --platform=node --format=esm --target=node20 \
  --external:onnxruntime-node --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __glas3dRequire } from 'node:module'; const require = __glas3dRequire(import.meta.url);" \
  --outfile="$APP/bench.mjs"
# The kernel-by-kernel profile (bench/gpu-profile.ts), which run.sh runs after the bench.
node_modules/.bin/esbuild bench/gpu-profile.ts --bundle --platform=node --format=esm --target=node20 \
  --external:onnxruntime-node --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __glas3dRequire } from 'node:module'; const require = __glas3dRequire(import.meta.url);" \
  --outfile="$APP/profile.mjs"
# The CLI too (glas3d synth for training the reference model there: tools/gpu/train-on-device.sh).
node_modules/.bin/esbuild src/cli/entry.ts --bundle --platform=node --format=esm --target=node20 \
  --external:onnxruntime-node --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __glas3dRequire } from 'node:module'; const require = __glas3dRequire(import.meta.url);" \
  --outfile="$APP/cli.mjs"
# packageRoot() looks for the nearest package.json named glas3d; run.sh links atlases/ beside it.
printf '{ "name": "glas3d", "private": true, "type": "module" }\n' >"$APP/package.json"

echo "== onnxruntime-node (linux/x64) and onnxruntime-common"
ORT=node_modules/onnxruntime-node
COMMON=node_modules/onnxruntime-common
mkdir -p "$APP/$ORT/bin/napi-v6/linux" "$APP/$COMMON"
cp -r "$ORT/package.json" "$ORT/dist" "$APP/$ORT/"
cp -r "$ORT/bin/napi-v6/linux/x64" "$APP/$ORT/bin/napi-v6/linux/"
cp -r "$COMMON/package.json" "$COMMON/dist" "$APP/$COMMON/"

echo "== sharp (the CLI's image decoding; tools/gpu/cli-check.sh runs the CLI there)"
for m in sharp @img/colour @img/sharp-linux-x64 @img/sharp-libvips-linux-x64 detect-libc semver; do
  mkdir -p "$APP/node_modules/$(dirname "$m")"
  cp -r "node_modules/$m" "$APP/node_modules/$m"
done

echo "== data from $DATA"
mkdir -p "$APP/data"
if [ -f "$DATA/mobilenetv2-12-int8.onnx" ]; then
  cp "$DATA/mobilenetv2-12-int8.onnx" "$APP/data/"
  for photo in finch.jpeg samoyed.jpg; do
    [ -f "$DATA/$photo" ] && cp "$DATA/$photo" "$APP/data/"
  done
  npx tsx bench/gpu.ts --write-tensors "$APP/data" --data "$APP/data" --images 2 2>&1 | grep -v '^npm warn' || true
else
  echo "   $DATA/mobilenetv2-12-int8.onnx is missing: the 2-D case will be skipped there"
fi
tar -C "$STAGE" -cf - app | xz -T0 -6 >.gpu/app.tar.xz

echo "== node $(node --version)"
NODE_BIN=$(command -v node)
STAMP="$(node --version) $(sha256sum "$NODE_BIN" | cut -c1-16)"
if [ -f .gpu/node.tar.xz ] && [ "$(cat .gpu/node.stamp 2>/dev/null)" = "$STAMP" ]; then
  echo "   .gpu/node.tar.xz is up to date"
else
  mkdir -p "$STAGE/node"
  cp "$NODE_BIN" "$STAGE/node/node"
  strip "$STAGE/node/node" 2>/dev/null || true
  tar -C "$STAGE" -cf - node | xz -T0 -9 >.gpu/node.tar.xz
  echo "$STAMP" >.gpu/node.stamp
fi

echo "== Vulkan/EGL loaders in .gl/"
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  apt-get $o update >/dev/null
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
ls .gl

echo "== sizes"
du -b .gpu/*.tar.xz .gl | sed 's/^/   /'
tree_bytes=$(git ls-files -co --exclude-standard -z | du --files0-from=- -cb 2>/dev/null | tail -1 | cut -f1)
pack_bytes=$(du -cb .gpu .gl | tail -1 | cut -f1)
total=$((tree_bytes + pack_bytes))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "   working tree (tracked + untracked, not ignored): $(mib "$tree_bytes")"
echo "   .gpu + .gl: $(mib "$pack_bytes")"
echo "   what travels with carry [.gpu, .gl]: $(mib "$total") (limit ${LIMIT_MIB} MiB)"
if [ "$total" -ge $((LIMIT_MIB * 1048576)) ]; then
  echo "   TOO LARGE for the device machine" >&2
  exit 1
fi
