import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { Program, type AdamOptions } from '../src/core/program.js';
import { conv1d, convTranspose1d } from '../src/core/ops/conv1d.js';
import { add } from '../src/core/ops/elementwise.js';
import { classEmbedding, fourierFeatures } from '../src/core/ops/embed.js';
import { groupNorm } from '../src/core/ops/groupnorm.js';
import { linear } from '../src/core/ops/linear.js';
import { crossEntropy, regressionLoss, type LossKind } from '../src/core/ops/loss.js';
import { random, type Distribution } from '../src/core/ops/random.js';
import { testGpu } from './device.js';

// Misuse fails early with an Error whose message names the bad value and what was expected.

const t = suite('errors');

function throwsNaming(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, Error);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an Error matching ${pattern}`);
}

async function rejectsNaming(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, Error);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an Error matching ${pattern}`);
}

t('a weight of the wrong shape names both shapes', () => {
  const g = new Graph();
  throwsNaming(
    () => linear(g, g.input('x', [2, 3]), g.input('w', [4, 5]), null),
    /w\[4x5\] has shape \[4, 5\], expected \[3, 5\]/,
  );
  throwsNaming(
    () => linear(g, g.input('x2', [2, 3]), g.input('w2', [3, 5]), g.input('b2', [4])),
    /b2\[4\] has shape \[4\], expected \[5\]/,
  );
  throwsNaming(
    () => conv1d(g, g.input('cx', [2, 3, 4]), g.input('cw', [5, 2, 1]), g.input('cb', [5])),
    /cw\[5x2x1\] has shape \[5, 2, 1\], expected \[5, 3, 1\]/,
  );
  throwsNaming(
    () => add(g, g.input('a', [2, 3]), g.input('a2', [3, 2])),
    /a2\[3x2\] has shape \[3, 2\], expected \[2, 3\]/,
  );
});

t('a non-integer or non-positive size is named', () => {
  const g = new Graph();
  throwsNaming(() => g.input('x', [2.5]), /x: shape \[2\.5\] has size 2\.5, expected a positive integer/);
  throwsNaming(() => g.param('p', [3, 0], { kind: 'const', value: 0 }), /p: shape \[3, 0\] has size 0/);
  throwsNaming(() => random(g, [4, -1], { kind: 'uniform' }, 0), /has size -1/);
  throwsNaming(() => g.input('empty', []), /shape \[\] is not a non-empty array/);
});

t('invalid op arguments are named', () => {
  const g = new Graph();
  const x = g.input('x', [2, 6, 3]),
    c6 = g.input('c6', [6]);
  throwsNaming(() => regressionLoss(g, x, x, 'foo' as LossKind), /loss kind "foo" is not one of mse, l1, huber/);
  throwsNaming(() => regressionLoss(g, x, x, 'huber', { delta: -1 }), /huber delta = -1, expected a positive number/);
  throwsNaming(() => regressionLoss(g, x, x, 'mse', { history: 1.5 }), /history = 1\.5, expected a positive integer/);
  throwsNaming(() => groupNorm(g, x, c6, c6, 4), /6 channels do not split into 4 groups/);
  throwsNaming(() => groupNorm(g, x, c6, c6, 0), /groups = 0, expected a positive integer/);
  throwsNaming(() => groupNorm(g, x, c6, c6, 3, 0), /eps = 0, expected a positive number/);
  throwsNaming(
    () => conv1d(g, x, g.input('w', [4, 6, 2]), g.input('b', [4]), { stride: 0 }),
    /stride = 0, expected a positive integer/,
  );
  throwsNaming(
    () => conv1d(g, x, g.input('w5', [4, 6, 5]), g.input('b5', [4]), { padding: [0, 1] }),
    /kernel size 5 exceeds the padded length 4/,
  );
  throwsNaming(
    () => conv1d(g, x, g.input('w1', [4, 6, 1]), g.input('b1', [4]), { padding: [-1, 0] }),
    /left padding = -1, expected a non-negative integer/,
  );
  throwsNaming(
    () => convTranspose1d(g, x, g.input('tw', [6, 2, 1]), g.input('tb', [2]), { padding: 2 }),
    /output length -1 is not positive/,
  );
  throwsNaming(
    () => random(g, [4], { kind: 'randint', low: 3, high: 3 }, 0),
    /range \(high - low\) = 0, expected a positive integer/,
  );
  throwsNaming(
    () => random(g, [4], { kind: 'gamma' } as unknown as Distribution, 0),
    /unknown distribution \{"kind":"gamma"\}/,
  );
  throwsNaming(() => random(g, [4], { kind: 'uniform' }, -2), /stream = -2, expected a non-negative integer/);
  throwsNaming(
    () => classEmbedding(g, g.input('labels', [2]), g.input('table', [3, 4]), g.input('tbias', [4])),
    /labels\[2\] is f32, expected u32/,
  );
  throwsNaming(
    () => fourierFeatures(g, g.input('steps', [2], 'u32'), g.input('freqs', [4]), NaN),
    /scale NaN is not finite/,
  );
  throwsNaming(
    () => crossEntropy(g, g.input('logits', [4, 3]), g.input('classes', [3])),
    /classes\[3\] has shape \[3\], expected \[4\]/,
  );
});

