// y = x W + b for x [M, K], W [K, N], b [N]; and the batched matmul it is built on.
import matmulCode from '../../../shaders/matmul.wgsl';
import blockedCode from '../../../shaders/matmul_blocked.wgsl';
import aRowsCode from '../../../shaders/matmul_a.wgsl';
import aVec4Code from '../../../shaders/matmul_a4.wgsl';
import aSubgroupCode from '../../../shaders/matmul_asg.wgsl';
import tileCode from '../../../shaders/tile.wgsl';
import cRowsCode from '../../../shaders/matmul_c.wgsl';
import cVec4Code from '../../../shaders/matmul_c4.wgsl';
import transposeCode from '../../../shaders/transpose.wgsl';
import { defineKernel, type Access, type KernelDef } from '../kernel.js';
import { expectDtype, expectShape, type Emitter, type Graph, type Tensor } from '../graph.js';
import { emitSumBatchLength } from './util.js';
import type { AdapterKind } from '../../gpu/gpu.js';

export const MATMUL = defineKernel('matmul.matmul', matmulCode, 'matmul', ['read', 'read', 'write', 'uniform'], { workgroupSize: 256 });
export const MATMUL_BIAS = defineKernel('matmul.matmul_bias', matmulCode, 'matmul_bias', ['read', 'read', 'write', 'uniform', 'read'], { workgroupSize: 256 });
/** Invocations per workgroup of the blocked kernels: one SIMD batch of a CPU driver. */
const BLOCKED_WG = 8;
type BlockedEntry = 'matmul' | 'matmul_bias' | 'matmul_b4' | 'matmul_bias_b4';
/** Each entry point's bindings [a, b, c, params, bias, b4, a4]. */
const BLOCKED_BINDINGS: Record<BlockedEntry, (Access | null)[]> = {
  matmul: ['read', 'read', 'write', 'uniform'],
  matmul_bias: ['read', 'read', 'write', 'uniform', 'read'],
  matmul_b4: ['read', null, 'write', 'uniform', null, 'read'],
  matmul_bias_b4: ['read', null, 'write', 'uniform', 'read', 'read'],
};
const blockedKernels = new Map<string, KernelDef>();
/** How the blocked kernels read A: a float per row, two vec4s per k, or one float per lane broadcast. */
type ARead = 'rows' | 'a4' | 'sg';
const A_LIBRARIES: Record<ARead, string> = { rows: aRowsCode, a4: aVec4Code, sg: aSubgroupCode };
/**
 * A blocked kernel: A read by matmul_a.wgsl (a float per row, binding 0), matmul_a4.wgsl (vec4s,
 * binding 6) or matmul_asg.wgsl (subgroup broadcasts, binding 0); with `c4`, C is stored as vec4s
 * (matmul_c4.wgsl) instead of one float per column (matmul_c.wgsl). Defined once per combination.
 */
function blockedKernel(entry: BlockedEntry, aRead: ARead, c4: boolean): KernelDef {
  const name = `matmul_blocked.${entry}${aRead === 'rows' ? '' : `_${aRead}`}${c4 ? '_c4' : ''}`;
  let k = blockedKernels.get(name);
  if (!k) {
    const base = BLOCKED_BINDINGS[entry];
    const bindings = aRead === 'a4' ? [null, ...base.slice(1), ...new Array(6 - base.length).fill(null), 'read' as const] : base;
    const libraries = [tileCode, A_LIBRARIES[aRead], c4 ? cVec4Code : cRowsCode];
    k = defineKernel(name, blockedCode, entry, bindings, { workgroupSize: BLOCKED_WG, libraries, directives: aRead === 'sg' ? ['enable subgroups'] : [] });
    blockedKernels.set(name, k);
  }
  return k;
}
const TRANSPOSE_WG = 64;
const TRANSPOSE_A = defineKernel('transpose.transpose_a', transposeCode, 'transpose_a', ['read', 'write', 'uniform'], { workgroupSize: TRANSPOSE_WG });
/**
 * Products of at least this many multiply-adds with N of at least TRANSPOSE_MIN_N read A through
 * a transposed copy when it is not stored transposed already: the vec4 reads of A make the
 * blocked kernel about 15 % faster (1024^3, 2048^3), which pays for the copy's dispatch and its
 * m k scalar reads only for large products.
 */
