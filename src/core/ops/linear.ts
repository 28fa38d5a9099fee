// y = x W + b for x [M, K], W [K, N], b [N]; and the batched matmul it is built on.
import matmulCode from '../../../shaders/matmul.wgsl';
import blockedCode from '../../../shaders/matmul_blocked.wgsl';
import aRowsCode from '../../../shaders/matmul_a.wgsl';
import aVec4Code from '../../../shaders/matmul_a4.wgsl';
import aSubgroupCode from '../../../shaders/matmul_asg.wgsl';
import spreadCode from '../../../shaders/spread.wgsl';
import tileCode from '../../../shaders/tile.wgsl';
import cRowsCode from '../../../shaders/matmul_c.wgsl';
import cVec4Code from '../../../shaders/matmul_c4.wgsl';
import transposeCode from '../../../shaders/transpose.wgsl';
import { shaderModule, type KernelDef } from '../kernel.js';
import { expectDtype, expectShape, type Emitter, type Graph, type Tensor } from '../graph.js';
import { emitSumBatchLength } from './util.js';

/** C (+)= op(A) op(B) (+ bias) by strides: shapes, strides and offsets of the three operands. */
const MATMUL_PARAMS = {
  m: 'u32',
  n: 'u32',
  k: 'u32',
  a_sm: 'u32',
  a_sk: 'u32',
  a_sb: 'u32',
  b_sk: 'u32',
  b_sn: 'u32',
  b_sb: 'u32',
  c_sb: 'u32',
  accumulate: 'u32', // 1: C += result (gradient accumulation)
  a_off: 'u32',
  b_off: 'u32', // where A and B start in their bindings
  c_sm: 'u32',
  c_sn: 'u32', // C's row and column strides (n and 1: row-major; 1 and m: C stored transposed)
  c_off: 'u32', // where C starts in its binding
  bias_rows: 'u32', // the bias entry points add the bias to rows below this one only
} as const;
const TILED = shaderModule({
  name: 'matmul',
  source: matmulCode,
  bindings: { a: 'read', b: 'read', c: 'read_write', bias: 'read' },
  params: MATMUL_PARAMS,
});
const TILED_KERNELS = {
  plain: TILED.kernel('matmul', { uses: ['a', 'b', 'c'], workgroupSize: 256 }),
  bias: TILED.kernel('matmul_bias', { workgroupSize: 256 }),
};
/** Invocations per workgroup of the blocked kernels: one SIMD batch of a CPU driver. */
const BLOCKED_WG = 8;
/**
 * The blocked kernels read A as one float per row (a), as two vec4s per k where A is stored
 * transposed (a4), or one float per lane shared by subgroup broadcasts (a through sg); B as
 * floats (b) or vec4s (b4); store C as floats (c) or vec4s (c4). The small libraries
 * matmul_a*.wgsl and matmul_c*.wgsl define how.
 */
const BLOCKED = shaderModule({
  name: 'matmul_blocked',
  source: blockedCode,
  libraries: [tileCode],
  bindings: {
    a: 'read',
    a4: 'read vec4f',
    b: 'read',
    b4: 'read vec4f',
    c: 'read_write',
    c4: 'read_write vec4f',
    bias: 'read',
  },
  params: MATMUL_PARAMS,
});
type BlockedBinding = 'a' | 'a4' | 'b' | 'b4' | 'c' | 'c4' | 'bias';
/** How the blocked kernels read A: a float per row, two vec4s per k, or one float per lane broadcast. */
type ARead = 'rows' | 'a4' | 'sg';
const A_LIBRARIES: Record<ARead, string> = { rows: aRowsCode, a4: aVec4Code, sg: `${spreadCode}\n${aSubgroupCode}` };
const blockedKernels = new Map<string, KernelDef<BlockedBinding, keyof typeof MATMUL_PARAMS>>();
/** A blocked kernel for one way of reading A, B and C, with or without a bias; defined once per combination. */
function blockedKernel(aRead: ARead, b4: boolean, c4: boolean, bias: boolean) {
  const entry = `matmul${bias ? '_bias' : ''}${b4 ? '_b4' : ''}`;
  const tag = `${aRead === 'rows' ? '' : `_${aRead}`}${c4 ? '_c4' : ''}`;
  let k = blockedKernels.get(entry + tag);
  if (!k) {
    const uses: BlockedBinding[] = [
      aRead === 'a4' ? 'a4' : 'a',
      b4 ? 'b4' : 'b',
      c4 ? 'c4' : 'c',
      ...(bias ? ['bias' as const] : []),
    ];
    k = BLOCKED.kernel(entry, {
      uses,
      tag,
      workgroupSize: BLOCKED_WG,
      libraries: [A_LIBRARIES[aRead], c4 ? cVec4Code : cRowsCode],
      enable: aRead === 'sg' ? ['subgroups'] : [],
    });
    blockedKernels.set(entry + tag, k);
  }
  return k;
}
const TRANSPOSE_WG = 64;
const TRANSPOSE_A = shaderModule({
  name: 'transpose',
  source: transposeCode,
  bindings: { src: 'read', dst: 'read_write vec4f' },
  params: { m: 'u32', k: 'u32', mp: 'u32', a_sm: 'u32', a_sk: 'u32', a_sb: 'u32', a_off: 'u32' },
}).kernel('transpose_a', { workgroupSize: TRANSPOSE_WG });
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
export function emitTransposed(
  e: Emitter,
  A: Tensor,
  m: number,
  k: number,
  batch: number,
  a: { sm: number; sk: number; sb: number; off: number },
  mp: number,
): Tensor {
  if (mp < m || mp % 4 !== 0)
    throw new Error(`transposed operand: padded rows ${mp} must be a multiple of 4 and at least ${m}`);
  const t = e.scratch('transposed', [batch, k, mp]);
  e.dispatch(
    TRANSPOSE_A,
    { src: A, dst: t },
    { m, k, mp, a_sm: a.sm, a_sk: a.sk, a_sb: a.sb, a_off: a.off },
    { workgroups: [Math.ceil(k / TRANSPOSE_WG), batch, 1] },
  );
  return t;
}

