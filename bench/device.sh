#!/usr/bin/env bash
# The prepared run on the GPU machine (an NVIDIA H200 with its Vulkan driver, no Node there):
# first, here, `bash bench/device-pack.sh`; then, with the device tool,
#   run(command: 'bash bench/device.sh', carry: ['.device'], timeout_s: 540)
# It unpacks Node, the built engine and the Vulkan loader, runs the kernel suites on the hardware
# adapter, then the benchmarks (matmul and conv GFLOP/s, two-pixel training steps/s and sampling
# time, the MNIST presets' training and sampling images/s with each kernel's share), and writes
# device.json, tests.log and bench.log to $OUT. About 6 minutes; every stage has its own timeout
# so one hang does not cost the rest.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/device}
mkdir -p "$OUT"
W=/tmp/device-engine
rm -rf "$W" && mkdir -p "$W"
tar -C "$W" -xJf .device/pack.tar.xz
# DEVICE_DRY=1 rehearses the script here on the software adapter (no packages installed).
if [ -z "${DEVICE_DRY:-}" ]; then
  for f in .device/*.deb; do dpkg -x "$f" /; done
  ldconfig
  if ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  fi
fi
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# A root of its own beside the checkout: the packed dist/ and node_modules/, this checkout's bench/.
cp -r bench package.json weights "$W/"
OUT=$(cd "$OUT" && pwd)
cd "$W"
NODE="$W/node"
ADAPTER=${DEVICE_DRY:+lavapipe}
ADAPTER=${ADAPTER:-hardware}
export DIFFUSION_ADAPTER=$ADAPTER
{ nvidia-smi -L; "$NODE" --version; } > "$OUT/machine.txt" 2>&1
# The kernel suites (those that need no MNIST training set, no browser and no PyTorch; a name
# matches every test file that contains it, so "kernel.test", not "kernel", which takes the
# browser's kernel checks too).
SUITES=${DEVICE_SUITES:-"kernel.test kernel-checks adam linear conv1d conv2d groupnorm attention elementwise embed loss random twopixel ddim judge pinned mlp classifier oracle"}
timeout 240 "$NODE" dist/test/run.js $SUITES > "$OUT/tests.log" 2>&1
echo "tests rc=$?" >> "$OUT/tests.log"
timeout 150 "$NODE" bench/run.js --adapter "$ADAPTER" --rounds 3 ${DEVICE_DRY:+--quick} > "$OUT/bench-run.md" 2> "$OUT/bench.log"
echo "bench/run.js rc=$?" >> "$OUT/bench.log"
# The rehearsal times the cpu preset for two steps; the GPU run both presets, 20 and 10 steps.
if [ -n "${DEVICE_DRY:-}" ]; then MNIST_ARGS="--preset cpu --train-steps 2 --sample-steps 2"
else MNIST_ARGS="--preset both --train-steps 20 --sample-steps 10"; fi
timeout 120 "$NODE" bench/mnist.js --adapter "$ADAPTER" $MNIST_ARGS --no-torch \
  --json "$OUT/mnist.json" > "$OUT/bench-mnist.md" 2>> "$OUT/bench.log"
echo "bench/mnist.js rc=$?" >> "$OUT/bench.log"
"$NODE" -e '
const fs = require("fs"); const out = process.argv[1];
const read = (f) => (fs.existsSync(`${out}/${f}`) ? fs.readFileSync(`${out}/${f}`, "utf8") : "");
const tests = read("tests.log").match(/(\d+) passed, (\d+) failed/);
fs.writeFileSync(`${out}/device.json`, JSON.stringify({
  date: new Date().toISOString(),
  commit: process.argv[2],
  machine: read("machine.txt").trim(),
  tests: tests ? { passed: +tests[1], failed: +tests[2] } : null,
  benchRun: read("bench-run.md"),
  mnist: read("mnist.json") ? JSON.parse(read("mnist.json")) : null,
}, null, 2));
' "$OUT" "$COMMIT"
cat "$OUT/machine.txt" "$OUT/bench-run.md" "$OUT/bench-mnist.md"; tail -3 "$OUT/tests.log"
