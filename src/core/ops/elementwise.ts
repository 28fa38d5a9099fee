// Elementwise ops: add, multiply, SiLU, a per-channel bias from a [B, C] tensor, and
// concatenation and slicing along channels.
import code from '../../../shaders/elementwise.wgsl';
import { shaderModule } from '../kernel.js';
import { expectShape, type Emitter, type GradTarget, type Graph, type Tensor } from '../graph.js';
import { channelView, emitSumBatchLength } from './util.js';

const ELEMENTWISE = shaderModule({
  name: 'elementwise',
  source: code,
  bindings: { a: 'read', b: 'read', out: 'read_write' },
  // Channel ops see tensors as [batch, channels, length]; concat and slice: the channels of
  // `a` and of the output, and the channel offset of the slice.
  params: { n: 'u32', accumulate: 'u32', channels: 'u32', length: 'u32', c_a: 'u32', c_out: 'u32', offset: 'u32' },
});
const two = (entry: string) => ELEMENTWISE.kernel(entry, { uses: ['a', 'b', 'out'] });
const one = (entry: string) => ELEMENTWISE.kernel(entry, { uses: ['a', 'out'] });
const ADD = two('add');
const MUL = two('mul');
const COPY = one('copy');
const SILU = one('silu');
const SILU_BACKWARD = two('silu_backward');
const ADD_CHANNEL_BIAS = two('add_channel_bias');
const CONCAT_CHANNELS = two('concat_channels');
const SLICE_CHANNELS = one('slice_channels');
const PLACE_CHANNELS = one('place_channels');

interface Layout {
  channels?: number;
  length?: number;
  cA?: number;
  cOut?: number;
  offset?: number;
}
const params = (n: number, accumulate: number, l: Layout = {}) => ({
  n,
  accumulate,
  channels: l.channels ?? 0,
  length: l.length ?? 1,
  c_a: l.cA ?? 0,
  c_out: l.cOut ?? 0,
  offset: l.offset ?? 0,
});

/** target (+)= g: a gradient passed through unchanged. */
export function emitCopy(e: Emitter, g: Tensor, target: GradTarget): void {
  e.dispatch(COPY, { a: g, out: target.tensor }, params(g.size, target.accumulate), g.size);
}

export function add(g: Graph, a: Tensor, b: Tensor, name = 'add'): Tensor {
  expectShape(b, a.shape, `${name} right operand`);
  const y = g.activation(name, a.shape);
  g.add({
    type: 'add',
    inputs: [a, b],
    outputs: [y],
    forward: (e) => e.dispatch(ADD, { a, b, out: y }, params(y.size, 0), y.size),
    backward(e) {
      const dy = e.grad(y);
      for (const x of [a, b]) {
        const dx = e.gradTarget(x);
        if (dx) emitCopy(e, dy, dx);
      }
    },
  });
  return y;
}

export function mul(g: Graph, a: Tensor, b: Tensor, name = 'mul'): Tensor {
  expectShape(b, a.shape, `${name} right operand`);
  const y = g.activation(name, a.shape);
  g.add({
    type: 'mul',
    inputs: [a, b],
    outputs: [y],
    forward: (e) => e.dispatch(MUL, { a, b, out: y }, params(y.size, 0), y.size),
    backward(e) {
      const dy = e.grad(y);
      const da = e.gradTarget(a);
      if (da) e.dispatch(MUL, { a: dy, b, out: da.tensor }, params(y.size, da.accumulate), y.size);
      const db = e.gradTarget(b);
      if (db) e.dispatch(MUL, { a: dy, b: a, out: db.tensor }, params(y.size, db.accumulate), y.size);
    },
  });
  return y;
}

export function silu(g: Graph, x: Tensor, name = 'silu'): Tensor {
  const y = g.activation(name, x.shape);
  g.add({
    type: 'silu',
    inputs: [x],
    outputs: [y],
    forward: (e) => e.dispatch(SILU, { a: x, out: y }, params(y.size, 0), y.size),
    backward(e) {
      const dx = e.gradTarget(x);
      if (dx) e.dispatch(SILU_BACKWARD, { a: x, b: e.grad(y), out: dx.tensor }, params(y.size, dx.accumulate), y.size);
    },
  });
  return y;
}

