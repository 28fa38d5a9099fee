// Graph ops of the diffusion process: the on-device training batch of the two-pixel mixture, and
// the two halves of an op-by-op sampling step around the network.
import code from '../../shaders/ddpm.wgsl';
import stepCode from '../../shaders/ddpm_step.wgsl';
import drawCode from '../../shaders/twopixel_draw.wgsl';
import imageBatchCode from '../../shaders/image_batch.wgsl';
import philox from '../../shaders/philox.wgsl';
import { shaderModule } from '../core/kernel.js';
import { expectDtype, expectShape, type Graph, type Tensor } from '../core/graph.js';
import { MAX_COMPONENTS, MIXTURE, checkMixture, spread, type Mixture } from '../data/mixture.js';
import { SCHEDULE_LIBRARY, SCHEDULE_WIDTH } from './tables.js';
import { NO_LABEL } from '../models/twopixel/unet.js';

/** Philox streams: training data uses STREAM_TRAIN and the next; sampling uses STREAM_SAMPLE; the
 *  MNIST classifier's batches (src/models/mnist/classifier.ts) STREAM_DIGITS. */
export const STREAM_TRAIN = 10;
export const STREAM_SAMPLE = 20;
export const STREAM_DIGITS = 30;
/** The last word of a sampler's Philox counter: x_T's draw, and each step's noise. */
export const SAMPLER_TAGS = { TAG_START: 0, TAG_STEP: 1 } as const;
/** The WGSL every DDPM kernel includes: Philox, the schedule rows, the reverse step. */
export const DDPM_LIBRARIES = [philox, SCHEDULE_LIBRARY, stepCode] as const;

/**
 * A mixture (SPEC section 1's by default) as the draw's parameters (shaders/twopixel_draw.wgsl),
 * one vec4 per field, a peak per lane: the weights' running sums below which a uniform draw picks
 * peaks 0, 1, 2 (2, above any draw, past the last peak), the means, spreads and labels.
 */
export function mixtureParams(m: Mixture = MIXTURE) {
  checkMixture(m);
  m.components.forEach((c, i) => {
    if (c.label >= NO_LABEL)
      throw new Error(
        `mixture peak ${i}: label ${c.label}, but the two-pixel model's classes are 0 to ${NO_LABEL - 1}`,
      );
  });
  const lane = (f: (i: number) => number, unused: number) =>
    Array.from({ length: MAX_COMPONENTS }, (_, i) => (i < m.components.length ? f(i) : unused));
  const c = m.components;
  let below = 0;
  const cum = c.map((k) => (below += k.weight));
  return {
    mix_below: lane((i) => (i < c.length - 1 ? cum[i] : 2), 2),
    mix_mean_x: lane((i) => c[i].mean[0], 0),
    mix_mean_y: lane((i) => c[i].mean[1], 0),
    mix_sigma: lane((i) => spread(m, c[i]), 0),
    mix_label: lane((i) => c[i].label, 0),
  };
}

/** The draw's parameter fields (ddpm.wgsl's and twopixel.wgsl's parameter structs). */
export const MIXTURE_PARAM_TYPES = {
  mix_below: 'vec4f',
  mix_mean_x: 'vec4f',
  mix_mean_y: 'vec4f',
  mix_sigma: 'vec4f',
  mix_label: 'vec4u',
} as const;

const DDPM = shaderModule({
  name: 'ddpm',
  source: code,
  libraries: [...DDPM_LIBRARIES, drawCode],
  constants: { ...SAMPLER_TAGS, NO_LABEL },
  bindings: {
    x: 'read_write', // x_t (training) or the sampler's x, updated in place
    noise: 'read_write', // eps (training) or the network's prediction
    steps: 'read_write u32',
    labels: 'read_write u32',
    state: 'read u32',
    schedule: 'read',
    trajectory: 'read_write', // [T + 1, record, dims]
    ce_grad: 'read', // classifier guidance: the cross-entropy's gradient with respect to x
    times: 'read u32', // DDIM: the steps visited, T down to 0
    x0s: 'read_write', // [S, record_x0, dims]: the predicted x_0 at each sampling step
  },
  params: {
    n: 'u32', // samples in the batch
    dims: 'u32', // values per sample
    steps: 'u32', // T
    stream: 'u32',
    p_uncond: 'f32', // training: label dropout probability
    guidance_on: 'u32', // sampling: 1 = classifier-free guidance (network batch 2n: conditional, then unconditional)
    guidance: 'f32', // its strength w
    scale: 'f32', // classifier guidance's scale s
    record: 'u32', // samples recorded in the trajectory, 0..n
    record_x0: 'u32', // samples whose predicted x_0 is recorded in x0s, 0..n
    clip: 'f32', // clip the predicted x_0 to [-clip, clip] (0: the plain update)
    eta: 'f32', // DDIM's noise: 0 deterministic, 1 the DDPM posterior's
    ...MIXTURE_PARAM_TYPES,
  },
});
const BATCH = DDPM.kernel('two_pixel_batch', { uses: ['x', 'noise', 'steps', 'labels', 'state', 'schedule'] });
const PREPARE = DDPM.kernel('sample_prepare', { uses: ['x', 'steps', 'state', 'trajectory'] });
const UPDATE = DDPM.kernel('sample_update', { uses: ['x', 'noise', 'state', 'schedule', 'trajectory', 'x0s'] });
const DDIM_PREPARE = DDPM.kernel('ddim_prepare', { uses: ['x', 'steps', 'state', 'trajectory', 'times'] });
const DDIM_UPDATE = DDPM.kernel('ddim_update', {
  uses: ['x', 'noise', 'state', 'schedule', 'trajectory', 'times', 'x0s'],
});
const UPDATE_CLASSIFIER = DDPM.kernel('sample_update_classifier', {
  uses: ['x', 'noise', 'state', 'schedule', 'trajectory', 'ce_grad'],
});

