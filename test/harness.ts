// Shared helpers for kernel tests: random non-zero data, compiled one-op graphs with poisoned
// outputs, tolerance checks that name the worst element, and central finite differences.
import * as assert from 'uvu/assert';
import { Graph, type DType, type Tensor } from '../src/core/graph.js';
import { Program, type CompileOptions } from '../src/core/program.js';
import { weightedSum } from '../src/core/ops/loss.js';
import { PhiloxStream } from '../src/core/philox.js';
import { testGpu } from './device.js';
import { withKernelConfig, type KernelConfig } from '../src/core/config.js';

/** Random values in ±[0.1, 1]: never zero, so an unwritten or ignored element shows. */
export function randomValues(n: number, seed: number, stream = 0): Float64Array {
  const rng = new PhiloxStream(seed, stream);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (0.1 + 0.9 * rng.uniform()) * (rng.uniform() < 0.5 ? -1 : 1);
  return out;
}

export function randomInts(n: number, below: number, seed: number, stream = 0): Uint32Array {
  const rng = new PhiloxStream(seed, stream);
  return Uint32Array.from({ length: n }, () => Math.floor(rng.uniform() * below));
}

/** Asserts |got - want| <= atol + rtol |want| everywhere; the message names the worst element. */
export function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  atol: number,
  rtol: number,
  what: string,
): void {
  assert.is(got.length, want.length, `${what}: length`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const excess = err - (atol + rtol * Math.abs(want[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.unreachable(
      `${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} (atol ${atol}, rtol ${rtol})`,
    );
  }
}

export interface Built {
  /** Inputs and their host values. */
  feeds: [Tensor, ArrayLike<number>][];
  /** Tensors to read back after the run. */
  outputs: Tensor[];
  /** A loss op's output: the backward pass runs from it (gradients of inputs that ask for one). */
  gradientsOf?: Tensor;
}

/**
 * Compiles a graph built by `build`, writes the feeds, poisons every output with NaN, runs one
 * replay and reads the outputs back. Parameters are fed like inputs (written into the store).
 */
/**
 * Runs `f` with the test device's kernel variants set to `config` over its defaults (plain: the
 * kernels of every device without subgroups of 8, { broadcasts: false }); programs read the
 * variants when they compile.
 */
export async function withKernels<R>(config: Partial<KernelConfig>, f: () => Promise<R>): Promise<R> {
  const gpu = await testGpu();
  return withKernelConfig(gpu.device, config, f);
}

export async function runGraph(
  build: (g: Graph) => Built,
  options: CompileOptions & { params?: undefined } = {},
  extraReads: (p: Program) => Tensor[] = () => [],
): Promise<{ values: Float32Array[]; extra: Float32Array[]; program: Program }> {
  const gpu = await testGpu();
  const g = new Graph('test');
  const { feeds, outputs, gradientsOf } = build(g);
  const program = await Program.compile(gpu.device, g, {
    gradientsOf,
    ...options,
    keep: [...outputs, ...(options.keep ?? [])],
  });
  for (const [t, data] of feeds) program.write(t, data);
  for (const t of outputs) if (t.role !== 'input' && t.role !== 'param') program.fill(t, NaN);
  const extraTensors = extraReads(program);
  for (const t of extraTensors) program.fill(t, NaN);
  program.run(1);
  const values = await Promise.all(outputs.map((t) => program.read(t).then((v) => Float32Array.from(v))));
  const extra = await Promise.all(extraTensors.map((t) => program.read(t).then((v) => Float32Array.from(v))));
  return { values, extra, program };
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
