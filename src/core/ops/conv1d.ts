// Conv1d (kernel size, stride, left/right zero padding) and ConvTranspose1d, with backward.
import convCode from '../../../shaders/conv1d.wgsl';
import { defineKernel, type Access } from '../kernel.js';
import { expectShape, type Graph, type Tensor } from '../graph.js';
import { emitSumBatchLength, nonNegativeInt, positiveInt } from './util.js';

const WITH_BIAS: Access[] = ['read', 'read', 'write', 'uniform', 'read'];
const NO_BIAS: Access[] = ['read', 'read', 'write', 'uniform'];
const k = (entry: string, bindings: Access[]) => defineKernel(`conv1d.${entry}`, convCode, entry, bindings);
const CONV_FORWARD = k('conv_forward', WITH_BIAS);
const CONV_BACKWARD_INPUT = k('conv_backward_input', NO_BIAS);
const CONV_BACKWARD_WEIGHT = k('conv_backward_weight', NO_BIAS);
const TRANSPOSE_FORWARD = k('transpose_forward', WITH_BIAS);
const TRANSPOSE_BACKWARD_INPUT = k('transpose_backward_input', NO_BIAS);
const TRANSPOSE_BACKWARD_WEIGHT = k('transpose_backward_weight', NO_BIAS);

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
export function conv1d(g: Graph, x: Tensor, w: Tensor, b: Tensor, options: Conv1dOptions = {}, name = 'conv1d'): Tensor {
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
  const params = (acc: number) => [B, Cin, Cout, Lin, Lout, K, stride, padL, acc];
  g.add({
    type: 'conv1d',
    inputs: [x, w, b],
    outputs: [y],
    forward(e) {
      e.dispatch(CONV_FORWARD, [x, w, y, b], params(0), y.size);
    },
    backward(e) {
      const dy = e.grad(y);
      const dx = e.gradTarget(x);
      if (dx) e.dispatch(CONV_BACKWARD_INPUT, [dy, w, dx.tensor], params(dx.accumulate), x.size);
      const dw = e.gradTarget(w);
      if (dw) e.dispatch(CONV_BACKWARD_WEIGHT, [dy, x, dw.tensor], params(dw.accumulate), w.size);
      const db = e.gradTarget(b);
      if (db) emitSumBatchLength(e, dy, db, B, Cout, Lout);
    },
  });
  return y;
}

/** y = convTranspose1d(x, w) + b: x [B, Cin, L], w [Cin, Cout, K], b [Cout]; Lout = (L-1) stride - 2 pad + K. */
export function convTranspose1d(g: Graph, x: Tensor, w: Tensor, b: Tensor, options: { stride?: number; padding?: number } = {}, name = 'conv_transpose1d'): Tensor {
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
  const params = (acc: number) => [B, Cin, Cout, Lin, Lout, K, stride, pad, acc];
  g.add({
    type: 'conv_transpose1d',
    inputs: [x, w, b],
    outputs: [y],
    forward(e) {
      e.dispatch(TRANSPOSE_FORWARD, [x, w, y, b], params(0), y.size);
    },
    backward(e) {
      const dy = e.grad(y);
      const dx = e.gradTarget(x);
      if (dx) e.dispatch(TRANSPOSE_BACKWARD_INPUT, [dy, w, dx.tensor], params(dx.accumulate), x.size);
      const dw = e.gradTarget(w);
      if (dw) e.dispatch(TRANSPOSE_BACKWARD_WEIGHT, [dy, x, dw.tensor], params(dw.accumulate), w.size);
      const db = e.gradTarget(b);
      if (db) emitSumBatchLength(e, dy, db, B, Cout, Lout);
    },
  });
  return y;
}
