// Random tensors drawn on the device each step (counter = element, stream, step).
import code from '../../../shaders/random.wgsl';
import philox from '../../../shaders/philox.wgsl';
import { defineKernel } from '../kernel.js';
import { checkShape, f32, type Graph, type Tensor } from '../graph.js';
import { nonNegativeInt, positiveInt } from './util.js';

const opts = { libraries: [philox] };
const UNIFORM = defineKernel('random.uniform', code, 'uniform_draw', ['write', 'read', 'uniform'], opts);
const NORMAL = defineKernel('random.normal', code, 'normal_draw', ['write', 'read', 'uniform'], opts);
const RANDINT = defineKernel('random.randint', code, 'randint_draw', ['write', 'read', 'uniform'], opts);

export type Distribution =
  | { kind: 'uniform' }
  | { kind: 'normal'; mean?: number; std?: number }
  | { kind: 'randint'; low: number; high: number };

/** A tensor redrawn every step from stream `stream`: uniform [0,1), normal, or integers in [low, high). */
export function random(g: Graph, shape: readonly number[], dist: Distribution, stream: number, name = 'random'): Tensor {
  checkShape(shape, name);
  nonNegativeInt(stream, `${name} stream`);
  let kernel = UNIFORM;
  let params: (number | ReturnType<typeof f32>)[] = [0, stream, 0, 0, f32(0), f32(1)];
  if (dist.kind === 'normal') {
    kernel = NORMAL;
    params = [0, stream, 0, 0, f32(dist.mean ?? 0), f32(dist.std ?? 1)];
  } else if (dist.kind === 'randint') {
    kernel = RANDINT;
    nonNegativeInt(dist.low, `${name} low`);
    positiveInt(dist.high - dist.low, `${name} range (high - low)`);
    params = [0, stream, dist.low, dist.high - dist.low, f32(0), f32(0)];
  } else if (dist.kind !== 'uniform') {
    throw new Error(`${name}: unknown distribution ${JSON.stringify(dist)}`);
  }
  const y = g.activation(name, shape, dist.kind === 'randint' ? 'u32' : 'f32');
  params[0] = y.size;
  g.add({
    type: `random.${dist.kind}`,
    inputs: [],
    outputs: [y],
    forward: (e) => e.dispatch(kernel, [y, g.state], params, y.size),
  });
  return y;
}
