// The fused kernels' block-bias table: P(t) for every step and Q(label) for the three labels as
// one tensor, PQ [T + 4, 128] = E Wp (+ bp on the step rows), where E = [silu(F Wt + bt);
// Wc + bc] stacks the time MLP's rows on the class embedding's. The op-by-op graph builds the same
// P and Q through separate layers (twoPixelBiasTables), which the tests hold this one to; one
// table halves the dispatches: 3 forward and 4 backward instead of 5 and 10.
import code from '../../shaders/twopixel_table.wgsl';
import { defineKernel } from '../core/kernel.js';
import type { Graph, Tensor } from '../core/graph.js';
import { emitMatmul } from '../core/ops/linear.js';
import { BIAS_WIDTH, embeddingParams, LABELS, type TwoPixelConfig } from '../nn/twopixel.js';

const FORWARD = defineKernel('twopixel_table.table_forward', code, 'table_forward', ['read', 'read', 'read', 'write', 'uniform']);
const BACKWARD = defineKernel('twopixel_table.table_backward', code, 'table_backward', ['read', null, null, null, 'uniform', 'read', 'read', 'write', 'write']);

export interface JointTable {
  /** PQ [T + 4, 128]: rows 0..T are P(t), rows T + 1.. T + 3 are Q(label). */
  table: Tensor;
  feeds: [Tensor, Uint32Array][];
}

export function twoPixelJointTable(g: Graph, cfg: TwoPixelConfig): JointTable {
  const m = embeddingParams(g, cfg);
  const { E, features: F, tw, tb, cw, cb, w, b } = m;
  const steps = cfg.T + 1;
  const rows = steps + LABELS;
  const table = g.activation('bias.table', [rows, BIAS_WIDTH]);
  // A = F Wt + bt and E, written by the forward and read again by the backward.
  let a: Tensor | null = null;
  let emb: Tensor | null = null;
  g.add({
    type: 'two_pixel_joint_table',
    inputs: [F, tw, tb, cw, cb, w, b],
    outputs: [table],
    forward(e) {
      a = e.scratch('table.a', [steps, E]);
      emb = e.scratch('table.e', [rows, E]);
      emitMatmul(e, F, tw, a, { m: steps, n: E, k: E, a: { sm: E, sk: 1 }, b: { sk: E, sn: 1 } }, 0, tb);
      e.dispatch(FORWARD, [a, cw, cb, emb], params(steps, E, [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]), rows * E);
      emitMatmul(e, emb, w, table, { m: rows, n: BIAS_WIDTH, k: E, a: { sm: E, sk: 1 }, b: { sk: BIAS_WIDTH, sn: 1 }, biasRows: steps }, 0, b);
    },
    backward(e) {
      const dpq = e.grad(table);
      const [dtw, dtb, dcw, dcb, dw, db] = [tw, tb, cw, cb, w, b].map((t) => e.gradTarget(t));
      const de = e.scratch('table.de', [rows, E]);
      const da = e.scratch('table.da', [steps, E]);
      emitMatmul(e, dpq, w, de, { m: rows, n: E, k: BIAS_WIDTH, a: { sm: BIAS_WIDTH, sk: 1 }, b: { sk: 1, sn: BIAS_WIDTH } }, 0);
      if (dw) emitMatmul(e, emb!, dpq, dw.tensor, { m: E, n: BIAS_WIDTH, k: rows, a: { sm: 1, sk: E }, b: { sk: BIAS_WIDTH, sn: 1 } }, dw.accumulate);
      const small = [dtb, dcw, dcb, db];
      const at = [tb, cw, cb, b].map((t) => e.store.offset(t));
      e.dispatch(BACKWARD, [a!, de, dpq, da, e.store.grads],
        params(steps, E, at, small.map((t) => (t ? 1 : 0)), small.map((t) => t?.accumulate ?? 0)), E + BIAS_WIDTH);
      if (dtw) emitMatmul(e, F, da, dtw.tensor, { m: E, n: E, k: steps, a: { sm: 1, sk: E }, b: { sk: E, sn: 1 } }, dtw.accumulate);
    },
  });
  return { table, feeds: [m.feed] };
}

function params(steps: number, E: number, offsets: number[], write: number[], accumulate: number[]) {
  return [steps, E, BIAS_WIDTH, ...offsets, 0, ...write, ...accumulate];
}
