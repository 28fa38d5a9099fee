import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph, type Tensor } from '../src/core/graph.js';
import { Program } from '../src/core/program.js';
import { mul, silu } from '../src/core/ops/elementwise.js';
import { linear } from '../src/core/ops/linear.js';
import { regressionLoss } from '../src/core/ops/loss.js';
import { random } from '../src/core/ops/random.js';
import { testGpu } from './device.js';

// End to end: a linear-SiLU-linear MLP learns y = x * x (elementwise) from x ~ N(0, 1) drawn on
// the device each step, trained by Adam with the whole step (data, forward, backward, update,
// step advance) on the GPU, 50 steps per submit; the host reads only the loss history.

const t = suite('mlp');
const [BATCH, D, H] = [64, 2, 32];
const STEPS = 200;

async function train(seed: number, stepsPerSubmit: number): Promise<{ losses: Float32Array; program: Program }> {
  const { device } = await testGpu();
  const g = new Graph('mlp');
  const x = random(g, [BATCH, D], { kind: 'normal' }, 1, 'x');
  const target = mul(g, x, x, 'target');
  const w1 = g.param('w1', [D, H], { kind: 'normal', std: 1 / Math.sqrt(D) });
  const b1 = g.param('b1', [H], { kind: 'const', value: 0 });
  const w2 = g.param('w2', [H, D], { kind: 'normal', std: 1 / Math.sqrt(H) });
  const b2 = g.param('b2', [D], { kind: 'const', value: 0 });
  const pred = linear(g, silu(g, linear(g, x, w1, b1, 'hidden')), w2, b2, 'out');
  const loss: Tensor = regressionLoss(g, pred, target, 'mse', { history: STEPS });
  const program = await Program.compile(device, g, { seed, train: { loss, adam: { lr: 0.01 } } });
  program.fill(loss, NaN);
  for (let done = 0; done < STEPS; done += stepsPerSubmit) program.run(stepsPerSubmit);
  return { losses: await program.readF32(loss), program };
}

const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

t('training lowers the loss, and the same seed gives bit-identical losses however steps are submitted', async () => {
  const first = await train(42, 50);
  const again = await train(42, 50);
  const allInOne = await train(42, 200);
  const onePerSubmit = await train(42, 1);
  const other = await train(43, 50);
  for (const r of [first, again, allInOne, onePerSubmit, other]) {
    r.program.destroy();
    r.program.store.destroy();
  }
  const l = first.losses;
  assert.ok(l.every(Number.isFinite), 'every step wrote a finite loss');
  assert.equal(bits(again.losses), bits(l), 'same seed, same losses');
  assert.equal(bits(allInOne.losses), bits(l), 'same losses with all 200 steps in one submit');
  assert.equal(bits(onePerSubmit.losses), bits(l), 'same losses with one step per submit');
  assert.not.equal(bits(other.losses), bits(l), 'another seed, other losses');
  const start = mean(l.subarray(0, 10)),
    end = mean(l.subarray(STEPS - 10));
  assert.ok(end < 0.1 * start, `loss fell from ${start} (first 10 steps) to ${end} (last 10), expected below 10%`);
});

t.run();