t('a loss kind inherited from Object.prototype is rejected by name', () => {
  const g = new Graph();
  const x = g.input('x', [4]);
  throwsNaming(() => regressionLoss(g, x, x, 'constructor' as LossKind), /loss kind "constructor"/);
});

t('bad Adam settings are named when the program is compiled', async () => {
  const { device } = await testGpu();
  const compileWith = (adam: AdamOptions) => {
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const loss = regressionLoss(
      g,
      linear(g, x, g.param('w', [3, 1], { kind: 'const', value: 0.1 }), null),
      g.input('y', [2, 1]),
    );
    return Program.compile(device, g, { train: { loss, adam } });
  };
  await rejectsNaming(() => compileWith({ lr: -1 }), /adam lr = -1, expected a positive number/);
  await rejectsNaming(() => compileWith({ lr: NaN }), /adam lr = NaN, expected a positive number/);
  await rejectsNaming(() => compileWith({ lr: 0.1, beta2: 1 }), /adam beta2 = 1, expected in \[0, 1\)/);
  await rejectsNaming(() => compileWith({ lr: 0.1, weightDecay: -0.5 }), /adam weightDecay = -0.5, expected >= 0/);
});

t('duplicate names are named with the graph', () => {
  const g = new Graph('net');
  g.input('x', [2]);
  throwsNaming(() => g.input('x', [3]), /input name "x" is already used in graph "net"/);
  throwsNaming(() => g.param('x', [2], { kind: 'const', value: 0 }), /param name "x" is already used in graph "net"/);
  throwsNaming(() => g.input('', [2]), /input name "" must be a non-empty string/);
});

t('misused programs name the bad value', async () => {
  const { device } = await testGpu();
  const g = new Graph('p');
  const x = g.input('x', [4], 'f32', { requiresGrad: true });
  const y = add(g, x, x);
  await rejectsNaming(
    () => Program.compile(device, g, { gradientsOf: y }),
    /add\[4\] is not the output of a loss op in graph "p"/,
  );
  await rejectsNaming(() => Program.compile(device, g, { seed: -3 }), /seed -3 is not a non-negative safe integer/);
  const other = new Graph('other');
  throwsNaming(() => add(other, other.input('a', [4]), x), /input x\[4\] belongs to another graph/);
  const program = await Program.compile(device, g);
  throwsNaming(() => program.write(x, [1, 2, 3]), /write x\[4\]: got 3 values, expected 4/);
  throwsNaming(() => program.run(0), /steps 0 is not a positive integer/);
  throwsNaming(() => program.gradOf(x), /computes no gradient for x\[4\]/);
  program.destroy();
  program.store.destroy();
});

t.run();
