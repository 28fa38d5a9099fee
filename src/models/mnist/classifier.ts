// The engine's own judge of generated digits: a small CNN trained on the 60 000 MNIST training
// digits (runners/mnist-classifier.js), described once here. Three 3x3 convolutions (28x28, then
// stride 2 to 14x14 and 7x7), SiLU after each, a hidden layer whose activations are the features
// the Frechet distance compares, and ten logits. Its training batches are drawn on the device,
// with a random shift of up to two pixels.
import code from '../../../shaders/digit_batch.wgsl';
import philox from '../../../shaders/philox.wgsl';
import { shaderModule } from '../../core/kernel.js';
import { expectDtype, expectShape, Graph, type Tensor } from '../../core/graph.js';
import { conv2d } from '../../core/ops/conv2d.js';
import { reshape, silu } from '../../core/ops/elementwise.js';
import { fanInBound, linearLayer } from '../../nn/layers.js';
import { crossEntropy } from '../../core/ops/loss.js';
import { Program } from '../../core/program.js';
import type { ParamStore } from '../../core/params.js';
import { STREAM_DIGITS } from '../../diffusion/ops.js';
import { CHUNK, TwoPixelTrainer } from '../../diffusion/twopixel.js';

import { MNIST_SIDE, type MnistSet } from '../../data/mnist.js';

export interface MnistClassifierConfig {
  /** Channels of the convolutions at 28x28, 14x14 and 7x7. */
  channels: readonly [number, number, number];
  /** Width of the hidden layer: the features of the Frechet distance. */
  hidden: number;
}

export const MNIST_CLASSIFIER: MnistClassifierConfig = { channels: [16, 32, 64], hidden: 128 };

/** What a checkpoint of the classifier records about its architecture. */
export const classifierSettings = (c: MnistClassifierConfig): Record<string, string> => ({
  model: 'mnist-classifier',
  channels: c.channels.join(','),
  hidden: String(c.hidden),
});

/** logits [B, 10] and features [B, hidden] of images x [B, 1, 28, 28] in [-1, 1]. */
export function mnistClassifier(g: Graph, x: Tensor, c: MnistClassifierConfig): { logits: Tensor; features: Tensor } {
  const [batch, cin, side] = x.shape;
  expectShape(x, [batch, 1, 28, 28], 'classifier input');
  let h = x;
  let channels = cin;
  let size = side;
  c.channels.forEach((cout, i) => {
    const fanIn = channels * 9;
    const w = g.param(`clf.conv${i + 1}.w`, [cout, channels, 3, 3], fanInBound(fanIn));
    const b = g.param(`clf.conv${i + 1}.b`, [cout], fanInBound(fanIn));
    const stride = i === 0 ? 1 : 2;
    h = silu(g, conv2d(g, h, w, b, { stride, padding: 1 }, `clf.conv${i + 1}`), `clf.act${i + 1}`);
    channels = cout;
    size = Math.floor((size + 2 - 3) / stride) + 1;
  });
  const flat = reshape(g, h, [batch, channels * size * size], 'clf.flatten');
  const features = silu(g, linearLayer(g, 'clf.hidden', flat, channels * size * size, c.hidden), 'clf.features');
  const logits = linearLayer(g, 'clf.out', features, c.hidden, 10);
  return { logits, features };
}

const DIGIT_BATCH = shaderModule({
  name: 'digit_batch',
  source: code,
  libraries: [philox],
  bindings: {
    images: 'read u32', // [count, side, side] bytes, four to a word
    labels: 'read u32', // [count]
    state: 'read u32',
    x: 'read_write', // [batch, 1, side, side]
    y: 'read_write u32', // [batch]
  },
  params: { batch: 'u32', side: 'u32', count: 'u32', shift: 'u32', stream: 'u32' },
}).kernel('digit_batch');

