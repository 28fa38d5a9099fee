// GroupNorm over x [B, C, L] (or [B, C, H, W]: L = H W) with a per-channel affine (gamma, beta), eps inside the square root.
import normCode from '../../../shaders/groupnorm.wgsl';
import normWgCode from '../../../shaders/groupnorm_wg.wgsl';
import { shaderModule, type KernelDef } from '../kernel.js';
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
    bias: 'read', // [B, C], added after the SiLU (groupNormSilu with a bias)
    out2: 'read_write', // dbeta, where one kernel writes dgamma and dbeta
  },
  // what: the gamma kernel's sum, 0 for dgamma (dz xhat), 1 for dbeta (dz); accumulate2: out2's
  params: {
    batch: 'u32',
    channels: 'u32',
    length: 'u32',
    groups: 'u32',
    eps: 'f32',
    accumulate: 'u32',
    accumulate2: 'u32',
    what: 'u32',
  },
});

/** What the kernels apply after the norm: nothing, SiLU, or SiLU and a per-(sample, channel) bias. */
type After = 'none' | 'silu' | 'silu_bias';
// act_out and act_grad (shaders/groupnorm.wgsl) for each, with the SiLU and its derivative as
// the kernels of elementwise.wgsl compute them.
const Z = 'xhat * gamma[c] + beta[c]';
const SIGMOID = 'fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }';
const ACT: Record<After, string> = {
  none: `fn act_out(xhat: f32, c: u32, bc: u32) -> f32 { return ${Z}; }
fn act_grad(xhat: f32, c: u32, dy: f32) -> f32 { return dy; }`,
  silu: `fn act_out(xhat: f32, c: u32, bc: u32) -> f32 { let z = ${Z}; return z * sigmoid(z); }
fn act_grad(xhat: f32, c: u32, dy: f32) -> f32 { let z = ${Z}; let s = sigmoid(z); return dy * s * (1.0 + z * (1.0 - s)); }`,
  silu_bias: `fn act_out(xhat: f32, c: u32, bc: u32) -> f32 { let z = ${Z}; return z * sigmoid(z) + bias[bc]; }`,
};
ACT.silu_bias += `\n${ACT.silu.split('\n')[1]}`;
ACT.silu = `${SIGMOID}\n${ACT.silu}`;
ACT.silu_bias = `${SIGMOID}\n${ACT.silu_bias}`;
const USES = {
  none: {
    forward: ['x', 'gamma', 'beta', 'out', 'stats_out'],
    backwardInput: ['x', 'gamma', 'out', 'stats', 'dy'],
    backwardGamma: ['x', 'out', 'stats', 'dy'],
    backwardAffine: ['x', 'out', 'out2', 'stats', 'dy'],
  },
  silu: {
    forward: ['x', 'gamma', 'beta', 'out', 'stats_out'],
    backwardInput: ['x', 'gamma', 'beta', 'out', 'stats', 'dy'],
    backwardGamma: ['x', 'gamma', 'beta', 'out', 'stats', 'dy'],
    backwardAffine: ['x', 'gamma', 'beta', 'out', 'out2', 'stats', 'dy'],
  },
  silu_bias: {
    forward: ['x', 'gamma', 'beta', 'out', 'stats_out', 'bias'],
    backwardInput: ['x', 'gamma', 'beta', 'out', 'stats', 'dy'],
    backwardGamma: ['x', 'gamma', 'beta', 'out', 'stats', 'dy'],
    backwardAffine: ['x', 'gamma', 'beta', 'out', 'out2', 'stats', 'dy'],
  },
} as const;
// One invocation per span (CPU drivers), or one workgroup of REDUCE_WG per span (GPUs): KernelConfig.reductions.
const REDUCE_WG = 256;
/** A norm kernel: which bindings it takes depends on its variant (USES), checked at each dispatch. */
type NormKernel = KernelDef<
  string,
  'batch' | 'channels' | 'length' | 'groups' | 'eps' | 'accumulate' | 'accumulate2' | 'what'
>;
function defineKernels(
  after: After,
  reductions: 'invocation' | 'workgroup',
): Record<'forward' | 'backwardInput' | 'backwardGamma' | 'backwardAffine', NormKernel> & { per: number } {
  const wg = reductions === 'workgroup';
  // The backward of 'silu_bias' is the backward of 'silu': one kernel for both.
  const back = after === 'silu_bias' ? 'silu' : after;
  const o = (a: After) => ({
    tag: a === 'none' ? '' : `_${a}`,
    // 8: one SIMD batch of a CPU driver, so that 16 channels' affine gradients take both cores
    workgroupSize: wg ? REDUCE_WG : 8,
    libraries: wg ? [ACT[a], normWgCode] : [ACT[a]],
  });
  const entry = (name: string) => (wg ? `${name}_wg` : name);
  return {
    forward: NORM.kernel(entry('forward'), { ...o(after), uses: USES[after].forward }),
    backwardInput: NORM.kernel(entry('backward_input'), { ...o(back), uses: USES[back].backwardInput }),
    backwardGamma: NORM.kernel(entry('backward_gamma'), { ...o(back), uses: USES[back].backwardGamma }),
    backwardAffine: NORM.kernel(entry('backward_affine'), { ...o(back), uses: USES[back].backwardAffine }),
    per: wg ? REDUCE_WG : 1,
  };
}
const KERNELS = new Map<string, ReturnType<typeof defineKernels>>();
/** The kernels of one activation and reduction variant, and the invocations each span gets. */
function variant(after: After, reductions: 'invocation' | 'workgroup') {
  const key = `${after}/${reductions}`;
  let k = KERNELS.get(key);
  if (!k) KERNELS.set(key, (k = defineKernels(after, reductions)));
  return k;
}

