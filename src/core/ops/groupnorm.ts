// GroupNorm over x [B, C, L] (or [B, C, H, W]: L = H W) with a per-channel affine (gamma, beta), eps inside the square root.
import normCode from '../../../shaders/groupnorm.wgsl';
import normWgCode from '../../../shaders/groupnorm_wg.wgsl';
import { shaderModule, type KernelDef } from '../kernel.js';
import { expectShape, type Graph, type Tensor } from '../graph.js';
import { channelView, emitSumBatchLength, positiveInt } from './util.js';
import { emitCopy } from './elementwise.js';

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
    residual: 'read', // x's shape, added after the SiLU (groupNormSilu with a residual)
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

/**
 * What the kernels apply after the norm: nothing, or SiLU, then optionally a per-(sample,
 * channel) bias [B, C] (the embedding) or a residual of x's shape, added after the SiLU.
 */
type After = 'none' | 'silu' | 'silu_bias' | 'silu_residual';
// act_out(xhat, c, bc, at) and act_grad(xhat, c, dy) (shaders/groupnorm.wgsl) for each, with the
// SiLU and its derivative as the kernels of elementwise.wgsl compute them. What is added after
// the SiLU has gradient dy itself: the backward kernels of every SiLU variant are the same.
const Z = 'xhat * gamma[c] + beta[c]';
const ADDED: Record<After, string> = { none: '', silu: '', silu_bias: ' + bias[bc]', silu_residual: ' + residual[at]' };
function actLibrary(after: After): string {
  if (after === 'none')
    return `fn act_out(xhat: f32, c: u32, bc: u32, at: u32) -> f32 { return ${Z}; }
fn act_grad(xhat: f32, c: u32, dy: f32) -> f32 { return dy; }`;
  return `fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn act_out(xhat: f32, c: u32, bc: u32, at: u32) -> f32 { let z = ${Z}; return z * sigmoid(z)${ADDED[after]}; }
fn act_grad(xhat: f32, c: u32, dy: f32) -> f32 { let z = ${Z}; let s = sigmoid(z); return dy * s * (1.0 + z * (1.0 - s)); }`;
}
/** The bindings of each kernel; the SiLU's backward also reads beta (and gamma) to recompute z. */
function uses(after: After) {
  const added = after === 'silu_bias' ? ['bias'] : after === 'silu_residual' ? ['residual'] : [];
  const z = after === 'none' ? [] : ['gamma', 'beta'];
  return {
    forward: ['x', 'gamma', 'beta', 'out', 'stats_out', ...added],
    backwardInput: ['x', 'gamma', ...(after === 'none' ? [] : ['beta']), 'out', 'stats', 'dy'],
    backwardGamma: ['x', ...z, 'out', 'stats', 'dy'],
    backwardAffine: ['x', ...z, 'out', 'out2', 'stats', 'dy'],
  } as Record<'forward' | 'backwardInput' | 'backwardGamma' | 'backwardAffine', NormBinding[]>;
}
// One invocation per span (CPU drivers), or one workgroup of REDUCE_WG per span (GPUs): KernelConfig.reductions.
const REDUCE_WG = 256;
type NormBinding = 'x' | 'gamma' | 'beta' | 'out' | 'stats' | 'stats_out' | 'dy' | 'bias' | 'residual' | 'out2';
/** A norm kernel: which bindings it takes depends on its variant (uses), checked at each dispatch. */
type NormKernel = KernelDef<
  string,
  'batch' | 'channels' | 'length' | 'groups' | 'eps' | 'accumulate' | 'accumulate2' | 'what'
