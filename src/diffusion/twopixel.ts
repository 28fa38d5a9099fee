// Training and sampling the two-pixel model: graphs built once, the step replayed on the device.
import { Graph, type Tensor } from '../core/graph.js';
import { Program } from '../core/program.js';
import type { ParamStore } from '../core/params.js';
import { regressionLoss, type LossKind } from '../core/ops/loss.js';
import { twoPixelBiasTables, twoPixelUNet, NO_LABEL, type TwoPixelConfig } from '../models/twopixel/unet.js';
import { fusedTwoPixelLoss, fusedTwoPixelSampler, unetGroup } from '../models/twopixel/fused.js';
import { twoPixelJointTable } from '../models/twopixel/table.js';
import { ddimPrepare, ddimTimes, ddimUpdate, twoPixelBatch, samplePrepare, sampleUpdate } from './ops.js';
import { scheduleTable, SCHEDULE_WIDTH } from './tables.js';
import { makeSchedule, type ScheduleKind, type VarianceKind } from './schedule.js';
import { exactEps, gammaProbe } from './oracle.js';
import type { Mixture } from '../data/mixture.js';

/**
 * Probability of dropping the label to "no label" in training, the one default every trainer and
 * runner uses. Sweep-T samples the unconditional model, which only the dropped labels train: at
 * SPEC's "about 0.1" it put too much mass on the 0.35 mode at T = 50, at 0.2 still 0.037 too much
 * at T = 25 and 0.019-0.031 at T = 10 against the exact-score sampler; 0.5 brought T = 25 to 0.015
 * (README, 2026-12-02).
 */
export const P_UNCOND = 0.5;

export interface TwoPixelTrainOptions {
  model: TwoPixelConfig;
  schedule: ScheduleKind;
  batch: number;
  lr: number;
  /** Cosine learning-rate decay to 0 over this many steps (0: constant). */
  decaySteps: number;
  /** Linear learning-rate warm-up over this many steps (0: none). */
  warmupSteps: number;
  /** Decay of the parameters' moving average that sampling uses (0: sample the raw parameters). */
  ema: number;
  /** The EMA warm-up: the decay at step k is min(ema, (1 + k) / (10 + k)). */
  emaWarmup: boolean;
  loss: LossKind;
  /** Huber's threshold (loss 'huber'; default 1). */
  huberDelta?: number;
  /** Probability of dropping the label to "none" (classifier-free guidance). */
  pUncond: number;
  seed: number;
  /** The fused per-sample kernel (default) or the op-by-op graph it is tested against. */
  fused: boolean;
  /** The training data: SPEC section 1's two peaks (absent), or up to four (the browser demo's). */
  mixture?: Mixture;
}

export const defaultTrainOptions = (model: TwoPixelConfig, seed = 0): TwoPixelTrainOptions => ({
  model,
  schedule: 'cosine',
  batch: 1024,
  lr: 1e-3,
  decaySteps: 0,
  warmupSteps: 0,
  ema: 0,
  emaWarmup: false,
  loss: 'mse',
  pUncond: P_UNCOND,
  seed,
  fused: true,
});

/** The training graph: the batch drawn on the device, the network, the loss. */
export function buildTrainingGraph(o: TwoPixelTrainOptions, history: number) {
  const T = o.model.T;
  const g = new Graph(o.fused ? 'two-pixel training (fused)' : 'two-pixel training');
  const schedule = g.input('schedule', [T + 1, SCHEDULE_WIDTH], 'f32', { constant: true });
  let loss: Tensor;
  let feeds: [Tensor, ArrayLike<number>][];
  if (o.fused) {
    const joint = twoPixelJointTable(g, o.model);
    loss = fusedTwoPixelLoss(g, joint.table, schedule, unetGroup(g), {
      batch: o.batch,
      T,
      pUncond: o.pUncond,
      loss: o.loss,
      delta: o.huberDelta,
      history,
      mixture: o.mixture,
    });
    feeds = joint.feeds;
  } else {
    const tables = twoPixelBiasTables(g, o.model);
    const batch = twoPixelBatch(g, o.batch, T, schedule, o.pUncond, o.mixture);
    const pred = twoPixelUNet(g, batch.x, batch.t, batch.y, tables);
    loss = regressionLoss(g, pred, batch.eps, o.loss, { history, delta: o.huberDelta });
    feeds = tables.feeds;
  }
  return {
    g,
    loss,
    schedule,
    feeds: [...feeds, [schedule, scheduleTable(o.schedule, T)]] as [Tensor, ArrayLike<number>][],
  };
}