export function groupNorm(
  g: Graph,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  groups: number,
  eps = 1e-5,
  name = 'groupnorm',
): Tensor {
  return addNormOp(g, x, gamma, beta, groups, eps, null, 'none', name);
}

/**
 * y = SiLU(GroupNorm(x) gamma + beta) [+ bias[b, c]]: the UNet's norm, activation and embedding
 * bias as one kernel each way (bias [B, C] or null), where three or four ops made as many passes
 * over memory; the same arithmetic as groupNorm, silu and addChannelBias composed.
 */
export function groupNormSilu(
  g: Graph,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  groups: number,
  bias: Tensor | null = null,
  eps = 1e-5,
  name = 'groupnorm_silu',
): Tensor {
  return addNormOp(g, x, gamma, beta, groups, eps, bias, bias ? 'silu_bias' : 'silu', name);
}

function addNormOp(
  g: Graph,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  groups: number,
  eps: number,
  bias: Tensor | null,
  after: After,
  name: string,
): Tensor {
  const [B, C, L] = channelView(x, name);
  positiveInt(groups, `${name} groups`);
  if (C % groups !== 0) throw new Error(`${name}: ${C} channels do not split into ${groups} groups`);
  if (!(eps > 0)) throw new Error(`${name}: eps = ${eps}, expected a positive number`);
  expectShape(gamma, [C], `${name} gamma`);
  expectShape(beta, [C], `${name} beta`);
  if (bias) expectShape(bias, [B, C], `${name} bias`);
  const y = g.activation(name, x.shape);
  const stats = g.activation(`${name}.stats`, [B, groups, 2]);
  const params = (accumulate: number, what = 0, accumulate2 = 0) => ({
    batch: B,
    channels: C,
    length: L,
    groups,
    eps,
    accumulate,
    accumulate2,
    what,
  });
  g.add({
    type: after === 'none' ? 'groupnorm' : 'groupnorm_silu',
    inputs: bias ? [x, gamma, beta, bias] : [x, gamma, beta],
    outputs: [y, stats],
    forward(e) {
      const k = variant(after, e.config.reductions);
      const io = { x, gamma, beta, out: y, stats_out: stats };
      e.dispatch(k.forward, bias ? { ...io, bias } : io, params(0), B * groups * k.per);
    },
    backward(e) {
      const k = variant(after, e.config.reductions);
      const dy = e.grad(y);
      // The fused kernels recompute the SiLU's input from x, the stats, gamma and beta.
      const z: Record<string, Tensor> = after === 'none' ? {} : { beta };
      const dx = e.gradTarget(x);
      if (dx)
        e.dispatch(
          k.backwardInput,
          { x, gamma, ...z, out: dx.tensor, stats, dy },
          params(dx.accumulate),
          B * groups * k.per,
        );
      const zg: Record<string, Tensor> = after === 'none' ? {} : { gamma, beta };
      const dgamma = e.gradTarget(gamma);
      const dbeta = e.gradTarget(beta);
      const affine = (target: { tensor: Tensor; accumulate: number }, what: number) =>
        e.dispatch(
          k.backwardGamma,
          { x, ...zg, out: target.tensor, stats, dy },
          params(target.accumulate, what),
          C * k.per,
        );
      if (after === 'none') {
        // dbeta is the sum of dy itself: no norm kernel needed.
        if (dgamma) affine(dgamma, 0);
        if (dbeta) emitSumBatchLength(e, dy, dbeta, B, C, L);
      } else if (dgamma && dbeta) {
        const io = { x, ...zg, out: dgamma.tensor, out2: dbeta.tensor, stats, dy };
        e.dispatch(k.backwardAffine, io, params(dgamma.accumulate, 0, dbeta.accumulate), C * k.per);
      } else if (dgamma) affine(dgamma, 0);
      else if (dbeta) affine(dbeta, 1);
      const db = bias && e.gradTarget(bias);
      if (db) emitSumBatchLength(e, dy, db, 1, B * C, L);
    },
  });
  return y;
}
