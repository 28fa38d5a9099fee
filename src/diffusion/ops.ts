// Graph ops of the diffusion process: the on-device training batch of the two-pixel mixture, and
// the two halves of an op-by-op sampling step around the network.
import code from '../../shaders/ddpm.wgsl';
import drawCode from '../../shaders/twopixel_draw.wgsl';
import imageBatchCode from '../../shaders/image_batch.wgsl';
import philox from '../../shaders/philox.wgsl';
import { defineKernel } from '../core/kernel.js';
import { expectDtype, expectShape, f32, type Graph, type Param, type Tensor } from '../core/graph.js';
import { MIXTURE } from '../data/mixture.js';
import { SCHEDULE_WIDTH } from './tables.js';

const opts = { libraries: [philox, drawCode] };
const BATCH = defineKernel('ddpm.two_pixel_batch', code, 'two_pixel_batch', ['write', 'write', 'write', 'write', 'read', 'read', 'uniform', null], opts);
const PREPARE = defineKernel('ddpm.sample_prepare', code, 'sample_prepare', ['write', null, 'write', null, 'read', null, 'uniform', 'write'], opts);
const UPDATE = defineKernel('ddpm.sample_update', code, 'sample_update', ['write', 'write', null, null, 'read', 'read', 'uniform', 'write'], opts);

const IMAGE_BATCH = defineKernel('image_batch.image_batch', imageBatchCode, 'image_batch', ['read', 'read', 'read', 'read', 'write', 'write', 'write', 'write', 'uniform'], { libraries: [philox] });
const UPDATE_CLASSIFIER = defineKernel('ddpm.sample_update_classifier', code, 'sample_update_classifier', ['write', 'write', null, null, 'read', 'read', 'uniform', 'write', 'read'], opts);

/** Philox streams: training data uses STREAM_TRAIN and the next; sampling uses STREAM_SAMPLE. */
export const STREAM_TRAIN = 10;
export const STREAM_SAMPLE = 20;

function ddpmParams(n: number, dims: number, T: number, stream: number, scalar: number, mode: number, record: number, clip = 0): Param[] {
  const [c0, c1] = MIXTURE.components;
  return [n, dims, T, stream, f32(scalar), mode, record, f32(c0.weight), f32(c0.mean[0]), f32(c0.mean[1]), f32(c1.mean[0]), f32(c1.mean[1]), f32(MIXTURE.sigma), f32(clip)];
}

export function checkSchedule(schedule: Tensor, T: number): void {
  expectShape(schedule, [T + 1, SCHEDULE_WIDTH], 'schedule table');
}

/**
 * A fresh training batch every step from the mixture of SPEC section 1: x_t [B, 1, 2],
 * eps [B, 1, 2], t [B] and labels [B] (u32, dropped to "none" with probability pUncond).
 */
export function twoPixelBatch(g: Graph, batch: number, T: number, schedule: Tensor, pUncond: number) {
  checkSchedule(schedule, T);
  if (!(pUncond >= 0 && pUncond <= 1)) throw new Error(`label dropout ${pUncond} is not a probability in [0, 1]`);
  const x = g.activation('batch.x_t', [batch, 1, 2]);
  const eps = g.activation('batch.eps', [batch, 1, 2]);
  const t = g.activation('batch.t', [batch], 'u32');
  const y = g.activation('batch.y', [batch], 'u32');
  g.add({
    type: 'two_pixel_batch',
    inputs: [schedule],
    outputs: [x, eps, t, y],
    forward: (e) => e.dispatch(BATCH, [x, eps, t, y, g.state, schedule], ddpmParams(batch, 2, T, STREAM_TRAIN, pUncond, 0, 0), batch),
  });
  return { x, eps, t, y };
}

