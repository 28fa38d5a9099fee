// Flags shared by the two-pixel runners: how a model is trained and how it is sampled.
import type { FlagSpec } from '../cli/flags.js';
import type { StudySettings } from './models.js';
import type { LossKind } from '../core/ops/loss.js';
import type { VarianceKind } from '../diffusion/schedule.js';
import type { ParamStore } from '../core/params.js';
import { residualGamma, P_UNCOND } from '../diffusion/twopixel.js';
import { referenceGamma } from '../diffusion/oracle.js';
import { makeSchedule } from '../diffusion/schedule.js';
import { defaultTwoPixelConfig } from '../models/twopixel/unet.js';
import { TWO_PIXEL } from '../models/twopixel/spec.js';

/**
 * Noised data points on which the model's error against the exact eps is measured for its Gamma
 * table (residualGamma: the exact score's table less the model's squared error).
 */
const GAMMA_POINTS = 2048;

export const STUDY_FLAGS = {
  steps: {
    type: 'int',
    default: 0,
    min: 0,
    max: 10_000_000,
    help: 'training steps per model (0: 320 per diffusion step, at least 8000; 24000 at T <= 5)',
  },
  batch: { type: 'int', default: 1024, min: 1, max: 1_000_000, help: 'training batch' },
  lr: {
    type: 'float',
    default: 1e-3,
    min: 0,
    exclusiveMin: true,
    max: 1,
    help: "Adam's learning rate (cosine decay to 0)",
  },
  ema: {
    type: 'float',
    default: 0,
    min: 0,
    max: 0.999999,
    help: 'decay of the weight average sampling uses (0: none)',
  },
  loss: {
    type: 'string',
    default: 'auto',
    choices: ['auto', 'mse', 'l1', 'huber'],
    help: 'training loss (auto: L2 at T <= 5, Huber above, the closest to the exact-score sampler measured; see README)',
  },
  'huber-delta': {
    type: 'float',
    default: 1,
    min: 0,
    exclusiveMin: true,
    max: 1e6,
    help: "Huber loss's threshold: quadratic below it, linear above (larger: closer to L2)",
  },
  'p-uncond': {
    type: 'float',
    default: P_UNCOND,
    min: 0,
    max: 1,
    help: 'label dropout probability (classifier-free guidance; lower values starve the unconditional model sweep-T samples, see README)',
  },
  warmup: {
    type: 'int',
    default: 0,
    min: 0,
    max: 10_000_000,
    help: "linear warm-up of Adam's learning rate over this many steps (0: none)",
  },
  'ema-warmup': {
    type: 'bool',
    default: false,
    help: 'EMA warm-up: the decay at step k is min(ema, (1 + k) / (10 + k))',
  },
  'fourier-scale': {
    type: 'float',
    default: TWO_PIXEL.fourierScale,
    min: 0,
    exclusiveMin: true,
    max: 1e6,
    help: 'std of the frozen Fourier frequencies applied to t / T',
  },
  variance: {
    type: 'string',
    default: 'analytic',
    choices: ['beta', 'posterior', 'analytic'],
    help: "sampling sigma_t^2: beta_t, the posterior variance, or the model's optimal one (Analytic-DPM)",
  },
  clip: {
    type: 'float',
    default: 3,
    min: 0,
    max: 1e6,
    help: 'clip the predicted x_0 to [-clip, clip] while sampling (0: off)',
  },
  models: {
    type: 'string',
    default: 'out/models',
    help: 'folder of the trained models (model-T{T}.safetensors), shared by the runners',
  },
  'checkpoint-every': {
    type: 'int',
    default: 1000,
    min: 0,
    max: 10_000_000,
    multipleOf: 100,
    help: 'save a resumable checkpoint every this many steps (0: never)',
  },
  retrain: { type: 'bool', default: false, help: 'train even when a checkpoint exists, and replace it' },
} as const satisfies Record<string, FlagSpec>;

interface StudyFlagValues {
  steps: number;
  batch: number;
  lr: number;
  ema: number;
  warmup: number;
  'ema-warmup': boolean;
  'fourier-scale': number;
  loss: string;
  'huber-delta': number;
  'p-uncond': number;
  seed: number;
  variance: string;
  clip: number;
}

/**
 * Training steps for a model of T diffusion steps when --steps is 0: a step trains each t on
 * about batch / T samples, so a longer chain gets proportionally more steps. 320 per step: at
 * T = 50, 8000 steps left the unconditional model putting 0.351-0.379 of its mass on the 0.35
 * mode (five runs, three seeds), 16000 steps 0.358 and 0.351 (seeds 0 and 1). At least 8000:
 * at T = 10, 3200 steps left seed 1's small mode 0.044 above the exact-score sampler's weight,
 * 8000 0.016 (seed 0: 0.015). 24000 at T <= 5 (L2, see defaultLoss): against the exact-score
 * sampler on the same draws, 16000 steps left seed 1's mean log p 0.13 below it (0.07 on average
 * over six sampling seeds, the samples slightly too wide), 24000 steps 0.04 (seeds 0 and 1;
 * 0.05-0.06 on average), weights within 0.005 (README, 2026-12-06).
 */
export const defaultSteps = (T: number): number => (T <= 5 ? 24000 : Math.max(8000, 320 * T));

/**
 * The training loss for --loss auto. Huber's minimiser is not E[eps | x_t]: at T = 5 its samples
 * came out narrower than the exact-score sampler's (mean log p 0.4-0.8 above it, more so the
 * longer it trained), where L2 converges on the exact eps. At T >= 10, L2 after 3200-8000 steps
 * sampled too wide (log p 0.67-0.83 against 0.93) and Huber meets the exact sampler (README,
 * 2026-12-02).
 */
export const defaultLoss = (T: number): LossKind => (T <= 5 ? 'mse' : 'huber');

export function studySettings(f: StudyFlagValues, T: number): StudySettings {
  return {
    T,
    steps: f.steps || defaultSteps(T),
    batch: f.batch,
    lr: f.lr,
    ema: f.ema,
    emaWarmup: f['ema-warmup'],
    warmupSteps: f.warmup,
    fourierScale: f['fourier-scale'],
    loss: f.loss === 'auto' ? defaultLoss(T) : (f.loss as LossKind),
    huberDelta: f['huber-delta'],
    pUncond: f['p-uncond'],
    seed: f.seed,
  };
}

/**
 * How a trained model is sampled; the analytic variance measures the model's Gamma table first.
 * `exactGamma` is the exact score's table the model's is measured against (referenceGamma), for
 * the exact-score sampler to use the same one.
 */
export async function samplerOptions(f: StudyFlagValues, device: GPUDevice, store: ParamStore, T: number) {
  const variance = f.variance as VarianceKind;
  const exactGamma = variance === 'analytic' ? referenceGamma(makeSchedule('cosine', T), f.seed) : undefined;
  const gamma =
    exactGamma &&
    (await residualGamma(
      device,
      store,
      { model: defaultTwoPixelConfig(T), schedule: 'cosine', n: GAMMA_POINTS, seed: f.seed },
      exactGamma,
    ));
  return { clip: f.clip, variance, gamma, exactGamma };
}
