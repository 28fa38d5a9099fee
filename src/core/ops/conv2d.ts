// Conv2d and ConvTranspose2d (square stride, zero padding per axis), with backward: three
// implicit-GEMM kernels (shaders/conv2d.wgsl) serve both ops with the roles of their operands
// exchanged.
import convCode from '../../../shaders/conv2d.wgsl';
import tileCode from '../../../shaders/tile.wgsl';
import rowsCode from '../../../shaders/conv2d_rows.wgsl';
import rowsSubgroupCode from '../../../shaders/conv2d_rows_sg.wgsl';
import { defineKernel, type Access, type KernelDef } from '../kernel.js';
import { expectShape, type Emitter, type Graph, type Tensor } from '../graph.js';
import { emitSumBatchLength, nonNegativeInt, positiveInt } from './util.js';
import { emitTransposed } from './linear.js';

/** Invocations per workgroup: one SIMD batch of a CPU driver, as the blocked matmul. */
const WG = 8;
/** Rows x columns of outputs one workgroup computes. */
const TILE = [8, 8 * WG] as const;
// Bindings: [w or dy (the weight gradient's rows), gathered operand, out, params, bias, w
// transposed]. The plain kernels read the forward's and input gradient's weight from the
// transposed copy; with subgroup broadcasts (sg) every kernel reads its rows from binding 0.
const WITH_BIAS: (Access | null)[] = [null, 'read', 'write', 'uniform', 'read', 'read'];
const NO_BIAS: (Access | null)[] = [null, 'read', 'write', 'uniform', null, 'read'];
const kernels = (sg: boolean) => {
  const k = (entry: string, bindings: (Access | null)[]) => defineKernel(`conv2d.${entry}${sg ? '_sg' : ''}`, convCode, entry,
    sg ? ['read', ...bindings.slice(1, 5)] : bindings,
    { workgroupSize: WG, libraries: [tileCode, sg ? rowsSubgroupCode : rowsCode], directives: sg ? ['enable subgroups'] : [] });
  return {
    forward: k('conv2d_forward', WITH_BIAS),
    forwardNoBias: k('conv2d_forward_nobias', NO_BIAS),
    inputGrad: k('conv2d_input_grad', NO_BIAS),
    transposeForward: k('conv_transpose2d_forward', WITH_BIAS),
    weightGrad: k('conv2d_weight_grad', ['read', 'read', 'write', 'uniform']),
  };
};
const KERNELS = { plain: kernels(false), sg: kernels(true) };
const kernelsFor = (e: Emitter) => KERNELS[e.broadcasts ? 'sg' : 'plain'];
/** WebGPU's guaranteed maxComputeWorkgroupsPerDimension. */
const MAX_WORKGROUPS = 65535;

export interface Conv2dOptions {
  stride?: number;
  /** Zero padding: one number for every side, or [rows, columns]. */
  padding?: number | [number, number];
}

/** The forward conv's geometry, which every kernel of conv2d.wgsl takes. */
interface Geometry {
  batch: number; cin: number; cout: number;
  h: number; w: number; ho: number; wo: number;
  kh: number; kw: number; stride: number; padY: number; padX: number;
}

const params = (s: Geometry, accumulate: number, rowsPad = 0) =>
  [s.batch, s.cin, s.cout, s.h, s.w, s.ho, s.wo, s.kh, s.kw, s.stride, s.padY, s.padX, accumulate, rowsPad];

/**
 * The weight viewed as [outer, rows, inner] (row-major), copied as [outer, inner, rowsPad]: the
 * layout the forward (rows cout, inner (ci, ky, kx)) and the input gradient (outer co, rows ci,
 * inner (ky, kx)) read as vec4s. rowsPad: rows rounded up to a whole tile.
 */
function transposedWeight(e: Emitter, w: Tensor, outer: number, rows: number, inner: number): { wt: Tensor; rowsPad: number } {
  const rowsPad = Math.ceil(rows / TILE[0]) * TILE[0];
  const wt = emitTransposed(e, w, rows, inner, outer, { sm: inner, sk: 1, sb: rows * inner, off: 0 }, rowsPad);
  return { wt, rowsPad };
}

