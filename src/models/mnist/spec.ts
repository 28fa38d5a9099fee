// The MNIST UNet of SPEC section 3, described once: the graph builder (unet.ts), the trainer and
// sampler (src/diffusion/mnist.ts) and the checkpoint settings read it. The reference model is
// ../shared/reference/w2_torch.py's (2 396 353 parameters): channels 32 / 64 / 128 / 128 at 28x28,
// 14x14, 7x7 and the bottleneck, GroupNorm(8), embedding width 128, T = 200.

export interface MnistUNetConfig {
  T: number;
  /** Channels at 28x28, 14x14, 7x7 and the bottleneck (multiples of groups). */
  channels: readonly [number, number, number, number];
  /** Width of the step and class embedding (even: sine and cosine halves). */
  embed: number;
  groups: number;
  /** Standard deviation of the frozen Fourier frequencies of t / T. */
  fourierScale: number;
}

/** Pixels per side of an MNIST image, and the digits (here, not in data/mnist.ts, which reads files). */
export const MNIST_SIDE = 28;
export const MNIST_CLASSES = 10;

/** Ten digits, then the "no label" slot of classifier-free guidance. */
export const MNIST_NO_LABEL = 10;
export const MNIST_CLASSES_WITH_NONE = MNIST_NO_LABEL + 1;

export const defaultMnistConfig = (T = 200): MnistUNetConfig => ({
  T,
  channels: [32, 64, 128, 128],
  embed: 128,
  groups: 8,
  fourierScale: 30,
});

/** What a checkpoint of this model records about its architecture. */
export const mnistSettings = (c: MnistUNetConfig): Record<string, string> => ({
  model: 'mnist-unet',
  T: String(c.T),
  channels: c.channels.join(','),
  embed: String(c.embed),
  groups: String(c.groups),
  fourier_scale: String(c.fourierScale),
});

/** Everything a preset of train-mnist fixes: the model and how it is trained and scored. */
export interface MnistPreset {
  model: MnistUNetConfig;
  steps: number;
  batch: number;
  lr: number;
  /** Linear learning-rate warm-up steps before the cosine decay. */
  warmup: number;
  /** Decay of the weights' moving average (with its warm-up); samples come from it. */
  ema: number;
  pUncond: number;
  /** Class-balanced samples written as IDX files and scored by the classifier. */
  evalSamples: number;
  /** How they are sampled: DDPM over all T steps, or DDIM over `sampleSteps`. */
  sampler: 'ddpm' | 'ddim';
  sampleSteps: number;
  /** DDIM's noise (1: the DDPM posterior's variance on the coarser steps). */
  eta: number;
}

/**
 * `full`: the reference model of w2_torch.py (2 396 353 parameters, batch 64). `cpu`: the same
 * structure (residual blocks, GroupNorm, attention at 7x7, four levels, skips, T = 200) at the
 * widths, batch and step count that train to clean digits within 30 minutes on a 2-core CPU
 * driver (README.md, "MNIST presets", has the measurements behind the choice).
 */
export const MNIST_PRESETS: Readonly<Record<'cpu' | 'full', MnistPreset>> = {
  full: {
    model: defaultMnistConfig(200),
    steps: 10000,
    batch: 64,
    lr: 2e-4,
    warmup: 500,
    ema: 0.999,
    pUncond: 0.1,
    evalSamples: 1000,
    sampler: 'ddpm',
    sampleSteps: 200,
    eta: 0,
  },
  cpu: {
    model: { ...defaultMnistConfig(200), channels: [16, 32, 32, 32], embed: 64 },
    steps: 3000,
    batch: 32,
    lr: 2e-3,
    warmup: 100,
    ema: 0.995,
    pUncond: 0.1,
    evalSamples: 200,
    sampler: 'ddim',
    sampleSteps: 50,
    eta: 1,
  },
};
