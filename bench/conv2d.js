#!/usr/bin/env node
// The 3x3 'same' convs of the MNIST UNet's presets (cpu: batch 32, 16 / 32 / 32 channels at
// 28 / 14 / 7; full: batch 64, 32 / 64 / 128) forward and backward (input and weight gradients),
// the engine's kernels (shaders/conv3.wgsl where the device has broadcasts, else the implicit
// GEMM of shaders/conv2d.wgsl) against PyTorch's conv2d on the same machine, in alternating rounds
// (the machine's speed drifts). Not a test:
//   node bench/conv2d.js [--adapter NAME] [--rounds N] [--preset cpu|full|both]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { getNodeGpu, Graph, Program, conv2d, weightedSum } from '../dist/engine.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const rounds = Number(flag('--rounds', 3));
if (!(Number.isInteger(rounds) && rounds >= 1))
  throw new Error(`--rounds ${flag('--rounds')}: expected a positive integer`);
const gpu = await getNodeGpu({ adapter: flag('--adapter', undefined) });
const PRESET_SHAPES = {
  cpu: [
    [32, 16, 28],
    [32, 32, 14],
    [32, 32, 7],
  ],
  full: [
    [64, 32, 28],
    [64, 64, 14],
    [64, 128, 7],
  ],
}; // batch, channels in = out, side
const which = flag('--preset', 'both');
if (!['cpu', 'full', 'both'].includes(which)) throw new Error(`--preset ${which}: expected cpu, full or both`);
const shapes = which === 'both' ? [...PRESET_SHAPES.cpu, ...PRESET_SHAPES.full] : PRESET_SHAPES[which];
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];

// PyTorch's milliseconds for forward + backward of the same conv (median of 5 after a warm-up).
function torchMs(B, C, H) {
  if (!existsSync('/usr/bin/python3')) return { why: '/usr/bin/python3 missing' };
  const code = `import torch, time, statistics
torch.set_num_threads(2)
x = torch.randn(${B}, ${C}, ${H}, ${H}, requires_grad=True); conv = torch.nn.Conv2d(${C}, ${C}, 3, padding=1); up = torch.randn(${B}, ${C}, ${H}, ${H})
def step():
    x.grad = None; conv.zero_grad(); (conv(x) * up).sum().backward()
step(); ts = []
for _ in range(5):
    t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
print(1000 * statistics.median(ts))`;
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
  delete env.OPENBLAS_CORETYPE;
  const r = spawnSync('/usr/bin/python3', ['-c', code], { encoding: 'utf8', env });
  if (r.status !== 0) return { why: `PyTorch not run: ${r.stderr.trim().split('\n').pop()}` };
  return { ms: Number(r.stdout.trim()) };
}

async function engine(B, C, H) {
  const g = new Graph(`conv ${C}x${H}`);
  const x = g.input('x', [B, C, H, H], 'f32', { requiresGrad: true });
  const w = g.input('w', [C, C, 3, 3], 'f32', { requiresGrad: true });
  const b = g.input('b', [C], 'f32', { requiresGrad: true });
  const y = conv2d(g, x, w, b, { padding: 1 });
  const up = g.input('up', y.shape);
  const loss = weightedSum(g, y, up);
  const p = await Program.compile(gpu.device, g, { gradientsOf: loss, keep: [y] });
  for (const t of [x, w, b, up])
    p.write(
      t,
      Float32Array.from({ length: t.size }, (_, i) => Math.sin(i * 0.37)),
    );
  p.run(1);
  await gpu.device.queue.onSubmittedWorkDone();
  return {
    async ms() {
      const t0 = performance.now();
      p.run(3);
      await gpu.device.queue.onSubmittedWorkDone();
      return (performance.now() - t0) / 3;
    },
    async split() {
      const prof = await p.profile();
      return prof
        .filter((q) => q.kernel.startsWith('conv2d.') || q.kernel.startsWith('conv3.'))
        .map((q) => `${q.kernel} ${(q.us / 1000).toFixed(1)} ms`)
        .join(', ');
    },
    destroy: () => p.destroy(),
  };
}

console.log(
  '| conv 3x3 | engine ms (fwd + bwd) | PyTorch ms | ratio (PyTorch / engine) | engine GFLOP/s | per kernel (one profiled step) |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [B, C, H] of shapes) {
  const e = await engine(B, C, H);
  const mine = [],
    ref = [];
  for (let r = 0; r < rounds; r++) {
    const t = torchMs(B, C, H);
    if (t.why) console.error(`  ${t.why}`);
    else ref.push(t.ms);
    mine.push(await e.ms());
  }
  const flop = 3 * 2 * B * C * C * 9 * H * H; // forward, input gradient, weight gradient
  const ratios = ref.map((v, i) => v / mine[i]);
  console.log(
    `| ${C} -> ${C}, ${H}x${H}, batch ${B} | ${median(mine).toFixed(1)} | ${ref.length ? median(ref).toFixed(1) : '-'} | ${ratios.length ? median(ratios).toFixed(2) : '-'} | ${(flop / median(mine) / 1e6).toFixed(1)} | ${await e.split()} |`,
  );
  e.destroy();
}
process.exit(0);
