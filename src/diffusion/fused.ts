// The fused two-pixel kernels (shaders/twopixel.wgsl) as graph ops: a training loss that runs
// the forward and backward pass of every sample in one dispatch, and a sampler that runs whole
// reverse trajectories. Both read the block biases as P(t) + Q(y) from the joint table PQ
// (fusedtable.ts) the graph builds.
import code from '../../shaders/twopixel.wgsl';
import reduceCode from '../../shaders/twopixel_reduce.wgsl';
import philox from '../../shaders/philox.wgsl';
import drawCode from '../../shaders/twopixel_draw.wgsl';
import bucketCode from '../../shaders/bucket.wgsl';
import { defineKernel } from '../core/kernel.js';
import { expectDtype, expectShape, f32, type Emitter, type Graph, type Param, type Tensor } from '../core/graph.js';
import { nonNegativeInt, positiveInt } from '../core/ops/util.js';
import { emitMatmul } from '../core/ops/linear.js';
import type { LossKind } from '../core/ops/loss.js';
import { MIXTURE } from '../data/mixture.js';
import { BIAS_WIDTH, LABELS } from '../nn/twopixel.js';
import { checkSchedule, STREAM_SAMPLE, STREAM_TRAIN } from './ops.js';
import { EVALS, forwardRegs, PACKED_FLOATS, SAMPLER_ROWS, trainEntry, WEIGHT_BLOCK } from './fusedgen.js';

// The module's generated parts (fusedgen.ts): every kernel of it compiles the whole module.
// Each network kernel in two versions: the plain one and (sg) the one whose loops read their
// weights through subgroup broadcasts, for devices with broadcasts (src/gpu/gpu.ts).
const libraries = (sg: boolean) => [philox, drawCode, forwardRegs(sg), trainEntry(sg)];
const networkKernels = (sg: boolean) => {
  // The entry points run or return whole groups of 8 lanes (one subgroup on lavapipe), which
  // WGSL's uniformity analysis cannot see: its subgroup check is off for them.
  const o = { libraries: libraries(sg), directives: sg ? ['enable subgroups', 'diagnostic(off, subgroup_uniformity)'] : [] };
  const tag = sg ? '_sg' : '';
  return {
    train: defineKernel(`twopixel.train${tag}`, code, 'train', [null, null, 'read', 'read', 'read', 'write', null, 'write', 'uniform', 'constant', 'write', 'write'], o),
    sample: defineKernel(`twopixel.sample${tag}`, code, 'sample', [null, null, null, 'read', 'read', 'write', 'write', 'write', 'uniform', 'constant'], o),
  };
};
const NETWORK = { plain: networkKernels(false), sg: networkKernels(true) };
const PACK = defineKernel('twopixel.pack', code, 'pack', ['read', 'read', null, null, null, 'write', null, null, 'uniform'], { libraries: libraries(false) });
const PARTIAL_ROWS = defineKernel('bucket.partial_rows', bucketCode, 'partial_rows', ['read', 'write', 'read', null, 'uniform'], { workgroupSize: 8 });
const TOTAL_ROWS = defineKernel('bucket.total_rows', bucketCode, 'total_rows', [null, 'write', null, 'write', 'uniform']);
/** Samples per workgroup of the table-gradient pass 1 (shaders/bucket.wgsl), and the floats of its workgroup table. */
const TABLE_CHUNK = 64;
const TABLE_FLOATS = 4096;
/** Columns of a pass-1 workgroup's table (8 invocations of 4 columns), when the rows fit. */
const TABLE_COLUMNS = 32;
const REDUCE = defineKernel('twopixel_reduce.reduce', reduceCode, 'reduce', ['read', 'write', 'write', 'read', 'uniform']);

/** The fused parameters in the order of FusedParams' offsets (shaders/twopixel.wgsl). */
export const FUSED_PARAMS = [
  'enc1.conv.w', 'enc1.conv.b', 'enc1.norm.gamma', 'enc1.norm.beta',
  'enc2.conv.w', 'enc2.conv.b', 'enc2.norm.gamma', 'enc2.norm.beta',
  'dec1.conv.w', 'dec1.conv.b', 'dec1.norm.gamma', 'dec1.norm.beta',
  'dec2.conv.w', 'dec2.conv.b',
] as const;
/** W2 and W3: their gradients come from matmuls over the kernel's activation rows. */
const [W2, W3] = (['enc2.conv.w', 'dec1.conv.w'] as const).map((name) => FUSED_PARAMS.indexOf(name));

const LOSS_KINDS: Record<LossKind, number> = { mse: 0, l1: 1, huber: 2 };

function paramTensors(g: Graph): Tensor[] {
  return FUSED_PARAMS.map((name) => {
    const t = g.params.find((p) => p.name === name);
    if (!t) throw new Error(`fused two-pixel kernel: the graph has no parameter ${name} (build it with twoPixelUNet's layers)`);
    return t;
  });
}

