#!/usr/bin/env node
// Throughput benchmarks, printed as one table: the engine's figure, the reference's figure
// measured in the same run, and their ratio. Not a test: `npm run bench`.
//   node bench/run.js [--quick] [--adapter NAME] [--torch-steps N] [--rounds N]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  getNodeGpu,
  Graph,
  Program,
  linear,
  regressionLoss,
  random,
  silu,
  TwoPixelTrainer,
  defaultTrainOptions,
  defaultTwoPixelConfig,
  sampleFused,
} from '../dist/engine.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const gpu = await getNodeGpu({ adapter: flag('--adapter', undefined) });
const device = gpu.device;
const rows = [];
// ratio: given for paired rounds (the median of their ratios), else the two figures' ratio.
const row = (what, engine, reference, unit, better = 'higher', given = null) => {
  const ratio = given ?? (reference == null ? null : better === 'higher' ? engine / reference : reference / engine);
  rows.push({ what, engine, reference, unit, ratio });
  console.error(
    `  ${what}: ${engine.toPrecision(4)} ${unit}${reference == null ? '' : ` vs ${reference.toPrecision(4)} (x${ratio.toFixed(2)})`}`,
  );
};
const idle = () => device.queue.onSubmittedWorkDone();
// Rounds of the paired benchmarks: the machine's speed drifts within minutes (see below).
const rounds = Number(flag('--rounds', quick ? 1 : 3));
if (!(Number.isInteger(rounds) && rounds >= 1))
  throw new Error(`--rounds ${flag('--rounds')}: expected a positive integer`);
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
async function timed(fn, reps) {
  await fn();
  await idle();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  await idle();
  return (performance.now() - t0) / 1000 / reps;
}

// numpy's float32 matmul on the same machine, when python3 with numpy is there.
function numpyGflops(n) {
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const code = `import numpy as np, time\nn=${n}\na=np.random.rand(n,n).astype(np.float32); b=np.random.rand(n,n).astype(np.float32)\na@b\nt=time.perf_counter(); r=3\nfor _ in range(r): a@b\nprint(2*n**3*r/(time.perf_counter()-t)/1e9)`;
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync(py, ['-c', code], { encoding: 'utf8', env });
  return r.status === 0 ? Number(r.stdout.trim()) : null;
}

async function matmul(n, variant) {
  const g = new Graph(`matmul ${n}`);
  const a = g.input('a', [n, n]),
    b = g.input('b', [n, n]);
  const c = linear(g, a, b, null);
  const p = await Program.compile(device, g, { keep: [c], config: { matmul: variant } });
  p.write(
    a,
    Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5),
  );
  p.write(
    b,
    Float32Array.from({ length: n * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5),
  );
  const s = await timed(async () => p.run(1), n >= 2048 ? 1 : 3);
  p.destroy();
  p.store.destroy();
  return (2 * n ** 3) / s / 1e9;
}

console.error(`adapter: ${gpu.adapterName} (${gpu.kind})`);
console.error('matmul');
// The blocked kernel in rounds alternating with numpy (the median of each); the tiled reference once.
for (const n of quick ? [1024] : [1024, 2048]) {
  const np = [],
    blocked = [];
  for (let r = 0; r < rounds; r++) {
    np.push(numpyGflops(n));
    blocked.push(await matmul(n, 'blocked'));
  }
  const ref = np.includes(null) ? null : median(np);
  row(`matmul ${n}^3 (tiled) vs numpy`, await matmul(n, 'tiled'), ref, 'GFLOP/s');
  row(`matmul ${n}^3 (blocked) vs numpy; median of ${rounds} rounds`, median(blocked), ref, 'GFLOP/s');
  rows.push({ what: `matmul ${n}^3 (blocked): GFLOP/s per round`, note: blocked.map((v) => v.toFixed(1)).join(', ') });
}

console.error('dispatch cost');
let dispatchUs = 0;
{
  const g = new Graph('chain');
  let x = g.input('x', [64]);
  for (let i = 0; i < 1000; i++) x = silu(g, x, `silu${i}`);
  const p = await Program.compile(device, g, { keep: [x] });
  const s = await timed(async () => p.run(1), 5);
  dispatchUs = (s / 1000) * 1e6;
  row('1000 tiny dispatches in one submit', dispatchUs, null, 'us per dispatch', 'lower');
  p.destroy();
  p.store.destroy();
}

console.error('MLP training (the end-to-end test model, batch 256)');
{
  const g = new Graph('mlp');
  const x = random(g, [256, 16], { kind: 'normal' }, 1, 'x');
  const target = random(g, [256, 1], { kind: 'normal' }, 2, 'target');
  const w1 = g.param('w1', [16, 64], { kind: 'uniform', bound: 0.25 }),
    b1 = g.param('b1', [64], { kind: 'const', value: 0 });
  const w2 = g.param('w2', [64, 1], { kind: 'uniform', bound: 0.125 }),
    b2 = g.param('b2', [1], { kind: 'const', value: 0 });
  const loss = regressionLoss(g, linear(g, silu(g, linear(g, x, w1, b1)), w2, b2), target, 'mse', { history: 100 });
  const p = await Program.compile(device, g, { train: { loss, adam: { lr: 1e-3 } } });
  const s = await timed(async () => p.run(100), 3);
  row('MLP 16-64-1 training', 100 / s, null, 'steps/s');
  p.destroy();
  p.store.destroy();
}

