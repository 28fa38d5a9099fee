// The MNIST classifier that scores generated digits: its batches (dataset digits shifted on the
// device) against a Philox reference, its forward against float64 and its backward (to the input
// and to a weight) against central differences of that float64 forward.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { digitBatch, mnistClassifier, type MnistClassifierConfig } from '../src/models/mnist/classifier.js';
import { loadMnist } from '../src/data/mnist.js';
import { philox4x32, seedKey, toIndex } from '../src/core/philox.js';
import { STREAM_DIGITS } from '../src/diffusion/ops.js';
import { weightedSum } from '../src/core/ops/loss.js';
import type { Tensor } from '../src/core/graph.js';
import { assertClose, dot, finiteDifference, randomValues, runGraph } from './harness.js';
import { conv2dRef, linearRef, siluRef } from './reference.js';

const t = suite('MNIST classifier');

t(
  'a batch is dataset digits shifted by dx, dy in [-2, 2] with the background shifted in, and their labels',
  async () => {
    const all = loadMnist('t10k');
    const count = 200;
    const bytes = all.bytes.slice(0, count * 784);
    const B = 48;
    const seed = 11;
    const { values } = await runGraph(
      (g) => {
        const images = g.input('pixels', [(count * 784) / 4], 'u32', { constant: true });
        const labels = g.input('labels', [count], 'u32', { constant: true });
        const b = digitBatch(g, images, labels, { batch: B, side: 28, shift: 2 });
        return {
          feeds: [
            [images, new Uint32Array(Uint8Array.from(bytes).buffer)],
            [labels, Uint32Array.from(all.labels.slice(0, count))],
          ],
          outputs: [b.x, b.y],
        };
      },
      { seed },
    );
    const [x, y] = values;
    const shifts = new Set<string>();
    for (let i = 0; i < B; i++) {
      const r = philox4x32([i, STREAM_DIGITS, 0, 0], seedKey(seed));
      const id = toIndex(r[0], count);
      const [dx, dy] = [toIndex(r[1], 5) - 2, toIndex(r[2], 5) - 2];
      shifts.add(`${dx},${dy}`);
      assert.is(y[i], all.labels[id], `label of example ${i}`);
      for (let row = 0; row < 28; row++)
        for (let col = 0; col < 28; col++) {
          const [sr, sc] = [row - dy, col - dx];
          const want = sr >= 0 && sr < 28 && sc >= 0 && sc < 28 ? (bytes[id * 784 + sr * 28 + sc] * 2) / 255 - 1 : -1;
          const got = x[i * 784 + row * 28 + col];
          if (Math.abs(got - want) > 1e-6)
            assert.unreachable(`example ${i} pixel (${row}, ${col}): ${got}, expected ${want}`);
        }
    }
    assert.ok(shifts.size > 10, `${shifts.size} distinct shifts in ${B} examples`);
  },
);

// A classifier of the real structure at small widths, so the float64 reference and its central
// differences run in a second.
const tiny: MnistClassifierConfig = { channels: [2, 3, 4], hidden: 5 };
const B = 2;

/** The classifier in float64: logits and features of x [B, 784] for the named parameters. */
function classifierRef(x: ArrayLike<number>, p: Record<string, ArrayLike<number>>) {
  let h: ArrayLike<number> = x;
  let [cin, side] = [1, 28];
  tiny.channels.forEach((cout, i) => {
    const stride = i === 0 ? 1 : 2;
    const s = { batch: B, cin, cout, h: side, w: side, kh: 3, kw: 3, stride, pad: [1, 1] as [number, number] };
    h = siluRef(conv2dRef(h, p[`clf.conv${i + 1}.w`], p[`clf.conv${i + 1}.b`], s));
    [cin, side] = [cout, Math.floor((side - 1) / stride) + 1];
  });
  const flat = cin * side * side;
  const features = siluRef(linearRef(h, p['clf.hidden.w'], p['clf.hidden.b'], B, flat, tiny.hidden));
  return { features, logits: linearRef(features, p['clf.out.w'], p['clf.out.b'], B, tiny.hidden, 10) };
}

t('forward against float64, and the gradients to the input and to a weight against central differences', async () => {
  const x0 = randomValues(B * 784, 21);
  const up = randomValues(B * 10, 22);
  const params: Record<string, Float64Array> = {};
  let input: Tensor | null = null;
  let conv2w: Tensor | null = null;
  const { values, extra } = await runGraph(
    (g) => {
      const x = g.input('x', [B, 1, 28, 28], 'f32', { requiresGrad: true });
      input = x;
      const { logits, features } = mnistClassifier(g, x, tiny);
      const u = g.input('up', [B, 10]);
      const loss = weightedSum(g, logits, u);
      const feeds: [Tensor, ArrayLike<number>][] = [
        [x, x0],
        [u, up],
      ];
      g.params.forEach((p, i) => {
        params[p.name] = randomValues(p.size, 30 + i).map((v) => v * 0.5);
        feeds.push([p, params[p.name]]);
        if (p.name === 'clf.conv2.w') conv2w = p;
      });
      return { feeds, outputs: [logits, features], gradientsOf: loss };
    },
    {},
    (p) => [p.gradOf(input!), p.gradOf(conv2w!)],
  );
  const ref = classifierRef(x0, params);
  assertClose(values[0], ref.logits, 1e-5, 1e-4, 'logits');
  assertClose(values[1], ref.features, 1e-5, 1e-4, 'features');
  const scalar = (p: Record<string, ArrayLike<number>>, x: ArrayLike<number>) => dot(classifierRef(x, p).logits, up);
  assertClose(
    extra[0],
    finiteDifference((v) => scalar(params, v), Float64Array.from(x0), 1e-4),
    1e-5,
    1e-3,
    'd/dx',
  );
  assertClose(
    extra[1],
    finiteDifference((v) => scalar({ ...params, 'clf.conv2.w': v }, x0), params['clf.conv2.w'], 1e-4),
    1e-5,
    1e-3,
    'd/d conv2.w',
  );
});

t.run();