interface Layout {
  lo: number;
  width: number;
  offsets: number[];
  spans: number[];
}

function layout(e: Emitter, params: Tensor[]): Layout {
  const offsets = params.map((t) => e.store.offset(t));
  const lo = Math.min(...offsets);
  const hi = Math.max(...params.map((t, i) => offsets[i] + t.size));
  const spans = params.flatMap((t, i) => [offsets[i] - lo, t.size]);
  return { lo, width: hi - lo, offsets, spans };
}

/** The fused parameters copied into the uniform weight block the generated code reads (`wts`). */
function packWeights(e: Emitter, table: Tensor, head: Param[], floats: number): Tensor {
  const weights = e.scratch('fused.weights', [WEIGHT_BLOCK]);
  e.dispatch(PACK, [e.store.params, table, weights], head, floats);
  return weights;
}

function header(batch: number, T: number, threads: number, stream: number, scalar: number, kind: number, delta: number, record: number, l: Layout, steps = [0, 0]): Param[] {
  const [c0, c1] = MIXTURE.components;
  return [batch, T, threads, stream, f32(scalar), kind, f32(delta), record,
    f32(c0.weight), f32(c0.mean[0]), f32(c0.mean[1]), f32(c1.mean[0]), f32(c1.mean[1]), f32(MIXTURE.sigma),
    l.lo, l.width, ...l.offsets, 32, 64, ...steps];
}

export interface FusedTrainOptions {
  batch: number;
  T: number;
  pUncond: number;
  loss: LossKind;
  delta?: number;
  history: number;
  /** Invocations that share the batch; each keeps a partial gradient of every fused parameter. */
  threads?: number;
}

/**
 * The training loss of one step over a batch drawn on the device (the same draws as
 * twoPixelBatch). Its backward sums the partial gradients into the fused parameters and the
 * per-sample bias gradients into the rows of the table PQ, from where the graph continues.
 */
export function fusedTwoPixelLoss(g: Graph, table: Tensor, schedule: Tensor, o: FusedTrainOptions): Tensor {
  const T = positiveInt(o.T, 'T');
  const batch = positiveInt(o.batch, 'batch');
  const history = positiveInt(o.history, 'loss history');
  const threads = Math.min(batch, positiveInt(o.threads ?? 128, 'threads'));
  if (!(o.loss in LOSS_KINDS) || !Object.hasOwn(LOSS_KINDS, o.loss)) throw new Error(`loss kind "${o.loss}" is not one of mse, l1, huber`);
  if (!(o.pUncond >= 0 && o.pUncond <= 1)) throw new Error(`label dropout ${o.pUncond} is not a probability in [0, 1]`);
  const delta = o.delta ?? 1;
  if (!(delta > 0)) throw new Error(`huber delta = ${delta}, expected a positive number`);
  checkSchedule(schedule, T);
  expectShape(table, [T + 1 + LABELS, BIAS_WIDTH], 'bias table PQ');
  const params = paramTensors(g);
  const loss = g.activation('fused.loss', [history]);
  const biasGrads = g.activation('fused.bias_grads', [batch, BIAS_WIDTH]);
  const ids = g.activation('fused.ids', [batch], 'u32');
  let partials: Tensor | null = null;
  // Per sample and position: h1 and dL/dpre3 (32 wide), dL/dpre2 and h2 (64 wide), sample-major.
  const rows = 2 * batch;
  let acts: Tensor | null = null;
  g.add({
    type: 'fused_two_pixel_loss',
    fusedLoss: true,
    inputs: [table, schedule, ...params],
    outputs: [loss, biasGrads, ids],
    forward(e) {
      const l = layout(e, params);
      const head = header(batch, T, threads, STREAM_TRAIN, o.pUncond, LOSS_KINDS[o.loss], delta, 0, l);
      const weights = packWeights(e, table, head, PACKED_FLOATS);
      partials = e.scratch('fused.partials', [threads, l.width + 1]);
      acts = e.scratch('fused.acts', [rows * 192]);
      e.dispatch(NETWORK[e.broadcasts ? 'sg' : 'plain'].train, [table, g.state, schedule, partials, ids, weights, acts, biasGrads], head, threads);
    },
    backward(e) {
      const l = layout(e, params);
      const targets = params.map((t) => e.gradTarget(t));
      if (targets.some((t) => !t || t.accumulate)) {
        throw new Error('fused two-pixel loss: its parameters must be trainable and used by no other op');
      }
      // W2's and W3's gradients ([64, 32] each) as one batched matmul over the activation rows:
      // h1^T dL/dpre2, then (dL/dpre3)^T h2 ([32, 64]: 64 columns fill the kernel's lanes, 32
      // would leave half idle), stored transposed into the gradient store, W3's after W2's.
      const [o2, o3] = [l.offsets[W2], l.offsets[W3]];
      if (o3 < o2) throw new Error('fused two-pixel loss: expected W3 after W2 in the parameter store');
      emitMatmul(e, acts!, acts!, e.store.grads, {
        m: 32, n: 64, k: rows, batch: 2,
        a: { sm: 1, sk: 32, sb: rows * 32, off: 0 }, b: { sk: 64, sn: 1, sb: rows * 64, off: rows * 64 },
        c: { sm: 1, sn: 32, sb: o3 - o2, off: o2 },
      }, 0);
      // Every other fused parameter sums the partial rows.
      const spans = new Array<number>(32).fill(0);
      const summed = l.spans.filter((_, i) => i >> 1 !== W2 && i >> 1 !== W3);
      summed.forEach((v, i) => (spans[i] = v));
      e.dispatch(REDUCE, [partials!, e.store.grads, loss, g.state], [threads, l.width, l.lo, history, 0, summed.length / 2, 0, 0, ...spans], l.width + 1);
      // The bias table's gradient: each sample's row into row t and row T + 1 + label.
      const target = e.gradTarget(table);
      if (!target) return;
      const tableRows = T + 1 + LABELS;
      const columns = [TABLE_COLUMNS, 16, 8, 4].find((c) => tableRows * c <= TABLE_FLOATS);
      if (!columns) throw new Error(`fused two-pixel loss: T = ${T} needs ${tableRows} rows in the bias-table gradient pass, at most ${TABLE_FLOATS / 4} fit`);
      const chunks = Math.ceil(batch / TABLE_CHUNK);
      const partial = e.scratch('fused.table_partial', [chunks, tableRows, BIAS_WIDTH]);
      const bucketParams = [batch, BIAS_WIDTH / 4, T + 1, TABLE_CHUNK, chunks, columns / 4, target.accumulate];
      e.dispatch(PARTIAL_ROWS, [ids, partial, biasGrads], bucketParams, { workgroups: [chunks, BIAS_WIDTH / columns, 1] });
      e.dispatch(TOTAL_ROWS, [partial, target.tensor], bucketParams, (tableRows * BIAS_WIDTH) / 4);
    },
  });
  return loss;
}