/**
 * A fresh training batch every step from a dataset on the device: pixels as bytes 0-255 packed
 * four to a u32 word (bytes [count * prod(shape) / 4]), scaled to [-1, 1], with labels [count]
 * (u32). x_t and eps [batch, ...shape], t [batch] in 1..T and the labels [batch], dropped to
 * `noLabel` with probability pUncond (shaders/image_batch.wgsl).
 */
export function imageBatch(g: Graph, bytes: Tensor, labels: Tensor, schedule: Tensor, o: { batch: number; T: number; pUncond: number; noLabel: number; shape: readonly number[] }) {
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
    forward: (e) => e.dispatch(IMAGE_BATCH, [bytes, labels, g.state, schedule, x, eps, t, y],
      [o.batch, dims, count, o.T, STREAM_TRAIN, o.noLabel, f32(o.pUncond)], o.batch * dims),
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
}

/** Before the network: draw x_T at the first step, and set the network's t = T - step. */
export function samplePrepare(g: Graph, s: SampleStepTensors, o: SampleStepOptions): void {
  checkTensors(s, o);
  g.add({
    type: 'sample_prepare',
    inputs: [s.x, s.t, s.trajectory],
    outputs: [],
    forward: (e) => e.dispatch(PREPARE, [s.x, s.t, g.state, s.trajectory], params(o), Math.max(o.n * o.dims, netBatch(o))),
  });
}

/** After the network: x_{t-1} from x_t and the predicted noise (guided or not). */
export function sampleUpdate(g: Graph, s: SampleStepTensors, eps: Tensor, o: SampleStepOptions): void {
  expectShape(eps, s.x.shape, 'predicted noise');
  g.add({
    type: 'sample_update',
    inputs: [s.x, eps, s.schedule, s.trajectory],
    outputs: [],
    forward: (e) => e.dispatch(UPDATE, [s.x, eps, g.state, s.schedule, s.trajectory], params(o), o.n * o.dims),
  });
}

const netBatch = (o: SampleStepOptions) => (o.guidance === null ? o.n : 2 * o.n);
const params = (o: SampleStepOptions) => ddpmParams(o.n, o.dims, o.T, STREAM_SAMPLE, o.guidance ?? 0, o.guidance === null ? 0 : 1, o.record, o.clip ?? 0);

function checkTensors(s: SampleStepTensors, o: SampleStepOptions): void {
  checkSchedule(s.schedule, o.T);
  expectDtype(s.t, 'u32', 'sampler steps');
  if (s.x.size !== netBatch(o) * o.dims) throw new Error(`sampler: x ${s.x} should hold ${netBatch(o)} samples of ${o.dims} values`);
  if (!Number.isInteger(o.record) || o.record < 0 || o.record > o.n) throw new Error(`sampler: record ${o.record} must be an integer in [0, ${o.n}]`);
  if (o.record > 0) expectShape(s.trajectory, [o.T + 1, o.record, o.dims], 'trajectory');
}

/**
 * After the network and the classifier's backward pass: x_{t-1} with classifier guidance of
 * strength `scale`, from eps(x, t) and the gradient of the classifier's mean cross-entropy
 * with respect to x (read after the backward pass).
 */
export function sampleUpdateClassifier(g: Graph, s: SampleStepTensors, eps: Tensor, o: SampleStepOptions & { scale: number }): void {
  expectShape(eps, s.x.shape, 'predicted noise');
  if (!(o.scale >= 0)) throw new Error(`classifier guidance scale ${o.scale} is not a non-negative number`);
  g.add({
    type: 'sample_update_classifier',
    inputs: [s.x, eps, s.schedule, s.trajectory],
    outputs: [],
    afterBackward: true,
    forward: (e) => e.dispatch(UPDATE_CLASSIFIER, [s.x, eps, g.state, s.schedule, s.trajectory, e.grad(s.x)],
      ddpmParams(o.n, o.dims, o.T, STREAM_SAMPLE, o.scale, 2, o.record, o.clip ?? 0), o.n * o.dims),
  });
}
