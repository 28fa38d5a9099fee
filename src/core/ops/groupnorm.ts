// GroupNorm over x [B, C, L] (or [B, C, H, W]: L = H W) with a per-channel affine (gamma, beta), eps inside the square root.
import normCode from '../../../shaders/groupnorm.wgsl';
import normWgCode from '../../../shaders/groupnorm_wg.wgsl';
import { shaderModule } from '../kernel.js';
import { expectShape, type Graph, type Tensor } from '../graph.js';
import { channelView, emitSumBatchLength, positiveInt } from './util.js';

const NORM = shaderModule({
  name: 'groupnorm',
  source: normCode,
  // stats [B, G, 2]: (mean, rstd) per (sample, group), written by the forward for the backward
  bindings: {
    x: 'read',
    gamma: 'read',
    beta: 'read',
    out: 'read_write',
    stats: 'read',
    stats_out: 'read_write',
    dy: 'read',
  },
  params: { batch: 'u32', channels: 'u32', length: 'u32', groups: 'u32', eps: 'f32', accumulate: 'u32' },
});
const uses = {
  forward: ['x', 'gamma', 'beta', 'out', 'stats_out'],
  backwardInput: ['x', 'gamma', 'out', 'stats', 'dy'],
  backwardGamma: ['x', 'out', 'stats', 'dy'],
} as const;
// One invocation per span (CPU drivers), or one workgroup of REDUCE_WG per span (GPUs): KernelConfig.reductions.
const INVOCATION = {
  forward: NORM.kernel('forward', { uses: uses.forward }),
  backwardInput: NORM.kernel('backward_input', { uses: uses.backwardInput }),
  backwardGamma: NORM.kernel('backward_gamma', { uses: uses.backwardGamma }),
};
const REDUCE_WG = 256;
const o = { workgroupSize: REDUCE_WG, libraries: [normWgCode] };
const WORKGROUP = {
  forward: NORM.kernel('forward_wg', { ...o, uses: uses.forward }),
  backwardInput: NORM.kernel('backward_input_wg', { ...o, uses: uses.backwardInput }),
  backwardGamma: NORM.kernel('backward_gamma_wg', { ...o, uses: uses.backwardGamma }),
};

/** The kernels of a reduction variant and the invocations each span gets. */
const variant = (r: 'invocation' | 'workgroup') =>
  r === 'workgroup' ? ([WORKGROUP, REDUCE_WG] as const) : ([INVOCATION, 1] as const);

export function groupNorm(
  g: Graph,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  groups: number,
  eps = 1e-5,
  name = 'groupnorm',
): Tensor {
  const [B, C, L] = channelView(x, name);
  positiveInt(groups, `${name} groups`);
  if (C % groups !== 0) throw new Error(`${name}: ${C} channels do not split into ${groups} groups`);
  if (!(eps > 0)) throw new Error(`${name}: eps = ${eps}, expected a positive number`);
  expectShape(gamma, [C], `${name} gamma`);
  expectShape(beta, [C], `${name} beta`);
  const y = g.activation(name, x.shape);
  const stats = g.activation(`${name}.stats`, [B, groups, 2]);
  const params = (accumulate: number) => ({ batch: B, channels: C, length: L, groups, eps, accumulate });
  g.add({
    type: 'groupnorm',
    inputs: [x, gamma, beta],
    outputs: [y, stats],
    forward(e) {
      const [k, per] = variant(e.config.reductions);
      e.dispatch(k.forward, { x, gamma, beta, out: y, stats_out: stats }, params(0), B * groups * per);
    },
    backward(e) {
      const [k, per] = variant(e.config.reductions);
      const dy = e.grad(y);
      const dx = e.gradTarget(x);
      if (dx)
        e.dispatch(k.backwardInput, { x, gamma, out: dx.tensor, stats, dy }, params(dx.accumulate), B * groups * per);
      const dgamma = e.gradTarget(gamma);
      if (dgamma) e.dispatch(k.backwardGamma, { x, out: dgamma.tensor, stats, dy }, params(dgamma.accumulate), C * per);
      const dbeta = e.gradTarget(beta);
      if (dbeta) emitSumBatchLength(e, dy, dbeta, B, C, L);
    },
  });
  return y;
}
