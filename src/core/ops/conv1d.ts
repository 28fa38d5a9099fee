// Conv1d (kernel size, stride, left/right zero padding) and ConvTranspose1d, with backward.
import convCode from '../../../shaders/conv1d.wgsl';
import { shaderModule } from '../kernel.js';
import { expectShape, type Graph, type Tensor } from '../graph.js';
import { emitSumBatchLength, nonNegativeInt, positiveInt } from './util.js';

// lhs and rhs are the two operands each entry point names (shaders/conv1d.wgsl).
const CONV1D = shaderModule({
  name: 'conv1d',
  source: convCode,
  bindings: { lhs: 'read', rhs: 'read', out: 'read_write', bias: 'read' },
  params: {
    batch: 'u32',
    cin: 'u32',
    cout: 'u32',
    lin: 'u32',
    lout: 'u32',
    ksize: 'u32',
    stride: 'u32',
    pad: 'u32',
    accumulate: 'u32',
  },
});
const noBias = (entry: string) => CONV1D.kernel(entry, { uses: ['lhs', 'rhs', 'out'] });
const CONV_FORWARD = CONV1D.kernel('conv_forward');
const CONV_BACKWARD_INPUT = noBias('conv_backward_input');
const CONV_BACKWARD_WEIGHT = noBias('conv_backward_weight');
const TRANSPOSE_FORWARD = CONV1D.kernel('transpose_forward');
const TRANSPOSE_BACKWARD_INPUT = noBias('transpose_backward_input');
const TRANSPOSE_BACKWARD_WEIGHT = noBias('transpose_backward_weight');

export interface Conv1dOptions {
  stride?: number;
  /** Zero padding: one number for both sides, or [left, right] (PyTorch's 'same' for an even kernel is [k/2 - 1, k/2]). */
  padding?: number | [number, number];
}

function shape3(x: Tensor, what: string): [number, number, number] {
  if (x.shape.length !== 3) throw new Error(`${what}: input ${x} must be [batch, channels, length]`);
  return [x.shape[0], x.shape[1], x.shape[2]];
}

/** y = conv1d(x, w) + b: x [B, Cin, L], w [Cout, Cin, K], b [Cout]. */
export function conv1d(
  g: Graph,
  x: Tensor,
  w: Tensor,
  b: Tensor,
  options: Conv1dOptions = {},
  name = 'conv1d',
): Tensor {
  const [B, Cin, Lin] = shape3(x, name);
  if (w.shape.length !== 3) throw new Error(`${name}: weight ${w} must be [Cout, Cin, K]`);
  const [Cout, , K] = w.shape;
  expectShape(w, [Cout, Cin, K], `${name} weight`);
  expectShape(b, [Cout], `${name} bias`);
  const stride = positiveInt(options.stride ?? 1, `${name} stride`);
  const pad = options.padding ?? 0;
  const [padL, padR] = typeof pad === 'number' ? [pad, pad] : pad;
  nonNegativeInt(padL, `${name} left padding`);
  nonNegativeInt(padR, `${name} right padding`);
  const span = Lin + padL + padR - K;
  if (span < 0) throw new Error(`${name}: kernel size ${K} exceeds the padded length ${Lin + padL + padR}`);
  const Lout = Math.floor(span / stride) + 1;
  const y = g.activation(name, [B, Cout, Lout]);
  const params = (accumulate: number) => ({
    batch: B,
    cin: Cin,
    cout: Cout,
    lin: Lin,
    lout: Lout,
    ksize: K,
    stride,
    pad: padL,
    accumulate,
  });
  g.add({
    type: 'conv1d',
    inputs: [x, w, b],
    outputs: [y],
    forward(e) {
      e.dispatch(CONV_FORWARD, { lhs: x, rhs: w, out: y, bias: b }, params(0), y.size);
    },
    backward(e) {
      const dy = e.grad(y);
      const dx = e.gradTarget(x);
      if (dx) e.dispatch(CONV_BACKWARD_INPUT, { lhs: dy, rhs: w, out: dx.tensor }, params(dx.accumulate), x.size);
      const dw = e.gradTarget(w);
      if (dw) e.dispatch(CONV_BACKWARD_WEIGHT, { lhs: dy, rhs: x, out: dw.tensor }, params(dw.accumulate), w.size);
      const db = e.gradTarget(b);
      if (db) emitSumBatchLength(e, dy, db, B, Cout, Lout);
    },
  });
  return y;
}

/** y = convTranspose1d(x, w) + b: x [B, Cin, L], w [Cin, Cout, K], b [Cout]; Lout = (L-1) stride - 2 pad + K. */
export function convTranspose1d(
  g: Graph,
  x: Tensor,
  w: Tensor,
  b: Tensor,
  options: { stride?: number; padding?: number } = {},
  name = 'conv_transpose1d',
): Tensor {
  const [B, Cin, Lin] = shape3(x, name);
  if (w.shape.length !== 3) throw new Error(`${name}: weight ${w} must be [Cin, Cout, K]`);
  const [, Cout, K] = w.shape;
  expectShape(w, [Cin, Cout, K], `${name} weight`);
  expectShape(b, [Cout], `${name} bias`);
  const stride = positiveInt(options.stride ?? 1, `${name} stride`);
  const pad = nonNegativeInt(options.padding ?? 0, `${name} padding`);
  const Lout = (Lin - 1) * stride - 2 * pad + K;
  if (Lout <= 0) throw new Error(`${name}: output length ${Lout} is not positive`);
  const y = g.activation(name, [B, Cout, Lout]);
  const params = (accumulate: number) => ({
    batch: B,
    cin: Cin,
    cout: Cout,
    lin: Lin,
    lout: Lout,
    ksize: K,
    stride,
    pad,
    accumulate,
  });
  g.add({
    type: 'conv_transpose1d',
    inputs: [x, w, b],
    outputs: [y],
    forward(e) {
      e.dispatch(TRANSPOSE_FORWARD, { lhs: x, rhs: w, out: y, bias: b }, params(0), y.size);
    },
    backward(e) {
      const dy = e.grad(y);
      const dx = e.gradTarget(x);
      if (dx) e.dispatch(TRANSPOSE_BACKWARD_INPUT, { lhs: dy, rhs: w, out: dx.tensor }, params(dx.accumulate), x.size);
      const dw = e.gradTarget(w);
      if (dw) e.dispatch(TRANSPOSE_BACKWARD_WEIGHT, { lhs: dy, rhs: x, out: dw.tensor }, params(dw.accumulate), w.size);
      const db = e.gradTarget(b);
      if (db) emitSumBatchLength(e, dy, db, B, Cout, Lout);
    },
  });
  return y;
}
