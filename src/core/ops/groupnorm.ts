// GroupNorm over x [B, C, L] (or [B, C, H, W]: L = H W) with a per-channel affine (gamma, beta), eps inside the square root.
import normCode from '../../../shaders/groupnorm.wgsl';
import { defineKernel } from '../kernel.js';
import { expectShape, f32, type Graph, type Tensor } from '../graph.js';
import { channelView, emitSumBatchLength, positiveInt } from './util.js';

const FORWARD = defineKernel('groupnorm.forward', normCode, 'forward', ['read', 'read', 'read', 'write', 'write', 'uniform', null]);
const BACKWARD_INPUT = defineKernel('groupnorm.backward_input', normCode, 'backward_input', ['read', 'read', null, 'write', 'write', 'uniform', 'read']);
const BACKWARD_GAMMA = defineKernel('groupnorm.backward_gamma', normCode, 'backward_gamma', ['read', null, null, 'write', 'write', 'uniform', 'read']);

export function groupNorm(g: Graph, x: Tensor, gamma: Tensor, beta: Tensor, groups: number, eps = 1e-5, name = 'groupnorm'): Tensor {
  const [B, C, L] = channelView(x, name);
  positiveInt(groups, `${name} groups`);
  if (C % groups !== 0) throw new Error(`${name}: ${C} channels do not split into ${groups} groups`);
  if (!(eps > 0)) throw new Error(`${name}: eps = ${eps}, expected a positive number`);
  expectShape(gamma, [C], `${name} gamma`);
  expectShape(beta, [C], `${name} beta`);
  const y = g.activation(name, x.shape);
  const stats = g.activation(`${name}.stats`, [B, groups, 2]);
  const params = (acc: number) => [B, C, L, groups, f32(eps), acc];
  g.add({
    type: 'groupnorm',
    inputs: [x, gamma, beta],
    outputs: [y, stats],
    forward(e) {
      e.dispatch(FORWARD, [x, gamma, beta, y, stats], params(0), B * groups);
    },
    backward(e) {
      const dy = e.grad(y);
      const dx = e.gradTarget(x);
      if (dx) e.dispatch(BACKWARD_INPUT, [x, gamma, dx.tensor, stats, dy], params(dx.accumulate), B * groups);
      const dgamma = e.gradTarget(gamma);
      if (dgamma) e.dispatch(BACKWARD_GAMMA, [x, dgamma.tensor, stats, dy], params(dgamma.accumulate), C);
      const dbeta = e.gradTarget(beta);
      if (dbeta) emitSumBatchLength(e, dy, dbeta, B, C, L);
    },
  });
  return y;
}