const IMAGE_BATCH = shaderModule({
  name: 'image_batch',
  source: imageBatchCode,
  libraries: DDPM_LIBRARIES,
  bindings: {
    images: 'read u32', // [count, dims] bytes, packed four to a word, little-endian
    labels: 'read u32', // [count]
    state: 'read u32',
    schedule: 'read',
    xt: 'read_write', // [batch, dims]
    eps: 'read_write', // [batch, dims]
    t: 'read_write u32', // [batch]
    y: 'read_write u32', // [batch]
  },
  params: { batch: 'u32', dims: 'u32', count: 'u32', steps: 'u32', stream: 'u32', no_label: 'u32', p_uncond: 'f32' },
}).kernel('image_batch');

export function checkSchedule(schedule: Tensor, T: number): void {
  expectShape(schedule, [T + 1, SCHEDULE_WIDTH], 'schedule table');
}

/**
 * A fresh training batch every step from the mixture (SPEC section 1's by default): x_t [B, 1, 2],
 * eps [B, 1, 2], t [B] and labels [B] (u32, dropped to "none" with probability pUncond).
 */
export function twoPixelBatch(
  g: Graph,
  batch: number,
  T: number,
  schedule: Tensor,
  pUncond: number,
  mixture: Mixture = MIXTURE,
) {
  checkSchedule(schedule, T);
  if (!(pUncond >= 0 && pUncond <= 1)) throw new Error(`label dropout ${pUncond} is not a probability in [0, 1]`);
  const draw = mixtureParams(mixture);
  const x = g.activation('batch.x_t', [batch, 1, 2]);
  const eps = g.activation('batch.eps', [batch, 1, 2]);
  const t = g.activation('batch.t', [batch], 'u32');
  const y = g.activation('batch.y', [batch], 'u32');
  g.add({
    type: 'two_pixel_batch',
    inputs: [schedule],
    outputs: [x, eps, t, y],
    forward: (e) =>
      e.dispatch(
        BATCH,
        { x, noise: eps, steps: t, labels: y, state: g.state, schedule },
        { ...ddpmParams({ n: batch, dims: 2, steps: T, stream: STREAM_TRAIN, p_uncond: pUncond }), ...draw },
        batch,
      ),
  });
  return { x, eps, t, y };
}

/**
 * A fresh training batch every step from a dataset on the device: pixels as bytes 0-255 packed
 * four to a u32 word (bytes [count * prod(shape) / 4]), scaled to [-1, 1], with labels [count]
 * (u32). x_t and eps [batch, ...shape], t [batch] in 1..T and the labels [batch], dropped to
 * `noLabel` with probability pUncond (shaders/image_batch.wgsl).
 */
export function imageBatch(
  g: Graph,
  bytes: Tensor,
  labels: Tensor,
  schedule: Tensor,
  o: { batch: number; T: number; pUncond: number; noLabel: number; shape: readonly number[] },
) {
  checkSchedule(schedule, o.T);
  if (!(o.pUncond >= 0 && o.pUncond <= 1)) throw new Error(`label dropout ${o.pUncond} is not a probability in [0, 1]`);
  expectDtype(bytes, 'u32', 'dataset pixels');
  expectDtype(labels, 'u32', 'dataset labels');
  const count = labels.shape[0];
  const dims = o.shape.reduce((a, b) => a * b, 1);
  if (dims % 4 !== 0) throw new Error(`dataset images of ${dims} pixels do not pack four to a word`);
  expectShape(bytes, [(count * dims) / 4], 'dataset pixels (bytes packed four to a word)');
  const x = g.activation('batch.x_t', [o.batch, ...o.shape]);
  const eps = g.activation('batch.eps', [o.batch, ...o.shape]);
  const t = g.activation('batch.t', [o.batch], 'u32');
  const y = g.activation('batch.y', [o.batch], 'u32');
  g.add({
    type: 'image_batch',
    inputs: [bytes, labels, schedule],
    outputs: [x, eps, t, y],
    forward: (e) =>
      e.dispatch(
        IMAGE_BATCH,
        { images: bytes, labels, state: g.state, schedule, xt: x, eps, t, y },
        { batch: o.batch, dims, count, steps: o.T, stream: STREAM_TRAIN, no_label: o.noLabel, p_uncond: o.pUncond },
        o.batch * dims,
      ),
  });
  return { x, eps, t, y };
}

