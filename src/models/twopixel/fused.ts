// The fused two-pixel kernels (shaders/twopixel.wgsl) as graph ops: a training loss that runs
// the forward and backward pass of every sample in one dispatch, and a sampler that runs whole
// reverse trajectories. Both take the UNet's parameters as one parameter group (unetGroup) and
// read the block biases as P(t) + Q(y) from the joint table PQ (table.ts).
import code from '../../../shaders/twopixel.wgsl';
import reduceCode from '../../../shaders/twopixel_reduce.wgsl';
import drawCode from '../../../shaders/twopixel_draw.wgsl';
import bucketCode from '../../../shaders/bucket.wgsl';
import { shaderModule, type ParamType } from '../../core/kernel.js';
import { expectDtype, expectShape, type Graph, type Tensor } from '../../core/graph.js';
import { nonNegativeInt, positiveInt } from '../../core/ops/util.js';
import { emitMatmul } from '../../core/ops/linear.js';
import type { LossKind } from '../../core/ops/loss.js';
import {
  DDPM_LIBRARIES,
  checkSchedule,
  mixtureParams,
  MIXTURE_PARAM_TYPES,
  SAMPLER_TAGS,
  STREAM_SAMPLE,
  STREAM_TRAIN,
} from '../../diffusion/ops.js';
import { BIAS_WIDTH, LABELS, NO_LABEL } from './spec.js';
import {
  EVALS,
  FUSED_PARAM_NAMES,
  forwardRegs,
  offsetField,
  PACKED_FLOATS,
  SAMPLER_ROWS,
  trainEntry,
  WEIGHT_BLOCK,
} from './fusedgen.js';
import { twoPixelUNetParams } from './unet.js';
import type { Mixture } from '../../data/mixture.js';

const FUSED = {
  name: 'twopixel',
  source: code,
  constants: { ...SAMPLER_TAGS, NO_LABEL, LABELS, BIAS_WIDTH },
  bindings: {
    unet: 'read', // the UNet's parameter group (only pack reads it; the rest read `weights`)
    table: 'read', // the block biases PQ [T + 4, 128]: rows 0..T the time part P(t), then Q(label)
    table4: 'read vec4f', // the same, four channels per read (training)
    state: 'read u32',
    schedule: 'read',
    weights: `uniform array<vec4f, ${WEIGHT_BLOCK / 4}>`, // pack's output as the kernels read it
    packed: 'read_write', // pack's output
    // training: per-invocation partial gradients [threads, width + 1] (the last column: loss), each
    // sample's t * LABELS + label, its block-bias gradients [B, 128] as vec4s, and the sample-major
    // activation rows for the weight-gradient matmuls: h1 [2B, 32], dL/dpre3 [2B, 32], dL/dpre2
    // [2B, 64], h2 [2B, 64], one row per sample and position
    partials: 'read_write',
    ids: 'read_write u32',
    bias_grads4: 'read_write vec4f',
    acts: 'read_write vec4f',
    // sampling: each sample's label, x (carried from dispatch to dispatch, x_0 at the end) and the
    // trajectory [T + 1, record, 2]
    labels: 'read u32',
    samples: 'read_write',
    trajectory: 'read_write',
  },
  params: {
    batch: 'u32', // samples (training batch, or samples drawn)
    steps: 'u32', // T
    threads: 'u32', // training: invocations sharing the batch (each keeps partial gradients)
    stream: 'u32', // Philox stream
    p_uncond: 'f32', // training: label dropout probability
    loss_kind: 'u32', // training: 0 MSE, 1 L1, 2 Huber
    huber_delta: 'f32',
    guidance_on: 'u32', // sampling: 1 = classifier-free guidance
    guidance: 'f32', // its strength w
    clip: 'f32', // sampling: clip of the predicted x_0 (0: none)
    record: 'u32', // sampling: samples whose trajectory is recorded
    ...MIXTURE_PARAM_TYPES, // training: the mixture drawn from
    width: 'u32', // floats of the parameter group
    // where each UNet parameter starts in the group (o_w1 ... o_b4, fusedgen.ts)
    ...(Object.fromEntries(FUSED_PARAM_NAMES.map((_, i) => [offsetField(i), 'u32'])) as Record<string, ParamType>),
    // 32 and 64, the network's widths, as loop bounds: read from here the driver cannot unroll
    // the generated code's loops over channel blocks (unrolled, LLVM compiles for minutes)
    n32: 'u32',
    n64: 'u32',
    // sampling: the steps t_hi down to t_lo this dispatch runs (their rows of P are in the weight
    // block); the first (t_hi = T) draws x_T, later ones continue from `samples`
    t_hi: 'u32',
    t_lo: 'u32',
  },
} as const;
const FUSED_MODULE = shaderModule({ ...FUSED, libraries: [...DDPM_LIBRARIES, drawCode] });
// Each network kernel in two versions: the plain one and (sg) the one whose loops read their
// weights through subgroup broadcasts, for devices with broadcasts (src/core/config.ts). The entry
// points run or return whole groups of 8 lanes (one subgroup on lavapipe), which WGSL's
// uniformity analysis cannot see: its subgroup check is off for them.
const networkKernels = (sg: boolean) => {
  const o = {
    libraries: [forwardRegs(sg), trainEntry(sg)],
    tag: sg ? '_sg' : '',
    enable: sg ? ['subgroups'] : [],
    diagnostics: sg ? ['off, subgroup_uniformity'] : [],
  };
  return {
    train: FUSED_MODULE.kernel('train', {
      ...o,
      uses: ['table4', 'state', 'schedule', 'partials', 'ids', 'weights', 'acts', 'bias_grads4'],
    }),
    sample: FUSED_MODULE.kernel('sample', {
      ...o,
      uses: ['state', 'schedule', 'samples', 'trajectory', 'labels', 'weights'],
    }),
  };
};
const NETWORK = { plain: networkKernels(false), sg: networkKernels(true) };
const PACK = FUSED_MODULE.kernel('pack', { libraries: [forwardRegs(false)], uses: ['unet', 'table', 'packed'] });