function grid(rows: number, columns: number, name: string): [number, number, number] {
  const x = Math.ceil(columns / TILE[1]);
  if (x > MAX_WORKGROUPS) throw new Error(`${name}: ${columns} output columns need ${x} workgroups in x, more than ${MAX_WORKGROUPS}; use a smaller batch`);
  return [x, Math.ceil(rows / TILE[0]), 1];
}

// The three products, in the forward conv's frame (x [B, cin, h, w] -> y [B, cout, ho, wo]).
function emitForward(e: Emitter, s: Geometry, x: Tensor, w: Tensor, y: Tensor, accumulate: number, bias: Tensor | null, name: string): void {
  const workgroups = grid(s.cout, s.batch * s.ho * s.wo, name);
  const k = kernelsFor(e);
  if (e.broadcasts) {
    dispatchWith(e, bias ? k.forward : k.forwardNoBias, [w, x, y, bias], params(s, accumulate), workgroups);
    return;
  }
  const { wt, rowsPad } = transposedWeight(e, w, 1, s.cout, s.cin * s.kh * s.kw);
  dispatchWith(e, bias ? k.forward : k.forwardNoBias, [x, y, bias, wt], params(s, accumulate, rowsPad), workgroups);
}

function emitInputGrad(e: Emitter, s: Geometry, dy: Tensor, w: Tensor, dx: Tensor, accumulate: number, bias: Tensor | null, name: string): void {
  const workgroups = grid(s.cin, s.batch * s.h * s.w, name);
  const k = kernelsFor(e);
  if (e.broadcasts) {
    dispatchWith(e, bias ? k.transposeForward : k.inputGrad, [w, dy, dx, bias], params(s, accumulate), workgroups);
    return;
  }
  const { wt, rowsPad } = transposedWeight(e, w, s.cout, s.cin, s.kh * s.kw);
  dispatchWith(e, bias ? k.transposeForward : k.inputGrad, [dy, dx, bias, wt], params(s, accumulate, rowsPad), workgroups);
}

/** A dispatch of the tensors given, less the absent bias. */
function dispatchWith(e: Emitter, kernel: KernelDef, tensors: (Tensor | null)[], p: number[], workgroups: [number, number, number]): void {
  e.dispatch(kernel, tensors.filter((t): t is Tensor => t !== null), p, { workgroups });
}

function emitWeightGrad(e: Emitter, s: Geometry, dy: Tensor, x: Tensor, dw: Tensor, accumulate: number, name: string): void {
  e.dispatch(kernelsFor(e).weightGrad, [dy, x, dw], params(s, accumulate), { workgroups: grid(s.cout, s.cin * s.kh * s.kw, name) });
}

