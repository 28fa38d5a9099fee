// Training and sampling the MNIST UNet: the dataset uploaded once, every batch (images, t, noise,
// label dropout) drawn on the device, the op-by-op graph replayed; sampling with classifier-free
// guidance by the op-by-op DDPM sampler of ops.ts.
import { Graph, type Tensor } from '../core/graph.js';
import { Program } from '../core/program.js';
import type { ParamStore } from '../core/params.js';
import { regressionLoss, type LossKind } from '../core/ops/loss.js';
import type { MnistSet } from '../data/mnist.js';
import { MNIST_SIDE } from '../models/mnist/spec.js';
import { mnistUNet, MNIST_NO_LABEL, type MnistUNetConfig } from '../models/mnist/unet.js';
import { ddimPrepare, ddimTimes, ddimUpdate, imageBatch, samplePrepare, sampleUpdate } from './ops.js';
import { scheduleTable, SCHEDULE_WIDTH } from './tables.js';
import { CHUNK, TwoPixelTrainer } from './twopixel.js';

export interface MnistTrainOptions {
  model: MnistUNetConfig;
  batch: number;
  lr: number;
  /** Cosine learning-rate decay to 0 over this many steps (0: constant). */
  decaySteps: number;
  /** Linear learning-rate warm-up over this many first steps (0: none). */
  warmupSteps: number;
  /** Decay of the weights' moving average (with the usual warm-up; 0: none). */
  ema: number;
  loss: LossKind;
  pUncond: number;
  seed: number;
}

export const defaultMnistTrainOptions = (model: MnistUNetConfig, seed = 0): MnistTrainOptions => ({
  model,
  batch: 64,
  lr: 2e-4,
  decaySteps: 0,
  warmupSteps: 0,
  ema: 0,
  loss: 'mse',
  pUncond: 0.1,
  seed,
});

/** A trainer (the two-pixel trainer's chunked loop and divergence check) around the MNIST graph. */
export async function createMnistTrainer(
  device: GPUDevice,
  data: MnistSet,
  o: MnistTrainOptions,
): Promise<TwoPixelTrainer> {
  const T = o.model.T;
  const side = Math.round(Math.sqrt(data.bytes.length / data.count));
  const g = new Graph('MNIST training');
  const images = g.input('mnist.pixels', [data.bytes.length / 4], 'u32', { constant: true });
  const labels = g.input('mnist.labels', [data.count], 'u32', { constant: true });
  const schedule = g.input('schedule', [T + 1, SCHEDULE_WIDTH], 'f32', { constant: true });
  const batch = imageBatch(g, images, labels, schedule, {
    batch: o.batch,
    T,
    pUncond: o.pUncond,
    noLabel: MNIST_NO_LABEL,
    shape: [1, side, side],
  });
  const pred = mnistUNet(g, batch.x, batch.t, batch.y, o.model);
  const loss = regressionLoss(g, pred, batch.eps, o.loss, { history: CHUNK });
  const program = await Program.compile(device, g, {
    seed: o.seed,
    train: {
      loss,
      adam: { lr: o.lr, decaySteps: o.decaySteps, warmupSteps: o.warmupSteps, ema: o.ema, emaWarmup: o.ema > 0 },
    },
  });
  program.write(
    images,
    new Uint32Array(data.bytes.buffer.slice(data.bytes.byteOffset, data.bytes.byteOffset + data.bytes.length)),
  );
  program.write(labels, Uint32Array.from(data.labels));
  program.write(schedule, scheduleTable('cosine', T));
  return TwoPixelTrainer.wrap(program, loss);
}

export interface MnistSampleOptions {
  model: MnistUNetConfig;
  /** One digit label per image (0-9, or 10 for none). */
  labels: ArrayLike<number>;
  /** Classifier-free guidance strength w (0: the conditional model alone). */
  guidance: number;
  seed: number;
  /** Images whose every step is recorded (the first ones). */
  record: number;
  /** Clip the predicted x_0 to [-clip, clip] each step (the pixels' range is [-1, 1]). */
  clip: number;
  /** Called after each reverse step with the steps done. */
  onStep?: (done: number) => void;
  /** Images whose predicted x_0 is recorded at every step (the first ones; default none). */
  recordX0?: number;
  /** DDPM over all T steps (default), or DDIM over `sampleSteps` of them with noise `eta`. */
  sampler?: 'ddpm' | 'ddim';
  sampleSteps?: number;
  eta?: number;
}

/**
 * Images [n, 1, 28, 28] by the DDPM sampler, or DDIM's; trajectory [S + 1, record, 784] when
 * record > 0 (S the reverse steps taken: T for DDPM), row 0 x_T.
 */
export async function sampleMnist(
  device: GPUDevice,
  store: ParamStore,
  o: MnistSampleOptions,
): Promise<{ images: Float32Array; trajectory: Float32Array; x0s: Float32Array }> {
  const sampler = await MnistSampler.create(device, o, store);
  try {
    // All steps in one submit, unless the caller follows them one by one.
    if (!o.onStep) sampler.step(sampler.steps);
    else {
      while (sampler.done < sampler.steps) {
        sampler.step();
        await device.queue.onSubmittedWorkDone();
        o.onStep(sampler.done);
      }
    }
    return {
      images: await sampler.images(),
      trajectory: o.record > 0 ? await sampler.program.readF32(sampler.tensors.trajectory) : new Float32Array(0),
      x0s: sampler.tensors.x0s ? await sampler.program.readF32(sampler.tensors.x0s) : new Float32Array(0),
    };
  } finally {
    sampler.destroy();
  }
}

