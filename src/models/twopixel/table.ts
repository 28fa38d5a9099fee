// The fused kernels' block-bias table: P(t) for every step and Q(label) for the three labels as
// one tensor, PQ [T + 4, 128] = E Wp (+ bp on the step rows), where E = [silu(F Wt + bt);
// Wc + bc] stacks the time MLP's rows on the class embedding's. The op-by-op graph builds the same
// P and Q through separate layers (twoPixelBiasTables), which the tests hold this one to; one
// table halves the dispatches: 3 forward and 4 backward instead of 5 and 10.
import code from '../../../shaders/twopixel_table.wgsl';
import { shaderModule } from '../../core/kernel.js';
import type { Emitter, Graph, Tensor } from '../../core/graph.js';
import { emitMatmul } from '../../core/ops/linear.js';
import { embeddingParams } from './unet.js';
import { BIAS_WIDTH, LABELS, type TwoPixelConfig } from './spec.js';

const TABLE = shaderModule({
  name: 'twopixel_table',
  source: code,
  constants: { LABELS },
  bindings: {
    a: 'read', // A [T + 1, D]
    class_w: 'read', // Wc [3, D]
    class_b: 'read', // bc [D]
    e: 'read_write', // E [T + 4, D]
    de: 'read', // dL/dE [T + 4, D]
    dpq: 'read', // dL/dPQ [T + 4, W]
    da: 'read_write', // dL/dA [T + 1, D]
    // the gradients of bt, Wc, bc and bp
    d_time_b: 'read_write',
    d_class_w: 'read_write',
    d_class_b: 'read_write',
    d_proj_b: 'read_write',
  },
  params: {
    steps: 'u32', // T + 1: rows of A
    width: 'u32', // D
    proj: 'u32', // W: columns of PQ
    write: 'vec4u', // whether each of the four gradients is wanted
    accumulate: 'vec4u', // and whether it adds to what is there
  },
});
const FORWARD = TABLE.kernel('table_forward', { uses: ['a', 'class_w', 'class_b', 'e'] });
const BACKWARD = TABLE.kernel('table_backward', {
  uses: ['a', 'de', 'dpq', 'da', 'd_time_b', 'd_class_w', 'd_class_b', 'd_proj_b'],
});

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
      e.dispatch(
        FORWARD,
        { a, class_w: cw, class_b: cb, e: emb },
        { steps, width: E, proj: BIAS_WIDTH, write: [0, 0, 0, 0], accumulate: [0, 0, 0, 0] },
        rows * E,
      );
      emitMatmul(
        e,
        emb,
        w,
        table,
        { m: rows, n: BIAS_WIDTH, k: E, a: { sm: E, sk: 1 }, b: { sk: BIAS_WIDTH, sn: 1 }, biasRows: steps },
        0,
        b,
      );
    },
    backward(e) {
      const dpq = e.grad(table);
      const [dtw, dtb, dcw, dcb, dw, db] = [tw, tb, cw, cb, w, b].map((t) => e.gradTarget(t));
      const de = e.scratch('table.de', [rows, E]);
      const da = e.scratch('table.da', [steps, E]);
      emitMatmul(
        e,
        dpq,
        w,
        de,
        { m: rows, n: E, k: BIAS_WIDTH, a: { sm: BIAS_WIDTH, sk: 1 }, b: { sk: 1, sn: BIAS_WIDTH } },
        0,
      );
      if (dw)
        emitMatmul(
          e,
          emb!,
          dpq,
          dw.tensor,
          { m: E, n: BIAS_WIDTH, k: rows, a: { sm: 1, sk: E }, b: { sk: BIAS_WIDTH, sn: 1 } },
          dw.accumulate,
        );
      const small = [dtb, dcw, dcb, db];
      const [d_time_b, d_class_w, d_class_b, d_proj_b] = small.map((t) => t?.tensor ?? unused(e));
      e.dispatch(
        BACKWARD,
        { a: a!, de, dpq, da, d_time_b, d_class_w, d_class_b, d_proj_b },
        {
          steps,
          width: E,
          proj: BIAS_WIDTH,
          write: small.map((t) => (t ? 1 : 0)),
          accumulate: small.map((t) => t?.accumulate ?? 0),
        },
        E + BIAS_WIDTH,
      );
      if (dtw)
        emitMatmul(
          e,
          F,
          da,
          dtw.tensor,
          { m: E, n: E, k: steps, a: { sm: 1, sk: E }, b: { sk: E, sn: 1 } },
          dtw.accumulate,
        );
    },
  });
  return { table, feeds: [m.feed] };
}

/** A binding for a gradient nobody wants (its write flag is 0). */
const unused = (e: Emitter) => e.scratch('table.unused', [1]);
