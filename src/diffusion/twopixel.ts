// Training and sampling the two-pixel model: graphs built once, the step replayed on the device.
import { Graph, type Tensor } from '../core/graph.js';
import { Program } from '../core/program.js';
import type { ParamStore } from '../core/params.js';
import { regressionLoss, type LossKind } from '../core/ops/loss.js';
import { twoPixelBiasTables, twoPixelUNet, NO_LABEL, type TwoPixelConfig } from '../models/twopixel/unet.js';
import { fusedTwoPixelLoss, fusedTwoPixelSampler, unetGroup } from '../models/twopixel/fused.js';
import { twoPixelJointTable } from '../models/twopixel/table.js';
import { twoPixelBatch, samplePrepare, sampleUpdate } from './ops.js';
import { scheduleTable, SCHEDULE_WIDTH } from './tables.js';
import { makeSchedule, type ScheduleKind, type VarianceKind } from './schedule.js';
import { gammaProbe } from './oracle.js';

export interface TwoPixelTrainOptions {
  model: TwoPixelConfig;
  schedule: ScheduleKind;
  batch: number;
  lr: number;
  /** Cosine learning-rate decay to 0 over this many steps (0: constant). */
  decaySteps: number;
  /** Decay of the parameters' moving average that sampling uses (0: sample the raw parameters). */
  ema: number;
  loss: LossKind;
  /** Probability of dropping the label to "none" (classifier-free guidance). */
  pUncond: number;
  seed: number;
  /** The fused per-sample kernel (default) or the op-by-op graph it is tested against. */
  fused: boolean;
}

export const defaultTrainOptions = (model: TwoPixelConfig, seed = 0): TwoPixelTrainOptions => ({
  model,
  schedule: 'cosine',
  batch: 1024,
  lr: 1e-3,
  decaySteps: 0,
  ema: 0,
  loss: 'mse',
  pUncond: 0.1,
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
      history,
    });
    feeds = joint.feeds;
  } else {
    const tables = twoPixelBiasTables(g, o.model);
    const batch = twoPixelBatch(g, o.batch, T, schedule, o.pUncond);
    const pred = twoPixelUNet(g, batch.x, batch.t, batch.y, tables);
    loss = regressionLoss(g, pred, batch.eps, o.loss, { history });
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
      train: { loss, adam: { lr: o.lr, decaySteps: o.decaySteps, ema: o.ema } },
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
}

export interface SampleResult {
  /** x_0 of every sample, interleaved [n, 2]. */
  samples: Float32Array;
  /** [T + 1, record, 2]: row s holds x_{T-s}. */
  trajectory: Float32Array;
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
  const trajectory = g.input('trajectory', o.record > 0 ? [T + 1, o.record, 2] : [1]);
  const step = { n: o.n, dims: 2, T, guidance: guided ? o.guidance : null, record: o.record, clip: o.clip };
  const tensors = { x, t, schedule, trajectory };
  const tables = twoPixelBiasTables(g, o.model);
  samplePrepare(g, tensors, step);
  const eps = twoPixelUNet(g, x, t, y, tables);
  sampleUpdate(g, tensors, eps, step);
  const program = await Program.compile(device, g, { seed: o.seed, params: store });
  try {
    program.write(schedule, scheduleTable(o.schedule, T, o.variance ?? 'beta', o.gamma));
    for (const [tensor, v] of tables.feeds) program.write(tensor, v);
    const netLabels = new Uint32Array(netBatch).fill(NO_LABEL);
    netLabels.set(labels);
    program.write(y, netLabels);
    program.run(T);
    const all = await program.readF32(x);
    return {
      samples: all.slice(0, o.n * 2),
      trajectory: o.record > 0 ? await program.readF32(trajectory) : new Float32Array(0),
    };
  } finally {
    program.destroy();
  }
}

/** The fused sampler: every trajectory in one dispatch (the same draws as sampleOpByOp). */
export async function sampleFused(device: GPUDevice, store: ParamStore, o: SampleOptions): Promise<SampleResult> {
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
    return {
      samples: await program.readF32(out.samples),
      trajectory: o.record > 0 ? await program.readF32(out.trajectory) : new Float32Array(0),
    };
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
  const T = o.model.T;
  const g = new Graph('two-pixel Gamma table');
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
    const gamma = new Float64Array(T + 1);
    for (let step = 1; step <= T; step++) {
      program.write(x, probe(step));
      program.write(t, new Uint32Array(o.n).fill(step));
      program.run(1);
      const e = await program.readF32(eps);
      let sum = 0;
      for (const v of e) sum += v * v;
      gamma[step] = sum / (2 * o.n);
    }
    return gamma;
  } finally {
    program.destroy();
  }
}