/** Losses come back from the device every CHUNK steps (the loss history's length). */
export const CHUNK = 100;

export class TwoPixelTrainer {
  private constructor(
    readonly program: Program,
    readonly loss: Tensor,
  ) {}

  /** A trainer around any compiled training program whose loss keeps a CHUNK-step history. */
  static wrap(program: Program, loss: Tensor): TwoPixelTrainer {
    return new TwoPixelTrainer(program, loss);
  }

  static async create(device: GPUDevice, o: TwoPixelTrainOptions): Promise<TwoPixelTrainer> {
    const { g, loss, feeds } = buildTrainingGraph(o, CHUNK);
    const program = await Program.compile(device, g, {
      seed: o.seed,
      train: {
        loss,
        adam: { lr: o.lr, decaySteps: o.decaySteps, warmupSteps: o.warmupSteps, ema: o.ema, emaWarmup: o.emaWarmup },
      },
    });
    for (const [t, v] of feeds) program.write(t, v);
    return new TwoPixelTrainer(program, loss);
  }

  /**
   * Trains `steps` steps, CHUNK per submit; reads the losses of each chunk and stops with an error
   * naming the step at the first non-finite one. `onChunk` gets the step reached and the chunk's losses.
   */
  async train(
    steps: number,
    onChunk: (step: number, losses: Float32Array) => void | Promise<void> = () => {},
  ): Promise<void> {
    if (!Number.isInteger(steps) || steps < 0) throw new Error(`training steps ${steps} is not a non-negative integer`);
    let step = await this.program.step();
    const end = step + steps;
    while (step < end) {
      const n = Math.min(CHUNK, end - step);
      this.program.run(n);
      const history = await this.program.readF32(this.loss);
      const losses = new Float32Array(n);
      for (let i = 0; i < n; i++) losses[i] = history[(step + i) % CHUNK];
      const bad = losses.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`training diverged: loss is ${losses[bad]} at step ${step + bad + 1}`);
      step += n;
      await onChunk(step, losses);
    }
  }

  destroy(): void {
    this.program.destroy();
    this.program.store.destroy();
  }
}

export interface SampleOptions {
  model: TwoPixelConfig;
  schedule: ScheduleKind;
  n: number;
  /** Per-sample labels (0, 1), one label for all, or null for the unconditional model ("no label"). */
  labels: number | ArrayLike<number> | null;
  /** Classifier-free guidance strength w (needs labels); null or 0 without guidance. */
  guidance: number | null;
  seed: number;
  /** How many samples have every step recorded. */
  record: number;
  /** Clip the predicted x_0 to [-clip, clip] in each step (0 or absent: the plain DDPM update). */
  clip?: number;
  /** sigma_t^2 = beta_t (default here), the posterior variance betatilde_t, or 'analytic' (needs gamma). */
  variance?: VarianceKind;
  /** The model's Gamma table for the analytic variance (estimateGamma). */
  gamma?: ArrayLike<number>;
  /** DDPM over all T steps (default), or DDIM over `sampleSteps` of them with noise `eta` (variance is DDIM's own). */
  sampler?: 'ddpm' | 'ddim';
  sampleSteps?: number;
  /** DDIM's noise: 0 deterministic (default), 1 the DDPM posterior's. */
  eta?: number;
  /**
   * Where the recorded trajectory goes on the device (e.g. a TrajectoryDensity's target): copied
   * there, not read back, and the result's trajectory is empty. Its size must be the trajectory's.
   */
  trajectoryTo?: GPUBufferBinding;
}