>;
function defineKernels(
  after: After,
  reductions: 'invocation' | 'workgroup',
): Record<'forward' | 'backwardInput' | 'backwardGamma' | 'backwardAffine', NormKernel> & { per: number } {
  const wg = reductions === 'workgroup';
  const back = after === 'none' ? 'none' : 'silu'; // one backward for every SiLU variant
  const o = (a: After) => ({
    tag: a === 'none' ? '' : `_${a}`,
    // 8: one SIMD batch of a CPU driver, so that 16 channels' affine gradients take both cores
    workgroupSize: wg ? REDUCE_WG : 8,
    libraries: wg ? [actLibrary(a), normWgCode] : [actLibrary(a)],
  });
  const entry = (name: string) => (wg ? `${name}_wg` : name);
  const [f, b] = [uses(after), uses(back)];
  return {
    forward: NORM.kernel(entry('forward'), { ...o(after), uses: f.forward }),
    backwardInput: NORM.kernel(entry('backward_input'), { ...o(back), uses: b.backwardInput }),
    backwardGamma: NORM.kernel(entry('backward_gamma'), { ...o(back), uses: b.backwardGamma }),
    backwardAffine: NORM.kernel(entry('backward_affine'), { ...o(back), uses: b.backwardAffine }),
    per: wg ? REDUCE_WG : 1,
  };
}
// Every variant declared at load, as every kernel is (scripts/wgsl.mjs writes the registry out).
const AFTER: readonly After[] = ['none', 'silu', 'silu_bias', 'silu_residual'];
const KERNELS = new Map(
  AFTER.flatMap((a) => (['invocation', 'workgroup'] as const).map((r) => [`${a}/${r}`, defineKernels(a, r)] as const)),
);
/** The kernels of one activation and reduction variant, and the invocations each span gets. */
function variant(after: After, reductions: 'invocation' | 'workgroup') {
  const k = KERNELS.get(`${after}/${reductions}`);
  if (!k) throw new Error(`groupnorm: no kernels for ${after} with ${reductions} reductions`);
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
  return addNormOp(g, x, gamma, beta, groups, eps, {}, 'none', name);
}

export interface NormSiluOptions {
  /** [B, C], added after the SiLU: the UNet's step-and-class embedding. */
  bias?: Tensor | null;
  /** x's shape, added after the SiLU: a residual block's skip. */
  residual?: Tensor | null;
  eps?: number;
  name?: string;
}

/**
 * y = SiLU(GroupNorm(x) gamma + beta) [+ bias[b, c] or + residual]: the UNet's norm, activation
 * and embedding bias (or skip) as one kernel each way, where three or four ops made as many
 * passes over memory; the same arithmetic as groupNorm, silu and addChannelBias (or add) composed.
 */
export function groupNormSilu(
  g: Graph,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  groups: number,
  o: NormSiluOptions = {},
): Tensor {
  const name = o.name ?? 'groupnorm_silu';
  if (o.bias && o.residual) throw new Error(`${name}: a bias or a residual, not both`);
  const added = o.bias ? { bias: o.bias } : o.residual ? { residual: o.residual } : {};
  const after = o.bias ? 'silu_bias' : o.residual ? 'silu_residual' : 'silu';
  return addNormOp(g, x, gamma, beta, groups, o.eps ?? 1e-5, added, after, name);
}

function addNormOp(
  g: Graph,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  groups: number,
  eps: number,
  added: { bias?: Tensor; residual?: Tensor },
  after: After,
  name: string,
): Tensor {
  const [B, C, L] = channelView(x, name);
  positiveInt(groups, `${name} groups`);
  if (C % groups !== 0) throw new Error(`${name}: ${C} channels do not split into ${groups} groups`);
  if (!(eps > 0)) throw new Error(`${name}: eps = ${eps}, expected a positive number`);
  expectShape(gamma, [C], `${name} gamma`);
  expectShape(beta, [C], `${name} beta`);
  const { bias, residual } = added;
  if (bias) expectShape(bias, [B, C], `${name} bias`);
  if (residual) expectShape(residual, x.shape, `${name} residual`);
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
    inputs: [x, gamma, beta, ...Object.values(added)],
    outputs: [y, stats],
    forward(e) {
      const k = variant(after, e.config.reductions);
      e.dispatch(k.forward, { x, gamma, beta, out: y, stats_out: stats, ...added }, params(0), B * groups * k.per);
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
      if (dgamma && dbeta) {
        const io = { x, ...zg, out: dgamma.tensor, out2: dbeta.tensor, stats, dy };
        e.dispatch(k.backwardAffine, io, params(dgamma.accumulate, 0, dbeta.accumulate), C * k.per);
      } else if (dgamma) affine(dgamma, 0);
      else if (dbeta) affine(dbeta, 1);
      const db = bias && e.gradTarget(bias);
      if (db) emitSumBatchLength(e, dy, db, 1, B * C, L);
      const dr = residual && e.gradTarget(residual);
      if (dr) emitCopy(e, dy, dr);
    },
  });
  return y;
}
