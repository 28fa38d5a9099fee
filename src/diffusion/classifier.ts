// Classifier guidance: training p_phi(y | x_t, t) on noised two-pixel samples, and the DDPM
// sampler that adds its input gradient to the unconditional noise prediction. The gradient is
// the graph's backward pass taken to the input, not to the weights.
import { Graph } from '../core/graph.js';
import { Program } from '../core/program.js';
import type { ParamStore } from '../core/params.js';
import { crossEntropy } from '../core/ops/loss.js';
import { reshape } from '../core/ops/elementwise.js';
import { twoPixelClassifier } from '../nn/classifier.js';
import { twoPixelBiasTables, twoPixelUNet, NO_LABEL, type TwoPixelConfig } from '../models/twopixel/unet.js';
import { twoPixelBatch, samplePrepare, sampleUpdateClassifier } from './ops.js';
import { scheduleTable, SCHEDULE_WIDTH } from './tables.js';
import { CHUNK, TwoPixelTrainer, type SampleResult } from './twopixel.js';
import type { VarianceKind } from './schedule.js';

export interface ClassifierTrainOptions {
  T: number;
  batch: number;
  lr: number;
  steps: number;
  seed: number;
}

/** A trainer whose loss is the classifier's cross-entropy on a fresh noised batch each step. */
export async function createClassifierTrainer(device: GPUDevice, o: ClassifierTrainOptions): Promise<TwoPixelTrainer> {
  const g = new Graph('two-pixel classifier training');
  const schedule = g.input('schedule', [o.T + 1, SCHEDULE_WIDTH], 'f32', { constant: true });
  const batch = twoPixelBatch(g, o.batch, o.T, schedule, 0);
  const logits = twoPixelClassifier(g, reshape(g, batch.x, [o.batch, 2], 'clf.x'), batch.t, o.T);
  const loss = crossEntropy(g, logits, batch.y, { history: CHUNK });
  const program = await Program.compile(device, g, {
    seed: o.seed,
    train: { loss, adam: { lr: o.lr, decaySteps: o.steps } },
  });
  program.write(schedule, scheduleTable('cosine', o.T));
  return TwoPixelTrainer.wrap(program, loss);
}

/** Copies every parameter of `from` that `to` also has (by name) on the device. */
export function copyParams(device: GPUDevice, from: ParamStore, to: ParamStore): void {
  const encoder = device.createCommandEncoder();
  for (const s of from.slots) {
    const d = to.slots.find((x) => x.name === s.name);
    if (d) encoder.copyBufferToBuffer(from.params, s.offset * 4, to.params, d.offset * 4, s.size * 4);
  }
  device.queue.submit([encoder.finish()]);
}

export interface ClassifierGuidedOptions {
  model: TwoPixelConfig;
  n: number;
  /** The class each sample is guided toward. */
  labels: number | ArrayLike<number>;
  /** Guidance scale s. */
  scale: number;
  seed: number;
  record: number;
  variance?: VarianceKind;
  /** The unconditional model's Gamma table, for the analytic variance. */
  gamma?: ArrayLike<number>;
  /** Clip the predicted x_0 to [-clip, clip] in each step (0 or absent: the plain DDPM update). */
  clip?: number;
}

/** The unconditional model steered by the classifier's gradient (op-by-op: one replay per step). */
export async function sampleClassifierGuided(
  device: GPUDevice,
  unet: ParamStore,
  classifier: ParamStore,
  o: ClassifierGuidedOptions,
): Promise<SampleResult> {
  const T = o.model.T;
  const target = typeof o.labels === 'number' ? new Uint32Array(o.n).fill(o.labels) : Uint32Array.from(o.labels);
  if (target.length !== o.n || target.some((v) => v > 1))
    throw new Error(`classifier guidance needs ${o.n} labels in {0, 1}`);
  const g = new Graph('two-pixel classifier-guided sampler');
  const x = g.input('x', [o.n, 1, 2], 'f32', { requiresGrad: true });
  const t = g.input('t', [o.n], 'u32');
  const y = g.input('y', [o.n], 'u32', { constant: true });
  const want = g.input('target', [o.n], 'u32', { constant: true });
  const schedule = g.input('schedule', [T + 1, SCHEDULE_WIDTH], 'f32', { constant: true });
  const trajectory = g.input('trajectory', o.record > 0 ? [T + 1, o.record, 2] : [1]);
  const tensors = { x, t, schedule, trajectory };
  const step = { n: o.n, dims: 2, T, guidance: null, record: o.record, clip: o.clip };
  samplePrepare(g, tensors, step);
  const tables = twoPixelBiasTables(g, o.model);
  const eps = twoPixelUNet(g, x, t, y, tables);
  const ce = crossEntropy(g, twoPixelClassifier(g, reshape(g, x, [o.n, 2], 'clf.x'), t, T), want);
  sampleUpdateClassifier(g, tensors, eps, { ...step, scale: o.scale });
  const program = await Program.compile(device, g, { seed: o.seed, gradientsOf: ce });
  try {
    copyParams(device, unet, program.store);
    copyParams(device, classifier, program.store);
    program.write(schedule, scheduleTable('cosine', T, o.variance ?? 'beta', o.gamma));
    for (const [tensor, v] of tables.feeds) program.write(tensor, v);
    program.write(y, new Uint32Array(o.n).fill(NO_LABEL));
    program.write(want, target);
    program.run(T);
    return {
      samples: await program.readF32(x),
      trajectory: o.record > 0 ? await program.readF32(trajectory) : new Float32Array(0),
      times: Uint32Array.from({ length: T + 1 }, (_, s) => T - s),
    };
  } finally {
    program.destroy();
    program.store.destroy();
  }
}
