// Trained two-pixel models for the runners: train with the study's settings, or reuse the
// checkpoint in the output folder when its settings match (--retrain forces training).
import { existsSync, rmSync } from 'node:fs';
import { ensureFolder } from '../io/folders.js';
import { join } from 'node:path';
import type { ParamStore } from '../core/params.js';
import { CHECKPOINT_FORMAT, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { loadSafetensors, metadataMismatch, type Safetensors } from '../io/safetensors.js';
import type { Program } from '../core/program.js';
import { Progress } from '../cli/progress.js';
import { TwoPixelTrainer, defaultTrainOptions, type TwoPixelTrainOptions } from '../diffusion/twopixel.js';
import { defaultTwoPixelConfig, type TwoPixelConfig } from '../models/twopixel/unet.js';
import { createClassifierTrainer } from '../diffusion/classifier.js';
import type { LossKind } from '../core/ops/loss.js';

export interface StudySettings {
  T: number;
  steps: number;
  batch: number;
  lr: number;
  ema: number;
  emaWarmup: boolean;
  warmupSteps: number;
  fourierScale: number;
  loss: LossKind;
  /** Huber's threshold (loss 'huber'). */
  huberDelta: number;
  pUncond: number;
  seed: number;
}

/** The settings a checkpoint must carry to be reused (everything that changes the weights). */
export function checkpointSettings(s: StudySettings): Record<string, string> {
  return {
    model: 'two-pixel-unet',
    T: String(s.T),
    embed: '256',
    fourier_scale: String(s.fourierScale),
    schedule: 'cosine',
    steps: String(s.steps),
    batch: String(s.batch),
    lr: String(s.lr),
    lr_decay: 'cosine',
    warmup: String(s.warmupSteps),
    ema: String(s.ema),
    ema_warmup: String(s.emaWarmup),
    loss: s.loss,
    // written only where it differs from 1, so checkpoints from before the flag still match
    ...(s.loss === 'huber' && s.huberDelta !== 1 ? { huber_delta: String(s.huberDelta) } : {}),
    p_uncond: String(s.pUncond),
    seed: String(s.seed),
  };
}

/** The network a study model of these settings has. */
export const modelConfig = (s: StudySettings): TwoPixelConfig => ({
  ...defaultTwoPixelConfig(s.T),
  fourierScale: s.fourierScale,
});

export function trainOptions(s: StudySettings): TwoPixelTrainOptions {
  return {
    ...defaultTrainOptions(modelConfig(s), s.seed),
    batch: s.batch,
    lr: s.lr,
    decaySteps: s.steps,
    warmupSteps: s.warmupSteps,
    ema: s.ema,
    emaWarmup: s.emaWarmup,
    loss: s.loss,
    huberDelta: s.huberDelta,
    pUncond: s.pUncond,
  };
}

/** The first setting on which a checkpoint differs from `expected`, in words, or null when all match. */
export function settingsMismatch(file: Safetensors, expected: Record<string, string>): string | null {
  const m = metadataMismatch(file, expected);
  return m && `${m.key} ${m.got === undefined ? 'missing' : JSON.stringify(m.got)}, wanted ${JSON.stringify(m.want)}`;
}

/**
 * Loads `path` into `program` when it exists and --retrain was not given; returns whether it did.
 * A damaged file stops here (loadSafetensors throws), and so does one of other settings: nothing
 * is overwritten without --retrain.
 */
function reuseCheckpoint(
  path: string,
  program: Program,
  settings: Record<string, string>,
  what: string,
  retrain: boolean,
): boolean {
  if (!existsSync(path) || retrain) return false;
  const mismatch = settingsMismatch(loadSafetensors(path), { format: CHECKPOINT_FORMAT, ...settings });
  if (mismatch) {
    throw new Error(
      `${path} holds a ${what} trained with other settings (${mismatch}); pass --retrain to replace it, or --models to use another folder`,
    );
  }
  loadCheckpoint(path, program, settings);
  process.stderr.write(`${what}: reusing ${path}\n`);
  return true;
}

export interface ObtainedModel {
  /** Parameters to sample with (the moving average when ema > 0). */
  store: ParamStore;
  path: string;
  trained: boolean;
  trainSeconds: number;
  finalLoss: number;
  release(): void;
}

/**
 * The model for `s`: loaded from `dir/model-T{T}.safetensors` when that file exists (its
 * settings must match), else trained (with a progress bar) and saved there atomically. Training
 * writes `model-T{T}.progress.safetensors` every `checkpointEvery` steps and resumes from it
 * exactly after an interruption. A checkpoint that cannot be read or holds another model stops
 * with an error: nothing is overwritten without --retrain.
 */
export async function obtainModel(
  device: GPUDevice,
  s: StudySettings,
  dir: string,
  retrain: boolean,
  checkpointEvery = 1000,
): Promise<ObtainedModel> {
  const trainer = await TwoPixelTrainer.create(device, trainOptions(s));
  return obtainTrained(trainer, {
    dir,
    name: `model-T${s.T}`,
    label: `T=${s.T}`,
    settings: checkpointSettings(s),
    steps: s.steps,
    weights: s.ema > 0 ? 'ema' : 'params',
    retrain,
    checkpointEvery,
  });
}

export interface TrainingPlan {
  /** The checkpoint is dir/name.safetensors, its progress file dir/name.progress.safetensors. */
  dir: string;
  name: string;
  /** Names the model in progress lines and messages. */
  label: string;
  settings: Record<string, string>;
  steps: number;
  /** The weights sampling uses: the raw parameters or their moving average. */
  weights: 'params' | 'ema';
  retrain: boolean;
  checkpointEvery: number;
}

/**
 * A trained model from `trainer` (destroyed at the end): the checkpoint reused when its settings
 * match, else training from the progress checkpoint (or from the start), saved atomically. A
 * failure (a non-finite loss, a lost device) names the last good checkpoint.
 */
export async function obtainTrained(trainer: TwoPixelTrainer, plan: TrainingPlan): Promise<ObtainedModel> {
  ensureFolder(plan.dir, '--models');
  const path = join(plan.dir, `${plan.name}.safetensors`);
  const progress = join(plan.dir, `${plan.name}.progress.safetensors`);
  const { settings } = plan;
  const expected = { format: CHECKPOINT_FORMAT, ...settings };
  const program = trainer.program;
  let trained = false;
  let trainSeconds = 0;
  let finalLoss = NaN;
  let lastSaved = '';
  try {
    if (!reuseCheckpoint(path, program, settings, `model ${plan.label}`, plan.retrain)) {
      let start = 0;
      if (existsSync(progress) && !plan.retrain && !settingsMismatch(loadSafetensors(progress), expected)) {
        start = loadCheckpoint(progress, program, settings, true);
        lastSaved = `${progress} (step ${start})`;
        process.stderr.write(`${plan.label}: resuming from ${lastSaved}\n`);
      }
      const bar = new Progress(`train ${plan.label.padEnd(4)}`, plan.steps);
      const t0 = performance.now();
      await trainer.train(Math.max(0, plan.steps - start), async (step, losses) => {
        finalLoss = losses.reduce((a, b) => a + b, 0) / losses.length;
        bar.update(step, `loss ${finalLoss.toFixed(4)}`);
        if (plan.checkpointEvery > 0 && step % plan.checkpointEvery === 0 && step < plan.steps) {
          await saveCheckpoint(progress, program, settings, 'params');
          lastSaved = `${progress} (step ${step})`;
        }
      });
      trainSeconds = (performance.now() - t0) / 1000;
      await saveCheckpoint(path, program, settings, plan.weights);
      rmSync(progress, { force: true });
      trained = true;
    }
    // After a load the parameters are the checkpoint's sampling weights.
    const store = program.store.clone(trained ? plan.weights : 'params');
    return { store, path, trained, trainSeconds, finalLoss, release: () => store.destroy() };
  } catch (err) {
    const where = lastSaved ? `; the last good checkpoint is ${lastSaved}` : '';
    throw new Error(`${(err as Error).message}${where}`);
  } finally {
    trainer.destroy();
  }
}

/**
 * The classifier p_phi(y | x_t, t) for classifier guidance, from `dir/classifier-T{T}.safetensors`
 * or trained (cross-entropy on noised mixture samples) and saved there. Same rules as obtainModel.
 */
export async function obtainClassifier(
  device: GPUDevice,
  T: number,
  steps: number,
  seed: number,
  dir: string,
  retrain: boolean,
): Promise<ObtainedModel> {
  ensureFolder(dir, '--models');
  const path = join(dir, `classifier-T${T}.safetensors`);
  const settings = {
    model: 'two-pixel-classifier',
    T: String(T),
    steps: String(steps),
    batch: '1024',
    lr: '0.003',
    seed: String(seed),
  };
  const trainer = await createClassifierTrainer(device, { T, batch: 1024, lr: 3e-3, steps, seed });
  const program = trainer.program;
  try {
    let trained = false;
    let trainSeconds = 0;
    let finalLoss = NaN;
    if (!reuseCheckpoint(path, program, settings, `classifier T=${T}`, retrain)) {
      const bar = new Progress(`classifier T=${T}`, steps);
      const t0 = performance.now();
      await trainer.train(steps, (step, losses) => {
        finalLoss = losses.reduce((a, b) => a + b, 0) / losses.length;
        bar.update(step, `cross-entropy ${finalLoss.toFixed(4)}`);
      });
      trainSeconds = (performance.now() - t0) / 1000;
      await saveCheckpoint(path, program, settings);
      trained = true;
    }
    const store = program.store.clone('params');
    return { store, path, trained, trainSeconds, finalLoss, release: () => store.destroy() };
  } finally {
    trainer.destroy();
  }
}