/** C (+)= op(A) op(B) (+ bias), C [batch, m, n]. */
export function emitMatmul(
  e: Emitter,
  A: Tensor,
  B: Tensor,
  C: Tensor,
  s: MatmulShape,
  accumulate: number,
  bias?: Tensor,
): void {
  const batch = s.batch ?? 1;
  let a = A;
  let as = { sm: s.a.sm, sk: s.a.sk, sb: s.a.sb ?? 0, off: s.a.off ?? 0 };
  const blocked = e.config.matmul === 'blocked';
  // With subgroup broadcasts A costs one read per lane and k in any layout; without, vec4 reads
  // where A is stored transposed.
  const sg = blocked && e.config.broadcasts;
  let a4 = blocked && !sg && as.sm === 1 && [as.sk, as.sb, as.off, A.size].every((v) => v % 4 === 0);
  if (blocked && !sg && !a4 && s.n >= TRANSPOSE_MIN_N && s.m * s.n * s.k * batch >= TRANSPOSE_MIN_WORK) {
    const mp = Math.ceil(s.m / 4) * 4;
    a = emitTransposed(e, A, s.m, s.k, batch, as, mp);
    as = { sm: 1, sk: mp, sb: s.k * mp, off: 0 };
    a4 = true;
  }
  const params = {
    m: s.m,
    n: s.n,
    k: s.k,
    a_sm: as.sm,
    a_sk: as.sk,
    a_sb: as.sb,
    b_sk: s.b.sk,
    b_sn: s.b.sn,
    b_sb: s.b.sb ?? 0,
    c_sb: s.c?.sb ?? s.m * s.n,
    accumulate,
    a_off: as.off,
    b_off: s.b.off ?? 0,
    c_sm: s.c?.sm ?? s.n,
    c_sn: s.c?.sn ?? 1,
    c_off: s.c?.off ?? 0,
    bias_rows: s.biasRows ?? s.m,
  };
  if (blocked) {
    const workgroups: [number, number, number] = [
      Math.ceil(s.n / BLOCKED_TILE[1]),
      Math.ceil(s.m / BLOCKED_TILE[0]),
      batch,
    ];
    const b4 = s.b.sn === 1 && [s.n, s.b.sk, s.b.sb ?? 0, s.b.off ?? 0, B.size].every((v) => v % 4 === 0);
    const c = s.c ?? { sm: s.n, sn: 1 };
    const c4 = c.sn === 1 && [s.n, c.sm, c.sb ?? s.m * s.n, c.off ?? 0, C.size].every((v) => v % 4 === 0);
    const tensors = {
      [a4 ? 'a4' : 'a']: a,
      [b4 ? 'b4' : 'b']: B,
      [c4 ? 'c4' : 'c']: C,
      ...(bias ? { bias } : {}),
    } as Record<BlockedBinding, Tensor>;
    e.dispatch(blockedKernel(sg ? 'sg' : a4 ? 'a4' : 'rows', b4, c4, !!bias), tensors, params, { workgroups });
    return;
  }
  const workgroups: [number, number, number] = [Math.ceil(s.n / 16), Math.ceil(s.m / 16), batch];
  if (bias) e.dispatch(TILED_KERNELS.bias, { a: A, b: B, c: C, bias }, params, { workgroups });
  else e.dispatch(TILED_KERNELS.plain, { a: A, b: B, c: C }, params, { workgroups });
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
      if (dx)
        emitMatmul(e, dy, w, dx.tensor, { m: M, n: K, k: N, a: { sm: N, sk: 1 }, b: { sk: 1, sn: N } }, dx.accumulate);
      const dw = e.gradTarget(w);
      if (dw)
        emitMatmul(e, x, dy, dw.tensor, { m: K, n: N, k: M, a: { sm: 1, sk: K }, b: { sk: N, sn: 1 } }, dw.accumulate);
      const db = b && e.gradTarget(b);
      if (db) emitSumBatchLength(e, dy, db, M, N, 1);
    },
  });
  return y;
}