// The PyTorch reference of ../shared/reference (W1), when Debian's python3-torch is installed.
function torchW1(steps) {
  const script = join(here, '..', '..', 'shared', 'reference', 'w1_torch.py');
  if (!existsSync(script) || !existsSync('/usr/bin/python3'))
    return { why: 'shared/reference/w1_torch.py or /usr/bin/python3 missing' };
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
  delete env.OPENBLAS_CORETYPE;
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { env });
  if (probe.status !== 0)
    return { why: 'python3-torch is not installed (apt-get install python3-torch libopenblas0-pthread)' };
  const r = spawnSync('/usr/bin/python3', [script, '--tconv-as-conv', '--runs', '1', '--steps', String(steps)], {
    encoding: 'utf8',
    env,
  });
  if (r.status !== 0) return { why: `w1_torch.py failed: ${r.stderr.trim().split('\n').pop()}` };
  const run = JSON.parse(r.stdout.trim().split('\n')[0]);
  return { stepsPerSecond: run.steps_per_s, sampleSeconds: run.sample_batched_s };
}

// Training and sampling alternate with the reference, round by round (a PyTorch run, then the
// engine's): the machine's speed drifts by tens of percent within minutes, so each round's ratio
// compares like with like; the table gives the medians and the note line every round's ratio.
console.error('two-pixel model (SPEC, batch 1024, T = 50, CFG dropout 0.1, Adam)');
const torchSteps = Number(flag('--torch-steps', 300));
{
  const model = defaultTwoPixelConfig(50);
  const trainer = await TwoPixelTrainer.create(device, defaultTrainOptions(model, 0));
  await trainer.train(100);
  const sample = () =>
    sampleFused(device, trainer.program.store, {
      model,
      schedule: 'cosine',
      n: 5000,
      labels: Array.from({ length: 5000 }, (_, i) => i % 2),
      guidance: 2,
      seed: 1,
      record: 0,
      clip: 1,
    });
  await sample();
  const train = [],
    samp = [],
    ref = [];
  for (let r = 0; r < rounds; r++) {
    const torch = torchW1(torchSteps);
    if (torch.why) console.error(`  PyTorch reference not run: ${torch.why}`);
    else ref.push(torch);
    const t0 = performance.now();
    await trainer.train(300);
    train.push(300 / ((performance.now() - t0) / 1000));
    const t1 = performance.now();
    await sample();
    samp.push((performance.now() - t1) / 1000);
    console.error(
      `  round ${r + 1}: training ${train[r].toFixed(1)} steps/s, sampling ${samp[r].toFixed(3)} s${torch.why ? '' : `; PyTorch ${torch.stepsPerSecond.toFixed(1)} steps/s, ${torch.sampleSeconds.toFixed(2)} s`}`,
    );
  }
  const n = trainer.program.dispatchCount;
  const overhead = (100 * n * dispatchUs * 1e-6) / (1 / median(train));
  const refOf = (k) => (ref.length ? median(ref.map((x) => x[k])) : null);
  // Each round's ratio; the table's ratio is their median.
  const ratios = (k, mine, better) => ref.map((x, r) => (better === 'higher' ? mine[r] / x[k] : x[k] / mine[r]));
  const paired = (what, mine, k, unit, better) => {
    const rs = ratios(k, mine, better);
    row(`${what}; median of ${rounds} rounds`, median(mine), refOf(k), unit, better, rs.length ? median(rs) : null);
    if (rs.length)
      rows.push({ what: `${what.split(' (')[0]}: ratio per round`, note: rs.map((v) => v.toFixed(2)).join(', ') });
  };
  paired(
    `two-pixel training, fused (${n} dispatches/step, ~${overhead.toFixed(0)}% of a step is dispatch overhead)`,
    train,
    'stepsPerSecond',
    'steps/s',
    'higher',
  );
  paired(
    'two-pixel sampling 5000 x 50 steps with CFG (fused: 2 dispatches for all steps, weight pack + sampler)',
    samp,
    'sampleSeconds',
    's',
    'lower',
  );
  const prof = await trainer.program.profile();
  const total = prof.reduce((a, b) => a + b.us, 0);
  const byKernel = new Map();
  for (const p of prof) byKernel.set(p.kernel, (byKernel.get(p.kernel) ?? 0) + p.us);
  const top = [...byKernel]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([k, us]) => `${k} ${((100 * us) / total).toFixed(0)}%`);
  console.error(
    `    where a fused step's ${(total / 1000).toFixed(1)} ms go (timestamps per dispatch): ${top.join(', ')}`,
  );
  rows.push({ what: 'fused step profile', note: top.join(', ') });
  trainer.destroy();

  const opByOp = await TwoPixelTrainer.create(device, { ...defaultTrainOptions(model, 0), fused: false });
  await opByOp.train(20);
  const t0 = performance.now();
  await opByOp.train(100);
  const s = (performance.now() - t0) / 1000;
  const m = opByOp.program.dispatchCount;
  row(
    `two-pixel training, op-by-op (${m} dispatches/step, ~${((100 * m * dispatchUs * 1e-6) / (s / 100)).toFixed(0)}% of a step is dispatch overhead)`,
    100 / s,
    refOf('stepsPerSecond'),
    'steps/s',
  );
  opByOp.destroy();
}

console.log(
  `\n| benchmark | engine | reference | unit | ratio (engine/ref, >1 is better; paired rounds: the median of their ratios) |\n| --- | --- | --- | --- | --- |`,
);
for (const r of rows) {
  if (r.note) continue;
  console.log(
    `| ${r.what} | ${r.engine.toPrecision(4)} | ${r.reference == null ? '-' : r.reference.toPrecision(4)} | ${r.unit} | ${r.ratio == null ? '-' : r.ratio.toFixed(2)} |`,
  );
}
for (const r of rows) if (r.note) console.log(`\n${r.what}: ${r.note}`);
console.log(`\nadapter: ${gpu.adapterName}; ${new Date().toISOString()}`);
gpu.destroy();