export interface FusedSampleOptions {
  n: number;
  T: number;
  /** Classifier-free guidance strength w; null: none (each sample uses its label as given). */
  guidance: number | null;
  record: number;
  /** Clip the predicted x_0 to [-clip, clip] in each step (0: the plain DDPM update). */
  clip?: number;
}

/**
 * Whole reverse trajectories, one invocation per EVALS network evaluations; labels [n] (u32) as
 * the op-by-op sampler takes them. One dispatch runs up to SAMPLER_ROWS steps (the rows of P its
 * uniform block holds), so T = 50 is one dispatch and larger T a few.
 */
export function fusedTwoPixelSampler(g: Graph, table: Tensor, schedule: Tensor, labels: Tensor, o: FusedSampleOptions) {
  const n = positiveInt(o.n, 'samples');
  const T = positiveInt(o.T, 'T');
  const record = nonNegativeInt(o.record, 'recorded samples');
  if (record > n) throw new Error(`recorded samples ${record} exceed the ${n} samples drawn`);
  checkSchedule(schedule, T);
  expectShape(table, [T + 1 + LABELS, BIAS_WIDTH], 'bias table PQ');
  expectDtype(labels, 'u32', 'sampler labels');
  expectShape(labels, [n], 'sampler labels');
  const params = paramTensors(g);
  const samples = g.activation('fused.samples', [n, 2]);
  const trajectory = g.activation('fused.trajectory', record > 0 ? [T + 1, record, 2] : [1]);
  const guided = o.guidance !== null && o.guidance !== 0;
  g.add({
    type: 'fused_two_pixel_sampler',
    inputs: [table, schedule, labels, ...params],
    outputs: [samples, trajectory],
    forward(e) {
      const l = layout(e, params);
      for (let hi = T; hi >= 1; hi -= SAMPLER_ROWS) {
        const head = header(n, T, 0, STREAM_SAMPLE, guided ? o.guidance! : 0, guided ? 1 : 0, o.clip ?? 0, record, l, [hi, Math.max(1, hi - SAMPLER_ROWS + 1)]);
        const weights = packWeights(e, table, head, WEIGHT_BLOCK);
        e.dispatch(NETWORK[e.broadcasts ? 'sg' : 'plain'].sample, [g.state, schedule, samples, trajectory, labels, weights], head, Math.ceil(n / (guided ? EVALS / 2 : EVALS)));
      }
    },
  });
  return { samples, trajectory };
}