function shape4(x: Tensor, what: string): [number, number, number, number] {
  if (x.shape.length !== 4) throw new Error(`${what}: input ${x} must be [batch, channels, height, width]`);
  return [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
}

function spacing(o: Conv2dOptions, name: string) {
  const stride = positiveInt(o.stride ?? 1, `${name} stride`);
  const pad = o.padding ?? 0;
  const [padY, padX] = typeof pad === 'number' ? [pad, pad] : pad;
  return { stride, padY: nonNegativeInt(padY, `${name} padding (rows)`), padX: nonNegativeInt(padX, `${name} padding (columns)`) };
}

/** y = conv2d(x, w) + b: x [B, Cin, H, W], w [Cout, Cin, KH, KW], b [Cout]; HO = (H + 2 pad - KH) / stride + 1. */
export function conv2d(g: Graph, x: Tensor, w: Tensor, b: Tensor, options: Conv2dOptions = {}, name = 'conv2d'): Tensor {
  const [batch, cin, h, wd] = shape4(x, name);
  if (w.shape.length !== 4) throw new Error(`${name}: weight ${w} must be [Cout, Cin, KH, KW]`);
  const [cout, , kh, kw] = w.shape;
  expectShape(w, [cout, cin, kh, kw], `${name} weight`);
  expectShape(b, [cout], `${name} bias`);
  const { stride, padY, padX } = spacing(options, name);
  if (h + 2 * padY < kh || wd + 2 * padX < kw) throw new Error(`${name}: kernel ${kh}x${kw} exceeds the padded input ${h + 2 * padY}x${wd + 2 * padX}`);
  const s: Geometry = { batch, cin, cout, h, w: wd, ho: Math.floor((h + 2 * padY - kh) / stride) + 1, wo: Math.floor((wd + 2 * padX - kw) / stride) + 1, kh, kw, stride, padY, padX };
  return addConvOp(g, 'conv2d', name, x, w, b, s, false);
}

/**
 * y = convTranspose2d(x, w) + b: x [B, Cin, H, W], w [Cin, Cout, KH, KW], b [Cout];
 * HO = (H - 1) stride - 2 pad + KH (PyTorch's ConvTranspose2d without output padding).
 */
export function convTranspose2d(g: Graph, x: Tensor, w: Tensor, b: Tensor, options: Conv2dOptions = {}, name = 'conv_transpose2d'): Tensor {
  const [batch, cin, h, wd] = shape4(x, name);
  if (w.shape.length !== 4) throw new Error(`${name}: weight ${w} must be [Cin, Cout, KH, KW]`);
  const [, cout, kh, kw] = w.shape;
  expectShape(w, [cin, cout, kh, kw], `${name} weight`);
  expectShape(b, [cout], `${name} bias`);
  const { stride, padY, padX } = spacing(options, name);
  const [ho, wo] = [(h - 1) * stride - 2 * padY + kh, (wd - 1) * stride - 2 * padX + kw];
  if (ho <= 0 || wo <= 0) throw new Error(`${name}: output ${ho}x${wo} is empty (input ${h}x${wd}, kernel ${kh}x${kw}, stride ${stride}, padding ${padY}, ${padX})`);
  // The conv whose input gradient this is: input y [B, cout, ho, wo], output x [B, cin, h, w].
  const s: Geometry = { batch, cin: cout, cout: cin, h: ho, w: wo, ho: h, wo: wd, kh, kw, stride, padY, padX };
  return addConvOp(g, 'conv_transpose2d', name, x, w, b, s, true);
}

/**
 * The op of a conv (x: its input, y: its output) or of its transposed form (x shaped as the
 * conv's output, y as its input), in the conv's geometry s: the forward of one is the input
 * gradient of the other, and the weight gradient takes x and dy in exchanged roles.
 */
function addConvOp(g: Graph, type: string, name: string, x: Tensor, w: Tensor, b: Tensor, s: Geometry, transposed: boolean): Tensor {
  const [channels, height, width] = transposed ? [s.cin, s.h, s.w] : [s.cout, s.ho, s.wo];
  const y = g.activation(name, [s.batch, channels, height, width]);
  const toOutput = (e: Emitter, from: Tensor, to: Tensor, accumulate: number, bias: Tensor | null) => emitForward(e, s, from, w, to, accumulate, bias, name);
  const toInput = (e: Emitter, from: Tensor, to: Tensor, accumulate: number, bias: Tensor | null) => emitInputGrad(e, s, from, w, to, accumulate, bias, name);
  const [forward, backward] = transposed ? [toInput, toOutput] : [toOutput, toInput];
  g.add({
    type,
    inputs: [x, w, b],
    outputs: [y],
    forward(e) {
      forward(e, x, y, 0, b);
    },
    backward(e) {
      const dy = e.grad(y);
      const dx = e.gradTarget(x);
      if (dx) backward(e, dy, dx.tensor, dx.accumulate, null);
      const dw = e.gradTarget(w);
      const [outputSide, inputSide] = transposed ? [x, dy] : [dy, x];
      if (dw) emitWeightGrad(e, s, outputSide, inputSide, dw.tensor, dw.accumulate, name);
      const db = e.gradTarget(b);
      if (db) emitSumBatchLength(e, dy, db, s.batch, channels, height * width);
    },
  });
  return y;
}