export interface SampleStepTensors {
  /** Network input [Bnet, ...], updated in place; under guidance both halves hold the same x. */
  x: Tensor;
  /** Network step input [Bnet] (u32), set each step. */
  t: Tensor;
  schedule: Tensor;
  /** [T + 1, record, dims]: every step of the first `record` samples (any shape of size >= 1 when record is 0). */
  trajectory: Tensor;
  /** [S, recordX0, dims]: the predicted x_0 at every step of the first `recordX0` samples (absent: none). */
  x0s?: Tensor;
}

export interface SampleStepOptions {
  n: number;
  dims: number;
  T: number;
  /** Classifier-free guidance strength; null: no guidance (the network batch is n). */
  guidance: number | null;
  record: number;
  /** Clip the predicted x_0 to [-clip, clip] in each step (0 or absent: the plain DDPM update). */
  clip?: number;
  /** Samples whose predicted x_0 goes to x0s at each step (0 or absent: none). */
  recordX0?: number;
}

/** x0s, or a one-element stand-in when no prediction is recorded. */
function x0Target(g: Graph, s: SampleStepTensors, o: SampleStepOptions, steps: number): Tensor {
  const r = o.recordX0 ?? 0;
  if (!Number.isInteger(r) || r < 0 || r > o.n)
    throw new Error(`sampler: recordX0 ${r} must be an integer in [0, ${o.n}]`);
  if (r === 0) return s.x0s ?? g.input('sampler.no_x0', [1]);
  if (!s.x0s) throw new Error(`sampler: recordX0 ${r} needs an x0s tensor [${steps}, ${r}, ${o.dims}]`);
  expectShape(s.x0s, [steps, r, o.dims], 'predicted x_0 record');
  return s.x0s;
}

/** Before the network: draw x_T at the first step, and set the network's t = T - step. */
export function samplePrepare(g: Graph, s: SampleStepTensors, o: SampleStepOptions): void {
  checkTensors(s, o);
  g.add({
    type: 'sample_prepare',
    inputs: [s.x, s.t, s.trajectory],
    outputs: [],
    forward: (e) =>
      e.dispatch(
        PREPARE,
        { x: s.x, steps: s.t, state: g.state, trajectory: s.trajectory },
        params(o),
        Math.max(o.n * o.dims, netBatch(o)),
      ),
  });
}

/** After the network: x_{t-1} from x_t and the predicted noise (guided or not). */
export function sampleUpdate(g: Graph, s: SampleStepTensors, eps: Tensor, o: SampleStepOptions): void {
  expectShape(eps, s.x.shape, 'predicted noise');
  const x0s = x0Target(g, s, o, o.T);
  g.add({
    type: 'sample_update',
    inputs: [s.x, eps, s.schedule, s.trajectory, x0s],
    outputs: [],
    forward: (e) =>
      e.dispatch(
        UPDATE,
        { x: s.x, noise: eps, state: g.state, schedule: s.schedule, trajectory: s.trajectory, x0s },
        params(o),
        o.n * o.dims,
      ),
  });
}

/**
 * The DDIM steps: `count` of the T steps, times[0] = T > ... > times[count] = 0, evenly spaced
 * (times[k] = round(T (count - k) / count)).
 */
export function ddimTimes(T: number, count: number): Uint32Array {
  if (!Number.isInteger(count) || count < 1 || count > T)
    throw new Error(`DDIM: ${count} sampling steps, expected an integer from 1 to T = ${T}`);
  return Uint32Array.from({ length: count + 1 }, (_, k) => Math.round((T * (count - k)) / count));
}

export interface DdimTensors extends SampleStepTensors {
  /** [S + 1] (u32): the steps visited, from ddimTimes. */
  times: Tensor;
}

function checkDdim(s: DdimTensors, o: SampleStepOptions & { eta: number }): number {
  expectDtype(s.times, 'u32', 'DDIM steps');
  const count = s.times.size - 1;
  if (count < 1) throw new Error(`DDIM: times ${s.times} must hold at least two steps (T and 0)`);
  if (!(o.eta >= 0 && o.eta <= 1)) throw new Error(`DDIM: eta ${o.eta}, expected a number in [0, 1]`);
  if (o.record > 0) expectShape(s.trajectory, [count + 1, o.record, o.dims], 'DDIM trajectory');
  return count;
}