const BUCKET = shaderModule({
  name: 'bucket',
  source: bucketCode,
  constants: { LABELS },
  bindings: { ids: 'read u32', partial: 'read_write vec4f', dy: 'read vec4f', out: 'read_write vec4f' },
  // in vec4s: width / 4, columns / 4
  params: {
    batch: 'u32',
    width4: 'u32',
    p_rows: 'u32',
    chunk: 'u32',
    chunks: 'u32',
    columns4: 'u32',
    accumulate: 'u32',
  },
});
const PARTIAL_ROWS = BUCKET.kernel('partial_rows', { uses: ['ids', 'partial', 'dy'], workgroupSize: 8 });
const TOTAL_ROWS = BUCKET.kernel('total_rows', { uses: ['partial', 'out'] });
/** Samples per workgroup of the table-gradient pass 1 (shaders/bucket.wgsl), and the floats of its workgroup table. */
const TABLE_CHUNK = 64;
const TABLE_FLOATS = 4096;
/** Columns of a pass-1 workgroup's table (8 invocations of 4 columns), when the rows fit. */
const TABLE_COLUMNS = 32;
const REDUCE = shaderModule({
  name: 'twopixel_reduce',
  source: reduceCode,
  bindings: { partials: 'read', grads: 'read_write', loss: 'read_write', state: 'read u32' },
  // (offset, size) of each fused parameter summed here, two per vec4: gaps between them stay untouched
  params: { rows: 'u32', width: 'u32', history: 'u32', accumulate: 'u32', ranges: 'u32', spans: 'array<vec4u, 8>' },
}).kernel('reduce');

/** W2 and W3: their gradients come from matmuls over the kernel's activation rows. */
const [W2, W3] = (['enc2.conv.w', 'dec1.conv.w'] as const).map((name) => FUSED_PARAM_NAMES.indexOf(name));

const LOSS_KINDS: Record<LossKind, number> = { mse: 0, l1: 1, huber: 2 };

/** The UNet's parameters (created here, in store order) as the one group the fused kernels take. */
export function unetGroup(g: Graph): Tensor {
  const params = twoPixelUNetParams(g);
  return g.paramGroup(
    'unet',
    FUSED_PARAM_NAMES.map((name) => params.get(name)!),
  );
}

/** Where each fused parameter starts in the group, in FUSED_PARAM_NAMES order. */
function offsets(unet: Tensor): number[] {
  if (
    !unet.members ||
    unet.members.length !== FUSED_PARAM_NAMES.length ||
    unet.members.some((m, i) => m.tensor.name !== FUSED_PARAM_NAMES[i])
  ) {
    throw new Error(`fused two-pixel kernel: ${unet} is not the UNet's parameter group (build it with unetGroup)`);
  }
  return unet.members.map((m) => m.offset);
}

