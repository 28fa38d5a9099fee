// Step and class embeddings.
import code from '../../../shaders/embed.wgsl';
import { shaderModule } from '../kernel.js';
import { expectDtype, expectShape, type Graph, type Tensor } from '../graph.js';
import { emitSumBatchLength } from './util.js';

const EMBED = shaderModule({
  name: 'embed',
  source: code,
  bindings: { ids: 'read u32', table: 'read', out: 'read_write', bias: 'read' },
  params: { batch: 'u32', width: 'u32', rows: 'u32', scale: 'f32', accumulate: 'u32' },
});
const FOURIER = EMBED.kernel('fourier', { uses: ['ids', 'table', 'out'] });
const CLASS_FORWARD = EMBED.kernel('class_forward');
const ROWS_BACKWARD = EMBED.kernel('rows_backward', { uses: ['ids', 'table', 'out'] });
const GATHER_ROWS = EMBED.kernel('gather_rows', { uses: ['ids', 'table', 'out'] });

/**
 * Gaussian Fourier features of integer steps t [B] (u32) at t * scale: [sin(2 pi w t), cos(2 pi w t)]
 * -> [B, 2H] for frequencies w [H] (frozen). Not differentiable: steps are integers.
 */
export function fourierFeatures(g: Graph, t: Tensor, w: Tensor, scale: number, name = 'fourier'): Tensor {
  expectDtype(t, 'u32', `${name} steps`);
  if (t.shape.length !== 1 || w.shape.length !== 1)
    throw new Error(`${name}: steps ${t} and frequencies ${w} must be 1-D`);
  if (!Number.isFinite(scale)) throw new Error(`${name}: scale ${scale} is not finite`);
  const B = t.shape[0];
  const width = 2 * w.shape[0];
  const y = g.activation(name, [B, width]);
  g.add({
    type: 'fourier',
    inputs: [t, w],
    outputs: [y],
    forward: (e) =>
      e.dispatch(FOURIER, { ids: t, table: w, out: y }, { batch: B, width, rows: 0, scale, accumulate: 0 }, y.size),
  });
  return y;
}

/** onehot(labels) W + b: labels [B] (u32 in [0, rows)), W [rows, D], b [D] -> [B, D]. */
export function classEmbedding(g: Graph, labels: Tensor, w: Tensor, b: Tensor, name = 'class_embedding'): Tensor {
  expectDtype(labels, 'u32', `${name} labels`);
  if (labels.shape.length !== 1 || w.shape.length !== 2)
    throw new Error(`${name}: labels ${labels} must be [B] and W ${w} [rows, D]`);
  const B = labels.shape[0];
  const [rows, D] = w.shape;
  expectShape(b, [D], `${name} bias`);
  const y = g.activation(name, [B, D]);
  g.add({
    type: 'class_embedding',
    inputs: [labels, w, b],
    outputs: [y],
    forward: (e) =>
      e.dispatch(
        CLASS_FORWARD,
        { ids: labels, table: w, out: y, bias: b },
        { batch: B, width: D, rows, scale: 0, accumulate: 0 },
        y.size,
      ),
    backward(e) {
      const dy = e.grad(y);
      const dw = e.gradTarget(w);
      if (dw)
        e.dispatch(
          ROWS_BACKWARD,
          { ids: labels, table: dy, out: dw.tensor },
          { batch: B, width: D, rows, scale: 0, accumulate: dw.accumulate },
          w.size,
        );
      const db = e.gradTarget(b);
      if (db) emitSumBatchLength(e, dy, db, B, D, 1);
    },
  });
  return y;
}

/** out[b] = table[ids[b]]: table [rows, D], ids [B] (u32 in [0, rows)) -> [B, D]. */
export function gatherRows(g: Graph, table: Tensor, ids: Tensor, name = 'gather_rows'): Tensor {
  expectDtype(ids, 'u32', `${name} ids`);
  if (ids.shape.length !== 1 || table.shape.length !== 2)
    throw new Error(`${name}: ids ${ids} must be [B] and table ${table} [rows, D]`);
  const B = ids.shape[0];
  const [rows, D] = table.shape;
  const y = g.activation(name, [B, D]);
  g.add({
    type: 'gather_rows',
    inputs: [table, ids],
    outputs: [y],
    forward: (e) =>
      e.dispatch(GATHER_ROWS, { ids, table, out: y }, { batch: B, width: D, rows, scale: 0, accumulate: 0 }, y.size),
    backward(e) {
      const dt = e.gradTarget(table);
      if (dt)
        e.dispatch(
          ROWS_BACKWARD,
          { ids, table: e.grad(y), out: dt.tensor },
          { batch: B, width: D, rows, scale: 0, accumulate: dt.accumulate },
          table.size,
        );
    },
  });
  return y;
}