export interface SampleResult {
  /** x_0 of every sample, interleaved [n, 2]. */
  samples: Float32Array;
  /** [S + 1, record, 2]: row s holds x at t = times[s] (S = T for DDPM: x_{T-s}). */
  trajectory: Float32Array;
  /** The steps the rows visit, T down to 0. */
  times: Uint32Array;
}

/** The steps a sampler visits: every t for DDPM, ddimTimes for DDIM. */
export function visitedTimes(o: Pick<SampleOptions, 'model' | 'sampler' | 'sampleSteps'>): Uint32Array {
  const T = o.model.T;
  return o.sampler === 'ddim' ? ddimTimes(T, o.sampleSteps ?? T) : Uint32Array.from({ length: T + 1 }, (_, s) => T - s);
}

/**
 * The recorded trajectory: read back, or copied on the device to o.trajectoryTo (submitted before
 * the samples are read, so done before the program is destroyed) and empty here.
 */
async function takeTrajectory(
  device: GPUDevice,
  program: Program,
  trajectory: Tensor,
  o: SampleOptions,
): Promise<Float32Array> {
  if (o.record === 0) {
    if (o.trajectoryTo) throw new Error('trajectoryTo: no trajectory is recorded (record is 0)');
    return new Float32Array(0);
  }
  const to = o.trajectoryTo;
  if (!to) return program.readF32(trajectory);
  const bytes = trajectory.size * 4;
  if (to.size !== undefined && to.size !== bytes)
    throw new Error(`trajectoryTo holds ${to.size} bytes, the trajectory ${trajectory} ${bytes}`);
  const from = program.binding(trajectory);
  const encoder = device.createCommandEncoder({ label: 'trajectory to the device' });
  encoder.copyBufferToBuffer(from.buffer, from.offset ?? 0, to.buffer, to.offset ?? 0, bytes);
  device.queue.submit([encoder.finish()]);
  return new Float32Array(0);
}

function labelArray(labels: SampleOptions['labels'], n: number): Uint32Array {
  if (labels === null) return new Uint32Array(n).fill(NO_LABEL);
  const out = typeof labels === 'number' ? new Uint32Array(n).fill(labels) : Uint32Array.from(labels);
  if (out.length !== n) throw new Error(`got ${out.length} labels for ${n} samples`);
  const bad = out.findIndex((v) => v > NO_LABEL);
  if (bad >= 0) throw new Error(`label ${out[bad]} at sample ${bad} is not 0, 1 or ${NO_LABEL} (none)`);
  return out;
}

/** The op-by-op DDPM sampler (the reference the fused sampler is tested against). */
export async function sampleOpByOp(device: GPUDevice, store: ParamStore, o: SampleOptions): Promise<SampleResult> {
  const T = o.model.T;
  const guided = o.guidance !== null && o.guidance !== 0;
  if (guided && o.labels === null) throw new Error('classifier-free guidance needs labels');
  const labels = labelArray(o.labels, o.n);
  const netBatch = guided ? 2 * o.n : o.n;
  const g = new Graph('two-pixel sampler');
  const x = g.input('x', [netBatch, 1, 2]);
  const t = g.input('t', [netBatch], 'u32');
  const y = g.input('y', [netBatch], 'u32');
  const schedule = g.input('schedule', [T + 1, SCHEDULE_WIDTH], 'f32', { constant: true });
  const times = visitedTimes(o);
  const S = times.length - 1;
  const trajectory = g.input('trajectory', o.record > 0 ? [S + 1, o.record, 2] : [1]);
  const step = { n: o.n, dims: 2, T, guidance: guided ? o.guidance : null, record: o.record, clip: o.clip };
  const tensors = { x, t, schedule, trajectory };
  const tables = twoPixelBiasTables(g, o.model);
  // DDIM's steps and noise (the same kernels as MNIST's sampler), else DDPM's.
  const ddim = o.sampler === 'ddim' ? { ...step, eta: o.eta ?? 0 } : null;
  const timesInput = ddim ? g.input('times', [S + 1], 'u32', { constant: true }) : null;
  if (ddim && timesInput) ddimPrepare(g, { ...tensors, times: timesInput }, ddim);
  else samplePrepare(g, tensors, step);
  const eps = twoPixelUNet(g, x, t, y, tables);
  if (ddim && timesInput) ddimUpdate(g, { ...tensors, times: timesInput }, eps, ddim);
  else sampleUpdate(g, tensors, eps, step);
  const program = await Program.compile(device, g, { seed: o.seed, params: store });
  try {
    program.write(schedule, scheduleTable(o.schedule, T, o.variance ?? 'beta', o.gamma));
    if (timesInput) program.write(timesInput, times);
    for (const [tensor, v] of tables.feeds) program.write(tensor, v);
    const netLabels = new Uint32Array(netBatch).fill(NO_LABEL);
    netLabels.set(labels);
    program.write(y, netLabels);
    program.run(S);
    const kept = await takeTrajectory(device, program, trajectory, o);
    const all = await program.readF32(x);
    return { samples: all.slice(0, o.n * 2), trajectory: kept, times };
  } finally {
    program.destroy();
  }
}

