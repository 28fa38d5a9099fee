// Shared helpers for kernel tests: random non-zero data, compiled one-op graphs with poisoned
// outputs, tolerance checks that name the worst element (those three in checks.ts, which the
// browser's kernel page uses too), and central finite differences.
import * as assert from 'uvu/assert';
import type { DType, Graph, Tensor } from '../src/core/graph.js';
import type { CompileOptions, Program } from '../src/core/program.js';
import { weightedSum } from '../src/core/ops/loss.js';
import { testGpu } from './device.js';
import { withKernelConfig, type KernelConfig } from '../src/core/config.js';
import { assertClose, randomValues, runGraphOn, type Built } from './checks.js';
import { loadMnist, type MnistSet } from '../src/data/mnist.js';

export { assertClose, randomInts, randomValues, runGraphOn, type Built } from './checks.js';

/**
 * Runs `f` with the test device's kernel variants set to `config` over its defaults (plain: the
 * kernels of every device without subgroups of 8, { broadcasts: false }); programs read the
 * variants when they compile.
 */
export async function withKernels<R>(config: Partial<KernelConfig>, f: () => Promise<R>): Promise<R> {
  const gpu = await testGpu();
  return withKernelConfig(gpu.device, config, f);
}

/** runGraphOn the test device. */
export async function runGraph(
  build: (g: Graph) => Built,
  options: CompileOptions & { params?: undefined } = {},
  extraReads: (p: Program) => Tensor[] = () => [],
): Promise<{ values: Float32Array[]; extra: Float32Array[]; program: Program }> {
  return runGraphOn((await testGpu()).device, build, options, extraReads);
}

/** d f / d x_i by central differences of a float64 function, for every i. */
export function finiteDifference(f: (x: Float64Array) => number, x: Float64Array, h = 1e-5): Float64Array {
  const out = new Float64Array(x.length);
  const probe = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    probe[i] = x[i] + h;
    const up = f(probe);
    probe[i] = x[i] - h;
    const down = f(probe);
    probe[i] = x[i];
    out[i] = (up - down) / (2 * h);
  }
  return out;
}

/** sum_i w_i y_i: turns a vector output into a scalar for gradient checks with weights `w`. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Central differences of sum(up * f(...inputs)) with respect to each input in turn (the others
 * held): the float64 gradients that both the analytic references and the GPU are held to.
 */
export function numericGradients(
  f: (...inputs: Float64Array[]) => ArrayLike<number>,
  inputs: ArrayLike<number>[],
  up: ArrayLike<number>,
): Float64Array[] {
  const at = inputs.map((v) => Float64Array.from(v));
  return at.map((x, i) => finiteDifference((v) => dot(f(...at.map((u, j) => (j === i ? v : u))), up), x));
}

/** f's value, computed on the first call only: lets two tests share slow central differences. */
export function once<T>(f: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= f());
}

/** assertClose(got[i], want[i]) for each gradient, named names[i]; `against` says what want is. */
export function assertGradients(
  got: ArrayLike<number>[],
  want: ArrayLike<number>[],
  [atol, rtol]: readonly [number, number],
  names: string[],
  against: string,
): void {
  assert.is(got.length, names.length, `${against}: number of gradients`);
  assert.is(want.length, names.length, `${against}: number of expected gradients`);
  names.forEach((name, i) => assertClose(got[i], want[i], atol, rtol, `${name} against ${against}`));
}

export interface Operand {
  name: string;
  shape: number[];
  values: ArrayLike<number>;
  dtype?: DType;
  grad?: boolean;
}

/** GPU gradients of sum(up * op(inputs)) for every input with grad (default true), in order. */
export async function backward(inputs: Operand[], op: (g: Graph, ts: Tensor[]) => Tensor, seed: number) {
  let up: Float64Array = new Float64Array(0);
  const { extra } = await runGraph(
    (g) => {
      const ts = inputs.map((o) => g.input(o.name, o.shape, o.dtype ?? 'f32', { requiresGrad: o.grad ?? true }));
      const y = op(g, ts);
      up = randomValues(y.size, seed);
      const tu = g.input('up', y.shape);
      const loss = weightedSum(g, y, tu);
      return {
        feeds: [...inputs.map((o, i): [Tensor, ArrayLike<number>] => [ts[i], o.values]), [tu, up]],
        outputs: [loss],
        gradientsOf: loss,
      };
    },
    {},
    (p) => p.graph.tensors.filter((x) => x.wantsGrad).map((x) => p.gradOf(x)),
  );
  return { grads: extra, up };
}

/** The first n images of the MNIST test set, with their labels: a small training set for model tests. */
export function firstMnist(n: number): MnistSet {
  const all = loadMnist('t10k');
  return {
    count: n,
    images: all.images.slice(0, n * 784),
    bytes: all.bytes.slice(0, n * 784),
    labels: all.labels.slice(0, n),
  };
}