const TRANSPOSE_MIN_WORK = 1 << 24;
const TRANSPOSE_MIN_N = 256;
/** Rows x columns one workgroup of the blocked kernels computes. */
const BLOCKED_TILE = [8, 8 * BLOCKED_WG] as const;

/**
 * 'tiled': 16x16 tiles through workgroup memory (the plain reference); 'blocked': 8x8 outputs per
 * invocation with broadcast reads of A, B read as vec4s where its rows are contiguous (an order of
 * magnitude faster on CPU drivers; see bench/).
 */
export type MatmulVariant = 'tiled' | 'blocked';
let chosen: MatmulVariant | null = null;
let preferred: MatmulVariant = 'blocked';

/** Chooses the matmul kernel for graphs compiled from now on; null returns to the adapter's default. */
export function setMatmulVariant(v: MatmulVariant | null): void {
  if (v !== null && v !== 'tiled' && v !== 'blocked') throw new Error(`matmul variant "${v}" is not one of tiled, blocked`);
  chosen = v;
}

/**
 * The default for an adapter kind, set when a device is opened (src/gpu): 'blocked' for CPU
 * drivers, which it is tuned for; 'tiled' for hardware, where the blocked kernel's workgroups of 8
 * (one SIMD batch of a CPU driver) would fill a quarter of a 32-wide warp. Not yet measured on a
 * GPU.
 */
export function preferMatmulVariantFor(kind: AdapterKind): void {
  preferred = kind === 'hardware' ? 'tiled' : 'blocked';
}

/** The variant graphs compile with now. */
export function matmulVariant(): MatmulVariant {
  return chosen ?? preferred;
}

/** Strides of an operand as the kernel reads it: element (row, inner) and batch. */
export interface MatmulShape {
  m: number;
  n: number;
  k: number;
  batch?: number;
  /** Strides, and where the operand starts in its tensor (default 0). */
  a: { sm: number; sk: number; sb?: number; off?: number };
  b: { sk: number; sn: number; sb?: number; off?: number };
  /**
   * C's row and column strides (default row-major: n and 1; 1 and m store C transposed), batch
   * stride (default m * n) and start (default 0).
   */
  c?: { sm: number; sn: number; sb?: number; off?: number };
  /** With a bias: the rows it is added to, 0 .. biasRows - 1 (default all m). */
  biasRows?: number;
}

/**
 * A [batch, m, k] (strides a, from a.off) copied as A^T [batch, k, mp] (mp >= m a multiple of 4,
 * zeros past m) into a scratch tensor: the layout whose rows at one k the blocked kernels read
 * as vec4s (shaders/transpose.wgsl).
 */
export function emitTransposed(e: Emitter, A: Tensor, m: number, k: number, batch: number, a: { sm: number; sk: number; sb: number; off: number }, mp: number): Tensor {
  if (mp < m || mp % 4 !== 0) throw new Error(`transposed operand: padded rows ${mp} must be a multiple of 4 and at least ${m}`);
  const t = e.scratch('transposed', [batch, k, mp]);
  e.dispatch(TRANSPOSE_A, [A, t], [m, k, mp, a.sm, a.sk, a.sb, a.off], { workgroups: [Math.ceil(k / TRANSPOSE_WG), batch, 1] });
  return t;
}

