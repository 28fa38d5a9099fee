// The two-pixel conditional UNet of SPEC section 3, described once: the op-by-op graph
// (unet.ts), the fused kernels' generator (fusedgen.ts, fused.ts), the bias table (table.ts) and
// the checkpoint settings (src/study/models.ts) all read it.
//   encoder block 1: Conv1d 1 -> 32, kernel 2, padded [0, 1] ('same'), + dense(embedding), GroupNorm(4), SiLU
//   encoder block 2: Conv1d 32 -> 64, kernel 1, + dense, GroupNorm(32), SiLU
//   decoder block 1: ConvTranspose1d 64 -> 32, kernel 1, + dense, GroupNorm(4), SiLU
//   decoder block 2: ConvTranspose1d (32 + 32 skip from encoder block 1) -> 1, kernel 1: the noise
// Embeddings: 128 frozen Fourier frequencies w ~ N(0, scale^2) of t/T, Linear E -> E and SiLU, plus
// Linear 3 -> E of the one-hot label (class 0, class 1, none); each block's dense layer adds a
// per-channel bias before its GroupNorm. GroupNorm as PyTorch's (eps 1e-5 inside the root).

export interface TwoPixelBlock {
  readonly name: string;
  readonly op: 'conv1d' | 'conv_transpose1d';
  readonly cin: number;
  readonly cout: number;
  readonly kernel: number;
  /** conv1d's zero padding [left, right]. */
  readonly padding?: readonly [number, number];
  /** GroupNorm groups; absent on the output layer. */
  readonly groups?: number;
}

export const TWO_PIXEL = {
  /** The model's name in checkpoints. */
  model: 'two-pixel-unet',
  /** The signal: one channel of length 2. */
  length: 2,
  /** Label slots: class 0, class 1, and "no label". */
  labels: 3,
  noLabel: 2,
  embed: 256,
  fourierScale: 30,
  normEps: 1e-5,
  /** The three blocks that take an embedding bias, then the output layer over [dec1, enc1]. */
  blocks: [
    { name: 'enc1', op: 'conv1d', cin: 1, cout: 32, kernel: 2, padding: [0, 1], groups: 4 },
    { name: 'enc2', op: 'conv1d', cin: 32, cout: 64, kernel: 1, groups: 32 },
    { name: 'dec1', op: 'conv_transpose1d', cin: 64, cout: 32, kernel: 1, groups: 4 },
  ] as readonly TwoPixelBlock[],
  output: { name: 'dec2', op: 'conv_transpose1d', cin: 32 + 32, cout: 1, kernel: 1 } as TwoPixelBlock,
} as const;

export const LABELS = TWO_PIXEL.labels;
export const NO_LABEL = TWO_PIXEL.noLabel;

/** Channels of the three blocks that take an embedding bias. */
export const BLOCK_CHANNELS = TWO_PIXEL.blocks.map((b) => b.cout);

/** Columns of the block-bias tables: the three blocks' channels side by side. */
export const BIAS_WIDTH = BLOCK_CHANNELS.reduce((a, b) => a + b, 0);

/** One of the UNet's own parameters: name, shape, and PyTorch's default initialisation. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** U(-1/sqrt(fanIn), +); null: GroupNorm's gamma (ones) or beta (zeros). */
  readonly fanIn: number | null;
  readonly value?: number;
}

/**
 * The UNet's parameters (not the embeddings'), in store order: per block conv w, b, norm gamma,
 * beta; then the output conv's w, b. A conv weight is [cout, cin, k], a transposed conv's
 * [cin, cout, k] with fan-in cout * k (PyTorch's).
 */
export function unetParamSpecs(): ParamSpec[] {
  const conv = (b: TwoPixelBlock): ParamSpec[] => {
    const transposed = b.op === 'conv_transpose1d';
    const fanIn = (transposed ? b.cout : b.cin) * b.kernel;
    const shape = transposed ? [b.cin, b.cout, b.kernel] : [b.cout, b.cin, b.kernel];
    return [
      { name: `${b.name}.conv.w`, shape, fanIn },
      { name: `${b.name}.conv.b`, shape: [b.cout], fanIn },
    ];
  };
  const norm = (b: TwoPixelBlock): ParamSpec[] => [
    { name: `${b.name}.norm.gamma`, shape: [b.cout], fanIn: null, value: 1 },
    { name: `${b.name}.norm.beta`, shape: [b.cout], fanIn: null, value: 0 },
  ];
  return [...TWO_PIXEL.blocks.flatMap((b) => [...conv(b), ...norm(b)]), ...conv(TWO_PIXEL.output)];
}

export interface TwoPixelConfig {
  /** Max step: the Fourier features see t / T. */
  T: number;
  /** Embedding width (SPEC: 256); half of it are Fourier frequencies. */
  embed: number;
  /** Standard deviation of the frozen Fourier frequencies (SPEC: 30). */
  fourierScale: number;
}

export const defaultTwoPixelConfig = (T: number): TwoPixelConfig => ({
  T,
  embed: TWO_PIXEL.embed,
  fourierScale: TWO_PIXEL.fourierScale,
});

/** What a checkpoint of this model records about its architecture. */
export const architectureSettings = (c: TwoPixelConfig): Record<string, string> => ({
  model: TWO_PIXEL.model,
  T: String(c.T),
  embed: String(c.embed),
  fourier_scale: String(c.fourierScale),
});
