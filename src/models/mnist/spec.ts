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
