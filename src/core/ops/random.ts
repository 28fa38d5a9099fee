// Random tensors drawn on the device each step (counter = element, stream, step).
import code from '../../../shaders/random.wgsl';
import philox from '../../../shaders/philox.wgsl';
import { shaderModule } from '../kernel.js';
import { checkShape, type Graph, type Tensor } from '../graph.js';
import { nonNegativeInt, positiveInt } from './util.js';

const RANDOM = shaderModule({
  name: 'random',
  source: code,
  libraries: [philox],
  bindings: { values: 'read_write', ints: 'read_write u32', state: 'read u32' },
  params: { n: 'u32', stream: 'u32', low: 'u32', range: 'u32', mean: 'f32', stddev: 'f32' },
});
const UNIFORM = RANDOM.kernel('uniform_draw', { uses: ['values', 'state'] });
const NORMAL = RANDOM.kernel('normal_draw', { uses: ['values', 'state'] });
const RANDINT = RANDOM.kernel('randint_draw', { uses: ['ints', 'state'] });

export type Distribution =
  | { kind: 'uniform' }
  | { kind: 'normal'; mean?: number; std?: number }
  | { kind: 'randint'; low: number; high: number };

/** A tensor redrawn every step from stream `stream`: uniform [0,1), normal, or integers in [low, high). */
export function random(
  g: Graph,
  shape: readonly number[],
  dist: Distribution,
  stream: number,
  name = 'random',
): Tensor {
  checkShape(shape, name);
  nonNegativeInt(stream, `${name} stream`);
  const size = shape.reduce((a, b) => a * b, 1);
  const draw = { n: size, stream, low: 0, range: 0, mean: 0, stddev: 1 };
  if (dist.kind === 'randint') {
    nonNegativeInt(dist.low, `${name} low`);
    positiveInt(dist.high - dist.low, `${name} range (high - low)`);
    const y = g.activation(name, shape, 'u32');
    g.add({
      type: 'random.randint',
      inputs: [],
      outputs: [y],
      forward: (e) =>
        e.dispatch(RANDINT, { ints: y, state: g.state }, { ...draw, low: dist.low, range: dist.high - dist.low }, size),
    });
    return y;
  }
  if (dist.kind !== 'uniform' && dist.kind !== 'normal')
    throw new Error(`${name}: unknown distribution ${JSON.stringify(dist)}`);
  const y = g.activation(name, shape);
  const [kernel, values] =
    dist.kind === 'normal' ? [NORMAL, { ...draw, mean: dist.mean ?? 0, stddev: dist.std ?? 1 }] : [UNIFORM, draw];
  g.add({
    type: `random.${dist.kind}`,
    inputs: [],
    outputs: [y],
    forward: (e) => e.dispatch(kernel, { values: y, state: g.state }, values, size),
  });
  return y;
}