/**
 * The MNIST sampler, step by step: sampleMnist runs it to the end; the browser demo takes one
 * step per task and reads back only the images it draws.
 */
export class MnistSampler {
  /** Reverse steps done, of `steps`. */
  done = 0;

  private constructor(
    readonly program: Program,
    readonly tensors: { x: Tensor; trajectory: Tensor; x0s?: Tensor },
    /** The reverse steps a whole run takes (T for DDPM). */
    readonly steps: number,
    /** Images in the batch. */
    readonly n: number,
    private readonly ownStore: boolean,
  ) {}

  /**
   * Compiles the sampler for `o` (onStep is sampleMnist's, not read here) with the parameters of
   * `store`, or with a store of its own for the caller to fill (program.writeStore or
   * applyCheckpoint).
   */
  static async create(device: GPUDevice, o: MnistSampleOptions, store?: ParamStore): Promise<MnistSampler> {
    const T = o.model.T;
    const n = o.labels.length;
    if (n === 0) throw new Error('MNIST sampler: no labels given, expected one per image');
    const bad = Array.from(o.labels).findIndex((v) => !Number.isInteger(v) || v < 0 || v > MNIST_NO_LABEL);
    if (bad >= 0)
      throw new Error(`MNIST sampler: label ${o.labels[bad]} at ${bad} is not a digit 0-9 or ${MNIST_NO_LABEL} (none)`);
    if (!Number.isFinite(o.guidance)) throw new Error(`MNIST sampler: guidance w = ${o.guidance}, expected a number`);
    const guided = o.guidance !== 0;
    const side = MNIST_SIDE;
    const dims = side * side;
    const netBatch = guided ? 2 * n : n;
    const g = new Graph('MNIST sampler');
    const x = g.input('x', [netBatch, 1, side, side]);
    const t = g.input('t', [netBatch], 'u32');
    const y = g.input('y', [netBatch], 'u32');
    const schedule = g.input('schedule', [T + 1, SCHEDULE_WIDTH], 'f32', { constant: true });
    const ddim = o.sampler === 'ddim';
    const times = ddim ? ddimTimes(T, o.sampleSteps ?? T) : null;
    const S = times ? times.length - 1 : T;
    const trajectory = g.input('trajectory', o.record > 0 ? [S + 1, o.record, dims] : [1]);
    const recordX0 = o.recordX0 ?? 0;
    const x0s = recordX0 > 0 ? g.input('x0s', [S, recordX0, dims]) : undefined;
    const step = { n, dims, T, guidance: guided ? o.guidance : null, record: o.record, clip: o.clip, recordX0 };
    const timesInput = times ? g.input('times', [times.length], 'u32', { constant: true }) : null;
    if (timesInput) ddimPrepare(g, { x, t, schedule, trajectory, times: timesInput }, { ...step, eta: o.eta ?? 0 });
    else samplePrepare(g, { x, t, schedule, trajectory }, step);
    const eps = mnistUNet(g, x, t, y, o.model);
    if (timesInput)
      ddimUpdate(g, { x, t, schedule, trajectory, times: timesInput, x0s }, eps, { ...step, eta: o.eta ?? 0 });
    else sampleUpdate(g, { x, t, schedule, trajectory, x0s }, eps, step);
    const program = await Program.compile(device, g, { seed: o.seed, params: store });
    program.write(schedule, scheduleTable('cosine', T));
    if (timesInput && times) program.write(timesInput, times);
    const netLabels = new Uint32Array(netBatch).fill(MNIST_NO_LABEL);
    netLabels.set(Array.from(o.labels));
    program.write(y, netLabels);
    return new MnistSampler(program, { x, trajectory, x0s }, S, n, !store);
  }

  /** Submits the next `count` reverse steps (one submit). */
  step(count = 1): void {
    if (!Number.isInteger(count) || count < 1 || this.done + count > this.steps)
      throw new Error(`MNIST sampler: ${count} more steps after ${this.done}, of ${this.steps}`);
    this.program.run(count);
    this.done += count;
  }

  /** x_t of images [first, first + count) as they stand (x_0 once every step is done). */
  images(first = 0, count = this.n - first): Promise<Float32Array> {
    const dims = MNIST_SIDE * MNIST_SIDE;
    return this.program.readF32Range(this.tensors.x, first * dims, count * dims);
  }

  /** The predicted x_0 of recorded image `image` at the last step done (recordX0 > image). */
  predictedX0(image = 0): Promise<Float32Array> {
    const x0s = this.tensors.x0s;
    const recorded = x0s ? x0s.shape[1] : 0;
    if (!x0s || this.done === 0 || image >= recorded)
      throw new Error(
        `MNIST sampler: no predicted x_0 of image ${image} (${recorded} recorded, ${this.done} steps done)`,
      );
    const dims = MNIST_SIDE * MNIST_SIDE;
    return this.program.readF32Range(x0s, ((this.done - 1) * recorded + image) * dims, dims);
  }

  destroy(): void {
    this.program.destroy();
    if (this.ownStore) this.program.store.destroy();
  }
}