/**
 * The fused sampler: every trajectory in one dispatch (the same draws as sampleOpByOp). It runs
 * DDPM; DDIM goes through sampleOpByOp's graph.
 */
export async function sampleFused(device: GPUDevice, store: ParamStore, o: SampleOptions): Promise<SampleResult> {
  if (o.sampler === 'ddim') return sampleOpByOp(device, store, o);
  const T = o.model.T;
  const guided = o.guidance !== null && o.guidance !== 0;
  if (guided && o.labels === null) throw new Error('classifier-free guidance needs labels');
  const g = new Graph('two-pixel fused sampler');
  const schedule = g.input('schedule', [T + 1, SCHEDULE_WIDTH], 'f32', { constant: true });
  const labels = g.input('labels', [o.n], 'u32');
  const joint = twoPixelJointTable(g, o.model);
  const out = fusedTwoPixelSampler(g, joint.table, schedule, labels, unetGroup(g), {
    n: o.n,
    T,
    guidance: guided ? o.guidance : null,
    record: o.record,
    clip: o.clip,
  });
  const program = await Program.compile(device, g, {
    seed: o.seed,
    params: store,
    keep: [out.samples, out.trajectory],
  });
  try {
    program.write(schedule, scheduleTable(o.schedule, T, o.variance ?? 'beta', o.gamma));
    for (const [t, v] of joint.feeds) program.write(t, v);
    program.write(labels, labelArray(o.labels, o.n));
    program.run(1);
    const trajectory = await takeTrajectory(device, program, out.trajectory, o);
    return { samples: await program.readF32(out.samples), trajectory, times: visitedTimes(o) };
  } finally {
    program.destroy();
  }
}

/**
 * The unconditional model's eps_theta(x_t, t, none) on the probe points of `gammaProbe` (n noised
 * mixture samples, the same x_0 and noise at every t), t = 1..T: `visit(t, x_t, eps)` sees each t.
 * One forward pass per t.
 */
async function probeModel(
  device: GPUDevice,
  store: ParamStore,
  o: { model: TwoPixelConfig; schedule: ScheduleKind; n: number; seed: number },
  visit: (t: number, xt: Float32Array, eps: Float32Array) => void,
): Promise<void> {
  const T = o.model.T;
  const g = new Graph('two-pixel probe');
  const x = g.input('x', [o.n, 1, 2]);
  const t = g.input('t', [o.n], 'u32');
  const y = g.input('y', [o.n], 'u32');
  const tables = twoPixelBiasTables(g, o.model);
  const eps = twoPixelUNet(g, x, t, y, tables);
  const program = await Program.compile(device, g, { seed: o.seed, params: store, keep: [eps] });
  try {
    for (const [tensor, v] of tables.feeds) program.write(tensor, v);
    program.write(y, new Uint32Array(o.n).fill(NO_LABEL));
    const probe = gammaProbe(makeSchedule(o.schedule, T), o.n, o.seed);
    for (let step = 1; step <= T; step++) {
      const xt = probe(step);
      program.write(x, xt);
      program.write(t, new Uint32Array(o.n).fill(step));
      program.run(1);
      visit(step, xt, await program.readF32(eps));
    }
  } finally {
    program.destroy();
  }
}

