// Kernel-test helpers that need neither Node nor uvu, so the browser's kernel page
// (demo/kernels.ts) runs the same checks as the Node suites: random non-zero data, a one-op graph
// compiled with its outputs poisoned, and a tolerance check that names the worst element.
import { Graph, type Tensor } from '../src/core/graph.js';
import { Program, type CompileOptions } from '../src/core/program.js';
import { PhiloxStream } from '../src/core/philox.js';

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
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
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
    throw new Error(`${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} (atol ${atol}, rtol ${rtol})`);
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
export async function runGraphOn(
  device: GPUDevice,
  build: (g: Graph) => Built,
  options: CompileOptions & { params?: undefined } = {},
  extraReads: (p: Program) => Tensor[] = () => [],
): Promise<{ values: Float32Array[]; extra: Float32Array[]; program: Program }> {
  const g = new Graph('test');
  const { feeds, outputs, gradientsOf } = build(g);
  const program = await Program.compile(device, g, {
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