/** DDIM's counterpart of samplePrepare: x_T at the first step, the network's t = times[step]. */
export function ddimPrepare(g: Graph, s: DdimTensors, o: SampleStepOptions & { eta: number }): void {
  checkDdim(s, o);
  checkTensors({ ...s, trajectory: s.trajectory }, { ...o, record: 0 });
  g.add({
    type: 'ddim_prepare',
    inputs: [s.x, s.t, s.trajectory, s.times],
    outputs: [],
    forward: (e) =>
      e.dispatch(
        DDIM_PREPARE,
        { x: s.x, steps: s.t, state: g.state, trajectory: s.trajectory, times: s.times },
        { ...params(o), eta: o.eta },
        Math.max(o.n * o.dims, netBatch(o)),
      ),
  });
}

/** DDIM's step from times[step] to times[step + 1] (shaders/ddpm.wgsl, ddim_update). */
export function ddimUpdate(g: Graph, s: DdimTensors, eps: Tensor, o: SampleStepOptions & { eta: number }): void {
  expectShape(eps, s.x.shape, 'predicted noise');
  const x0s = x0Target(g, s, o, checkDdim(s, o));
  g.add({
    type: 'ddim_update',
    inputs: [s.x, eps, s.schedule, s.trajectory, s.times, x0s],
    outputs: [],
    forward: (e) =>
      e.dispatch(
        DDIM_UPDATE,
        { x: s.x, noise: eps, state: g.state, schedule: s.schedule, trajectory: s.trajectory, times: s.times, x0s },
        { ...params(o), eta: o.eta },
        o.n * o.dims,
      ),
  });
}

const netBatch = (o: SampleStepOptions) => (o.guidance === null ? o.n : 2 * o.n);
const params = (o: SampleStepOptions, scale = 0) =>
  ddpmParams({
    n: o.n,
    dims: o.dims,
    steps: o.T,
    stream: STREAM_SAMPLE,
    guidance_on: o.guidance === null ? 0 : 1,
    guidance: o.guidance ?? 0,
    scale,
    record: o.record,
    record_x0: o.recordX0 ?? 0,
    clip: o.clip ?? 0,
  });

/** Every parameter of the DDPM kernels: those given, zero elsewhere, and the mixture's. */
function ddpmParams(given: {
  n: number;
  dims: number;
  steps: number;
  stream: number;
  p_uncond?: number;
  guidance_on?: number;
  guidance?: number;
  scale?: number;
  record?: number;
  record_x0?: number;
  clip?: number;
  eta?: number;
}) {
  return {
    p_uncond: 0,
    guidance_on: 0,
    guidance: 0,
    scale: 0,
    record: 0,
    record_x0: 0,
    clip: 0,
    eta: 0,
    ...given,
    ...mixtureParams(),
  };
}

function checkTensors(s: SampleStepTensors, o: SampleStepOptions): void {
  checkSchedule(s.schedule, o.T);
  expectDtype(s.t, 'u32', 'sampler steps');
  if (s.x.size !== netBatch(o) * o.dims)
    throw new Error(`sampler: x ${s.x} should hold ${netBatch(o)} samples of ${o.dims} values`);
  if (!Number.isInteger(o.record) || o.record < 0 || o.record > o.n)
    throw new Error(`sampler: record ${o.record} must be an integer in [0, ${o.n}]`);
  if (o.record > 0) expectShape(s.trajectory, [o.T + 1, o.record, o.dims], 'trajectory');
}

/**
 * After the network and the classifier's backward pass: x_{t-1} with classifier guidance of
 * strength `scale`, from eps(x, t) and the gradient of the classifier's mean cross-entropy
 * with respect to x (gradientOf: the op runs after the backward pass).
 */
export function sampleUpdateClassifier(
  g: Graph,
  s: SampleStepTensors,
  eps: Tensor,
  o: SampleStepOptions & { scale: number },
): void {
  expectShape(eps, s.x.shape, 'predicted noise');
  if (!(o.scale >= 0)) throw new Error(`classifier guidance scale ${o.scale} is not a non-negative number`);
  const ceGrad = g.gradientOf(s.x);
  g.add({
    type: 'sample_update_classifier',
    inputs: [s.x, eps, s.schedule, s.trajectory, ceGrad],
    outputs: [],
    forward: (e) =>
      e.dispatch(
        UPDATE_CLASSIFIER,
        { x: s.x, noise: eps, state: g.state, schedule: s.schedule, trajectory: s.trajectory, ce_grad: ceGrad },
        { ...params({ ...o, guidance: null }, o.scale) },
        o.n * o.dims,
      ),
  });
}