/** Every parameter of the fused kernels: those given, zero elsewhere, and the group's layout and the mixture's. */
function fusedParams(
  unet: Tensor,
  given: { batch: number; steps: number; stream: number } & Partial<
    Record<
      | 'threads'
      | 'p_uncond'
      | 'loss_kind'
      | 'huber_delta'
      | 'guidance_on'
      | 'guidance'
      | 'clip'
      | 'record'
      | 't_hi'
      | 't_lo',
      number
    >
  >,
  mixture?: Mixture,
) {
  const at = Object.fromEntries(offsets(unet).map((o, i) => [offsetField(i), o]));
  return {
    threads: 0,
    p_uncond: 0,
    loss_kind: 0,
    huber_delta: 1,
    guidance_on: 0,
    guidance: 0,
    clip: 0,
    record: 0,
    t_hi: 0,
    t_lo: 0,
    ...given,
    ...mixtureParams(mixture),
    width: unet.size,
    ...at,
    n32: 32,
    n64: 64,
  };
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
  /** The training data (SPEC section 1's mixture by default). */
  mixture?: Mixture;
}

/**
 * The training loss of one step over a batch drawn on the device (the same draws as
 * twoPixelBatch). Its backward sums the partial gradients into the UNet group's gradient and the
 * per-sample bias gradients into the rows of the table PQ's, from where the graph continues.
 */