/** A fresh batch of dataset digits each step, shifted by up to `shift` pixels: x [batch, 1, side, side], y [batch]. */
export function digitBatch(
  g: Graph,
  bytes: Tensor,
  labels: Tensor,
  o: { batch: number; side: number; shift: number },
): { x: Tensor; y: Tensor } {
  expectDtype(bytes, 'u32', 'dataset pixels');
  expectDtype(labels, 'u32', 'dataset labels');
  const count = labels.shape[0];
  expectShape(bytes, [(count * o.side * o.side) / 4], 'dataset pixels (bytes packed four to a word)');
  if (!(Number.isInteger(o.shift) && o.shift >= 0 && o.shift < o.side))
    throw new Error(`digit batch: shift ${o.shift} is not an integer in [0, ${o.side})`);
  const x = g.activation('digits.x', [o.batch, 1, o.side, o.side]);
  const y = g.activation('digits.y', [o.batch], 'u32');
  g.add({
    type: 'digit_batch',
    inputs: [bytes, labels],
    outputs: [x, y],
    forward: (e) =>
      e.dispatch(
        DIGIT_BATCH,
        { images: bytes, labels, state: g.state, x, y },
        { batch: o.batch, side: o.side, count, shift: o.shift, stream: STREAM_DIGITS },
        x.size,
      ),
  });
  return { x, y };
}

export interface ClassifierTrainOptions {
  config: MnistClassifierConfig;
  batch: number;
  steps: number;
  lr: number;
  warmup: number;
  shift: number;
  seed: number;
}

export const defaultClassifierTrainOptions = (seed = 0): ClassifierTrainOptions => ({
  config: MNIST_CLASSIFIER,
  batch: 128,
  steps: 2000,
  lr: 2e-3,
  warmup: 100,
  shift: 2,
  seed,
});

/** Packs a set's pixel bytes four to a u32 word, as the batch kernels read them. */
export function packedPixels(data: MnistSet): Uint32Array {
  const b = data.bytes;
  return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

/** A trainer of the classifier: cross-entropy on a fresh shifted batch each step, Adam with warm-up and cosine decay. */
export async function createDigitClassifierTrainer(
  device: GPUDevice,
  data: MnistSet,
  o: ClassifierTrainOptions,
): Promise<TwoPixelTrainer> {
  const g = new Graph('MNIST classifier training');
  const images = g.input('mnist.pixels', [data.bytes.length / 4], 'u32', { constant: true });
  const labels = g.input('mnist.labels', [data.count], 'u32', { constant: true });
  const batch = digitBatch(g, images, labels, { batch: o.batch, side: MNIST_SIDE, shift: o.shift });
  const { logits } = mnistClassifier(g, batch.x, o.config);
  const loss = crossEntropy(g, logits, batch.y, { history: CHUNK });
  const program = await Program.compile(device, g, {
    seed: o.seed,
    train: { loss, adam: { lr: o.lr, decaySteps: o.steps, warmupSteps: o.warmup } },
  });
  program.write(images, packedPixels(data));
  program.write(labels, Uint32Array.from(data.labels));
  return TwoPixelTrainer.wrap(program, loss);
}

export interface Classified {
  /** The most likely digit of each image. */
  labels: Uint8Array;
  /** The hidden layer's activations [n, hidden]. */
  features: Float32Array;
}

/** Classifies images [n, 784] in [-1, 1] with the weights in `store`, `chunk` images per dispatch. */
export async function classifyDigits(
  device: GPUDevice,
  store: ParamStore,
  images: Float32Array,
  config: MnistClassifierConfig = MNIST_CLASSIFIER,
  chunk = 500,
): Promise<Classified> {
  const dims = MNIST_SIDE * MNIST_SIDE;
  const n = images.length / dims;
  if (!Number.isInteger(n) || n === 0)
    throw new Error(`classifier: ${images.length} values are not whole 28x28 images`);
  const rows = Math.min(chunk, n);
  const g = new Graph('MNIST classifier');
  const x = g.input('x', [rows, 1, MNIST_SIDE, MNIST_SIDE]);
  const { logits, features } = mnistClassifier(g, x, config);
  const program = await Program.compile(device, g, { params: store, keep: [logits, features] });
  const labels = new Uint8Array(n);
  const feats = new Float32Array(n * config.hidden);
  try {
    for (let start = 0; start < n; start += rows) {
      const part = new Float32Array(rows * dims);
      part.set(images.subarray(start * dims, Math.min(n, start + rows) * dims));
      program.write(x, part);
      program.run(1);
      const [l, f] = await Promise.all([program.readF32(logits), program.readF32(features)]);
      const count = Math.min(rows, n - start);
      for (let i = 0; i < count; i++) {
        let best = 0;
        for (let k = 1; k < 10; k++) if (l[i * 10 + k] > l[i * 10 + best]) best = k;
        labels[start + i] = best;
      }
      feats.set(f.subarray(0, count * config.hidden), start * config.hidden);
    }
  } finally {
    program.destroy();
  }
  return { labels, features: feats };
}