/** y[n, c, l] = x[n, c, l] + bias[n, c]: x [B, C, L] (or [B, C, H, W]), bias [B, C]. */
export function addChannelBias(g: Graph, x: Tensor, bias: Tensor, name = 'channel_bias'): Tensor {
  const [B, C, L] = channelView(x, name);
  expectShape(bias, [B, C], `${name} bias`);
  const y = g.activation(name, x.shape);
  g.add({
    type: 'add_channel_bias',
    inputs: [x, bias],
    outputs: [y],
    forward: (e) => e.dispatch(ADD_CHANNEL_BIAS, { a: x, b: bias, out: y }, params(y.size, 0, { length: L }), y.size),
    backward(e) {
      const dy = e.grad(y);
      const dx = e.gradTarget(x);
      if (dx) emitCopy(e, dy, dx);
      const db = e.gradTarget(bias);
      if (db) emitSumBatchLength(e, dy, db, 1, B * C, L);
    },
  });
  return y;
}

/**
 * Concatenation along channels: a [B, Ca, ...], b [B, Cb, ...] -> [B, Ca + Cb, ...] (the same
 * trailing dimensions); or along columns for 2-D tensors: [B, Ca], [B, Cb] -> [B, Ca + Cb].
 */
export function concatChannels(g: Graph, a: Tensor, b: Tensor, name = 'concat'): Tensor {
  const rank = a.shape.length;
  if (rank < 2 || b.shape.length !== rank) {
    throw new Error(`${name}: inputs ${a} and ${b} must both be [batch, channels, ...] or both [batch, columns]`);
  }
  const [B, Ca] = a.shape;
  const rest = a.shape.slice(2);
  const L = rest.reduce((u, v) => u * v, 1);
  const Cb = b.shape[1];
  expectShape(b, [B, Cb, ...rest], `${name} second input`);
  const Cout = Ca + Cb;
  const y = g.activation(name, [B, Cout, ...rest]);
  g.add({
    type: 'concat_channels',
    inputs: [a, b],
    outputs: [y],
    forward: (e) =>
      e.dispatch(CONCAT_CHANNELS, { a, b, out: y }, params(y.size, 0, { length: L, cA: Ca, cOut: Cout }), y.size),
    backward(e) {
      const dy = e.grad(y);
      const parts: [Tensor, number, number][] = [
        [a, Ca, 0],
        [b, Cb, Ca],
      ];
      for (const [x, channels, offset] of parts) {
        const dx = e.gradTarget(x);
        if (dx)
          e.dispatch(
            SLICE_CHANNELS,
            { a: dy, out: dx.tensor },
            params(x.size, dx.accumulate, { channels, length: L, cOut: Cout, offset }),
            x.size,
          );
      }
    },
  });
  return y;
}

/** Columns [offset, offset + width) of a 2-D tensor x [B, C] -> [B, width]. */
export function sliceColumns(g: Graph, x: Tensor, offset: number, width: number, name = 'slice'): Tensor {
  if (x.shape.length !== 2) throw new Error(`${name}: ${x} must be [batch, columns]`);
  const [B, C] = x.shape;
  if (!Number.isInteger(offset) || !Number.isInteger(width) || offset < 0 || width < 1 || offset + width > C) {
    throw new Error(
      `${name}: columns [${offset}, ${offset + width}) are not a non-empty range inside the ${C} columns of ${x}`,
    );
  }
  const y = g.activation(name, [B, width]);
  const layout = { channels: width, cOut: C, offset };
  g.add({
    type: 'slice_columns',
    inputs: [x],
    outputs: [y],
    forward: (e) => e.dispatch(SLICE_CHANNELS, { a: x, out: y }, params(y.size, 0, layout), y.size),
    backward(e) {
      const dx = e.gradTarget(x);
      if (dx)
        e.dispatch(PLACE_CHANNELS, { a: e.grad(y), out: dx.tensor }, params(x.size, dx.accumulate, layout), x.size);
    },
  });
  return y;
}

/** The same values under another shape (a copy; its gradient is copied back). */
export function reshape(g: Graph, x: Tensor, shape: readonly number[], name = 'reshape'): Tensor {
  if (x.dtype !== 'f32') throw new Error(`${name}: ${x} is ${x.dtype}, expected f32`);
  const y = g.activation(name, shape);
  if (y.size !== x.size)
    throw new Error(`${name}: cannot reshape ${x} (${x.size} values) to [${shape.join(', ')}] (${y.size})`);
  g.add({
    type: 'reshape',
    inputs: [x],
    outputs: [y],
    forward: (e) => e.dispatch(COPY, { a: x, out: y }, params(y.size, 0), y.size),
    backward(e) {
      const dx = e.gradTarget(x);
      if (dx) emitCopy(e, e.grad(y), dx);
    },
  });
  return y;
}