/**
 * The model's Gamma_t = E ||eps_theta(x_t, t, none)||^2 / 2 over the noised mixture, t = 0..T, from
 * n points (gammaProbe): what the analytic variance (analyticVariance) needs. One forward pass per t.
 */
export async function estimateGamma(
  device: GPUDevice,
  store: ParamStore,
  o: { model: TwoPixelConfig; schedule: ScheduleKind; n: number; seed: number },
): Promise<Float64Array> {
  const gamma = new Float64Array(o.model.T + 1);
  await probeModel(device, store, o, (step, _xt, e) => {
    let sum = 0;
    for (const v of e) sum += v * v;
    gamma[step] = sum / (2 * o.n);
  });
  return gamma;
}

/**
 * The Gamma table whose analytic variance is the optimal one for the model as it is:
 * Gamma_t = reference_t - err_t^2, with `reference` the exact eps*'s table (referenceGamma) and
 * err_t the model's RMS error per coordinate against eps* on the n probe points (epsErrorByT).
 * The reverse step's best isotropic variance around the model's mean is betatilde_t +
 * beta_t^2 / (alpha_t (1 - alphabar_t)) E ||eps - eps_theta(x_t)||^2 / d, and since eps* is
 * E[eps | x_t], E ||eps - eps_theta||^2 / d = (1 - Gamma*_t) + err_t^2. Analytic-DPM's
 * E ||eps_theta||^2 / d (estimateGamma) equals it only for an exact model: its error is first order
 * in the model's, e.g. a Huber-trained eps slightly too long at t = 1-2 of T = 5-10 raised Gamma by
 * 0.02-0.03 and left its samples too narrow (README, 2026-12-02). A model equal to eps* gets
 * `reference` itself, the exact-score sampler's table, so the two samplers differ by the model only.
 * The table is a property of the model alone: 1 - E ||eps - eps_theta(x_t)||^2 / d is the model's
 * own per-t denoising error on data, which needs no exact score; the exact score enters only as
 * a control variate, so that 2048 probe points give it to well under 0.01 at small t.
 */
export async function residualGamma(
  device: GPUDevice,
  store: ParamStore,
  o: { model: TwoPixelConfig; schedule: ScheduleKind; n: number; seed: number },
  reference: ArrayLike<number>,
): Promise<Float64Array> {
  const T = o.model.T;
  if (reference.length !== T + 1)
    throw new Error(`reference Gamma table has ${reference.length} entries, expected T + 1 = ${T + 1}`);
  const err = await epsErrorByT(device, store, o);
  return Float64Array.from(err, (e, t) => (t === 0 ? 0 : reference[t] - e * e));
}

/**
 * The learning error at each step: the root mean square, per coordinate, of eps_theta(x_t, t, none)
 * - eps*(x_t, t) over n noised mixture points (gammaProbe), where eps* is the mixture's exact noise
 * predictor on the same x_t. Entry t for t = 1..T (entry 0 is 0). A perfect model gives 0; a model
 * that ignores x_t or t errs by up to about 1.
 */
export async function epsErrorByT(
  device: GPUDevice,
  store: ParamStore,
  o: { model: TwoPixelConfig; schedule: ScheduleKind; n: number; seed: number },
): Promise<Float64Array> {
  const s = makeSchedule(o.schedule, o.model.T);
  const err = new Float64Array(o.model.T + 1);
  await probeModel(device, store, o, (step, xt, e) => {
    let sum = 0;
    for (let i = 0; i < o.n; i++) {
      const [ex, ey] = exactEps(xt[2 * i], xt[2 * i + 1], s.alphasCumprod[step]);
      sum += (e[2 * i] - ex) ** 2 + (e[2 * i + 1] - ey) ** 2;
    }
    err[step] = Math.sqrt(sum / (2 * o.n));
  });
  return err;
}