/** C (+)= op(A) op(B) (+ bias), C [batch, m, n]. */
export function emitMatmul(e: Emitter, A: Tensor, B: Tensor, C: Tensor, s: MatmulShape, accumulate: number, bias?: Tensor): void {
  const batch = s.batch ?? 1;
  let a = A;
  let as = { sm: s.a.sm, sk: s.a.sk, sb: s.a.sb ?? 0, off: s.a.off ?? 0 };
  const blocked = matmulVariant() === 'blocked';
  // With subgroup broadcasts A costs one read per lane and k in any layout; without, vec4 reads
  // where A is stored transposed.
  const sg = blocked && e.broadcasts;
  let a4 = blocked && !sg && as.sm === 1 && [as.sk, as.sb, as.off, A.size].every((v) => v % 4 === 0);
  if (blocked && !sg && !a4 && s.n >= TRANSPOSE_MIN_N && s.m * s.n * s.k * batch >= TRANSPOSE_MIN_WORK) {
    const mp = Math.ceil(s.m / 4) * 4;
    a = emitTransposed(e, A, s.m, s.k, batch, as, mp);
    as = { sm: 1, sk: mp, sb: s.k * mp, off: 0 };
    a4 = true;
  }
  const params = [s.m, s.n, s.k, as.sm, as.sk, as.sb, s.b.sk, s.b.sn, s.b.sb ?? 0, s.c?.sb ?? s.m * s.n, accumulate, as.off, s.b.off ?? 0, s.c?.sm ?? s.n, s.c?.sn ?? 1, s.c?.off ?? 0, s.biasRows ?? s.m];
  if (blocked) {
    const workgroups: [number, number, number] = [Math.ceil(s.n / BLOCKED_TILE[1]), Math.ceil(s.m / BLOCKED_TILE[0]), batch];
    const vec4 = s.b.sn === 1 && [s.n, s.b.sk, s.b.sb ?? 0, s.b.off ?? 0, B.size].every((v) => v % 4 === 0);
    const c = s.c ?? { sm: s.n, sn: 1 };
    const c4 = c.sn === 1 && [s.n, c.sm, c.sb ?? s.m * s.n, c.off ?? 0, C.size].every((v) => v % 4 === 0);
    const entry: BlockedEntry = bias ? (vec4 ? 'matmul_bias_b4' : 'matmul_bias') : vec4 ? 'matmul_b4' : 'matmul';
    // The tensors in binding order: a (unless read as vec4s), b, c, bias, b4, a4.
    const tensors = [a4 ? null : a, vec4 ? null : B, C, bias ?? null, vec4 ? B : null, a4 ? a : null];
    e.dispatch(blockedKernel(entry, sg ? 'sg' : a4 ? 'a4' : 'rows', c4), tensors.filter((t): t is Tensor => t !== null), params, { workgroups });
    return;
  }
  const workgroups: [number, number, number] = [Math.ceil(s.n / 16), Math.ceil(s.m / 16), batch];
  if (bias) e.dispatch(MATMUL_BIAS, [A, B, C, bias], params, { workgroups });
  else e.dispatch(MATMUL, [A, B, C], params, { workgroups });
}

export function linear(g: Graph, x: Tensor, w: Tensor, b: Tensor | null, name = 'linear'): Tensor {
  if (x.shape.length !== 2 || w.shape.length !== 2) {
    throw new Error(`${name}: expected x [M, K] and W [K, N], got ${x} and ${w}`);
  }
  const [M, K] = x.shape;
  const N = w.shape[1];
  expectShape(w, [K, N], `${name} weight`);
  if (b) expectShape(b, [N], `${name} bias`);
  expectDtype(x, 'f32', name);
  const y = g.activation(name, [M, N]);
  g.add({
    type: 'linear',
    inputs: b ? [x, w, b] : [x, w],
    outputs: [y],
    forward(e) {
      emitMatmul(e, x, w, y, { m: M, n: N, k: K, a: { sm: K, sk: 1 }, b: { sk: N, sn: 1 } }, 0, b ?? undefined);
    },
    backward(e) {
      const dy = e.grad(y);
      const dx = e.gradTarget(x);
      if (dx) emitMatmul(e, dy, w, dx.tensor, { m: M, n: K, k: N, a: { sm: N, sk: 1 }, b: { sk: 1, sn: N } }, dx.accumulate);
      const dw = e.gradTarget(w);
      if (dw) emitMatmul(e, x, dy, dw.tensor, { m: K, n: N, k: M, a: { sm: 1, sk: K }, b: { sk: N, sn: 1 } }, dw.accumulate);
      const db = b && e.gradTarget(b);
      if (db) emitSumBatchLength(e, dy, db, M, N, 1);
    },
  });
  return y;
}