export function fusedTwoPixelLoss(
  g: Graph,
  table: Tensor,
  schedule: Tensor,
  unet: Tensor,
  o: FusedTrainOptions,
): Tensor {
  const T = positiveInt(o.T, 'T');
  const batch = positiveInt(o.batch, 'batch');
  const history = positiveInt(o.history, 'loss history');
  const threads = Math.min(batch, positiveInt(o.threads ?? 128, 'threads'));
  if (!(o.loss in LOSS_KINDS) || !Object.hasOwn(LOSS_KINDS, o.loss))
    throw new Error(`loss kind "${o.loss}" is not one of mse, l1, huber`);
  if (!(o.pUncond >= 0 && o.pUncond <= 1)) throw new Error(`label dropout ${o.pUncond} is not a probability in [0, 1]`);
  const delta = o.delta ?? 1;
  if (!(delta > 0)) throw new Error(`huber delta = ${delta}, expected a positive number`);
  checkSchedule(schedule, T);
  expectShape(table, [T + 1 + LABELS, BIAS_WIDTH], 'bias table PQ');
  const at = offsets(unet);
  const loss = g.activation('fused.loss', [history]);
  const biasGrads = g.activation('fused.bias_grads', [batch, BIAS_WIDTH]);
  const ids = g.activation('fused.ids', [batch], 'u32');
  const params = fusedParams(
    unet,
    {
      batch,
      steps: T,
      threads,
      stream: STREAM_TRAIN,
      p_uncond: o.pUncond,
      loss_kind: LOSS_KINDS[o.loss],
      huber_delta: delta,
    },
    o.mixture,
  );
  let partials: Tensor | null = null;
  // Per sample and position: h1 and dL/dpre3 (32 wide), dL/dpre2 and h2 (64 wide), sample-major.
  const rows = 2 * batch;
  let acts: Tensor | null = null;
  g.add({
    type: 'fused_two_pixel_loss',
    loss: true,
    inputs: [table, schedule, unet],
    outputs: [loss, biasGrads, ids],
    forward(e) {
      const weights = e.scratch('fused.weights', [WEIGHT_BLOCK]);
      e.dispatch(PACK, { unet, table, packed: weights }, params, PACKED_FLOATS);
      partials = e.scratch('fused.partials', [threads, unet.size + 1]);
      acts = e.scratch('fused.acts', [rows * 192]);
      e.dispatch(
        NETWORK[e.config.broadcasts ? 'sg' : 'plain'].train,
        { table4: table, state: g.state, schedule, partials, ids, weights, acts, bias_grads4: biasGrads },
        params,
        threads,
      );
    },
    backward(e) {
      const target = e.gradTarget(unet);
      if (!target || target.accumulate)
        throw new Error('fused two-pixel loss: the UNet group must be trainable and used by no other op');
      // W2's and W3's gradients ([64, 32] each) as one batched matmul over the activation rows:
      // h1^T dL/dpre2, then (dL/dpre3)^T h2 ([32, 64]: 64 columns fill the kernel's lanes, 32
      // would leave half idle), stored transposed into the group's gradient, W3's after W2's.
      const [o2, o3] = [at[W2], at[W3]];
      if (o3 < o2) throw new Error('fused two-pixel loss: expected W3 after W2 in the parameter group');
      emitMatmul(
        e,
        acts!,
        acts!,
        target.tensor,
        {
          m: 32,
          n: 64,
          k: rows,
          batch: 2,
          a: { sm: 1, sk: 32, sb: rows * 32, off: 0 },
          b: { sk: 64, sn: 1, sb: rows * 64, off: rows * 64 },
          c: { sm: 1, sn: 32, sb: o3 - o2, off: o2 },
        },
        0,
      );
      // Every other fused parameter sums the partial rows.
      const spans = at.flatMap((o, i) => (i === W2 || i === W3 ? [] : [o, unet.members![i].tensor.size]));
      e.dispatch(
        REDUCE,
        { partials: partials!, grads: target.tensor, loss, state: g.state },
        {
          rows: threads,
          width: unet.size,
          history,
          accumulate: 0,
          ranges: spans.length / 2,
          spans: [...spans, ...new Array(32 - spans.length).fill(0)],
        },
        unet.size + 1,
      );
      // The bias table's gradient: each sample's row into row t and row T + 1 + label.
      const tableTarget = e.gradTarget(table);
      if (!tableTarget) return;
      const tableRows = T + 1 + LABELS;
      const columns = [TABLE_COLUMNS, 16, 8, 4].find((c) => tableRows * c <= TABLE_FLOATS);
      if (!columns)
        throw new Error(
          `fused two-pixel loss: T = ${T} needs ${tableRows} rows in the bias-table gradient pass, at most ${TABLE_FLOATS / 4} fit`,
        );
      const chunks = Math.ceil(batch / TABLE_CHUNK);
      const partial = e.scratch('fused.table_partial', [chunks, tableRows, BIAS_WIDTH]);
      const bucketParams = {
        batch,
        width4: BIAS_WIDTH / 4,
        p_rows: T + 1,
        chunk: TABLE_CHUNK,
        chunks,
        columns4: columns / 4,
        accumulate: tableTarget.accumulate,
      };
      e.dispatch(PARTIAL_ROWS, { ids, partial, dy: biasGrads }, bucketParams, {
        workgroups: [chunks, BIAS_WIDTH / columns, 1],
      });
      e.dispatch(TOTAL_ROWS, { partial, out: tableTarget.tensor }, bucketParams, (tableRows * BIAS_WIDTH) / 4);
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
export function fusedTwoPixelSampler(
  g: Graph,
  table: Tensor,
  schedule: Tensor,
  labels: Tensor,
  unet: Tensor,
  o: FusedSampleOptions,
) {
  const n = positiveInt(o.n, 'samples');
  const T = positiveInt(o.T, 'T');
  const record = nonNegativeInt(o.record, 'recorded samples');
  if (record > n) throw new Error(`recorded samples ${record} exceed the ${n} samples drawn`);
  checkSchedule(schedule, T);
  expectShape(table, [T + 1 + LABELS, BIAS_WIDTH], 'bias table PQ');
  expectDtype(labels, 'u32', 'sampler labels');
  expectShape(labels, [n], 'sampler labels');
  const samples = g.activation('fused.samples', [n, 2]);
  const trajectory = g.activation('fused.trajectory', record > 0 ? [T + 1, record, 2] : [1]);
  const guided = o.guidance !== null && o.guidance !== 0;
  g.add({
    type: 'fused_two_pixel_sampler',
    inputs: [table, schedule, labels, unet],
    outputs: [samples, trajectory],
    forward(e) {
      for (let hi = T; hi >= 1; hi -= SAMPLER_ROWS) {
        const params = fusedParams(unet, {
          batch: n,
          steps: T,
          stream: STREAM_SAMPLE,
          guidance_on: guided ? 1 : 0,
          guidance: guided ? o.guidance! : 0,
          clip: o.clip ?? 0,
          record,
          t_hi: hi,
          t_lo: Math.max(1, hi - SAMPLER_ROWS + 1),
        });
        const weights = e.scratch('fused.weights', [WEIGHT_BLOCK]);
        e.dispatch(PACK, { unet, table, packed: weights }, params, WEIGHT_BLOCK);
        e.dispatch(
          NETWORK[e.config.broadcasts ? 'sg' : 'plain'].sample,
          { state: g.state, schedule, samples, trajectory, labels, weights },
          params,
          Math.ceil(n / (guided ? EVALS / 2 : EVALS)),
        );
      }
    },
  });
  return { samples, trajectory };
}
