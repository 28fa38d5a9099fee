// The two-pixel conditional UNet of SPEC section 3, exactly as settled there: signal length 2,
// one channel; embeddings: 128 frozen Fourier frequencies w ~ N(0, 30^2) of t/T, Linear 256->256
// and SiLU, plus Linear 3->256 of the one-hot label (class 0, class 1, none); each block adds a
// Linear(embedding -> channels) as a per-channel bias before its GroupNorm.
import type { Graph, Tensor } from '../core/graph.js';
import { add, addChannelBias, concatChannels, silu, sliceColumns } from '../core/ops/elementwise.js';
import { classEmbedding, fourierFeatures, gatherRows } from '../core/ops/embed.js';
import { fanInBound } from './layers.js';
import { conv1d, convTranspose1d } from '../core/ops/conv1d.js';
import { groupNorm } from '../core/ops/groupnorm.js';
import { linear } from '../core/ops/linear.js';

export interface TwoPixelConfig {
  /** Max step: the Fourier features see t / T. */
  T: number;
  /** Embedding width (SPEC: 256); half of it are Fourier frequencies. */
  embed: number;
  /** Standard deviation of the frozen Fourier frequencies (SPEC: 30). */
  fourierScale: number;
}

export const LABELS = 3; // class 0, class 1, and "no label"
export const NO_LABEL = 2;

export const defaultTwoPixelConfig = (T: number): TwoPixelConfig => ({ T, embed: 256, fourierScale: 30 });

/** Channels of the three blocks that take an embedding bias. */
export const BLOCK_CHANNELS = [32, 64, 32] as const;

/** Columns of the block-bias tables: the three blocks' channels side by side. */
export const BIAS_WIDTH = BLOCK_CHANNELS.reduce((a, b) => a + b, 0);

/**
 * The embedding parameters, created in one order for every table builder (the parameter store's
 * layout follows it): the frozen Fourier frequencies, the time MLP's Linear E -> E, the class
 * Linear 3 -> E, and the three blocks' dense layers as one Linear E -> 32 + 64 + 32. Also the
 * step ids 0..T the time MLP runs on (a constant input), and its Fourier features.
 */
export function embeddingParams(g: Graph, cfg: TwoPixelConfig) {
  const E = cfg.embed;
  if (!Number.isInteger(E) || E < 2 || E % 2 !== 0) throw new Error(`embedding width ${E} must be an even integer >= 2`);
  const tIds = g.input('table.t', [cfg.T + 1], 'u32', { constant: true });
  const freqs = g.param('time.fourier', [E / 2], { kind: 'normal', std: cfg.fourierScale }, { trainable: false });
  const features = fourierFeatures(g, tIds, freqs, 1 / cfg.T);
  return {
    E, tIds, features,
    tw: g.param('time.dense.w', [E, E], fanInBound(E)),
    tb: g.param('time.dense.b', [E], fanInBound(E)),
    cw: g.param('class.w', [LABELS, E], fanInBound(LABELS)),
    cb: g.param('class.b', [E], fanInBound(LABELS)),
    w: g.param('blocks.dense.w', [E, BIAS_WIDTH], fanInBound(E)),
    b: g.param('blocks.dense.b', [BIAS_WIDTH], fanInBound(E)),
    feed: [tIds, Uint32Array.from({ length: cfg.T + 1 }, (_, t) => t)] as [Tensor, Uint32Array],
  };
}

/**
 * The embeddings depend only on (t, y), and each block's dense layer is linear in the summed
 * embedding: dense(temb(t) + cemb(y)) = P(t) + Q(y) with P = dense(temb) (with the bias) and
 * Q = dense(cemb) (without). So the time MLP runs on the T + 1 steps and the class projection on
 * the three labels, once per step, instead of on every sample; samples gather their rows. The
 * three blocks' dense layers are one Linear(E -> 32 + 64 + 32) whose columns each block takes
 * its share of (the same three layers, in one matmul instead of three).
 * Returns P [T + 1, 128] and Q [3, 128], and the constant id inputs to fill. The op-by-op graph
 * builds them so; the fused kernels take one joint table (src/diffusion/fusedtable.ts).
 */
export function twoPixelBiasTables(g: Graph, cfg: TwoPixelConfig) {
  const m = embeddingParams(g, cfg);
  const yIds = g.input('table.y', [LABELS], 'u32', { constant: true });
  const temb = silu(g, linear(g, m.features, m.tw, m.tb, 'time.dense'), 'time.silu');
  const cemb = classEmbedding(g, yIds, m.cw, m.cb, 'class.embed');
  const feeds: [Tensor, Uint32Array][] = [m.feed, [yIds, Uint32Array.from({ length: LABELS }, (_, y) => y)]];
  return { p: linear(g, temb, m.w, m.b, 'blocks.dense.time'), q: linear(g, cemb, m.w, null, 'blocks.dense.class'), feeds };
}

export type BiasTables = ReturnType<typeof twoPixelBiasTables>;

/**
 * The UNet's own parameters (PyTorch's default initialisation; a transposed conv's fan-in is
 * cout * kernel): shared by the op-by-op network and the fused kernels (FUSED_PARAMS order).
 */
export function twoPixelUNetParams(g: Graph) {
  const conv = (name: string, shape: [number, number, number], cout: number, fanIn: number) => ({
    w: g.param(`${name}.w`, shape, fanInBound(fanIn)),
    b: g.param(`${name}.b`, [cout], fanInBound(fanIn)),
  });
  const norm = (name: string, channels: number) => ({
    gamma: g.param(`${name}.gamma`, [channels], { kind: 'const', value: 1 }),
    beta: g.param(`${name}.beta`, [channels], { kind: 'const', value: 0 }),
  });
  return {
    conv1: conv('enc1.conv', [32, 1, 2], 32, 1 * 2), norm1: norm('enc1.norm', 32),
    conv2: conv('enc2.conv', [64, 32, 1], 64, 32 * 1), norm2: norm('enc2.norm', 64),
    conv3: conv('dec1.conv', [64, 32, 1], 32, 32 * 1), norm3: norm('dec1.norm', 32),
    conv4: conv('dec2.conv', [64, 1, 1], 1, 1 * 1),
  };
}

/** eps_theta(x_t, t, y): x [B, 1, 2] (f32), t [B] and y [B] (u32) -> [B, 1, 2]. */
export function twoPixelUNet(g: Graph, x: Tensor, t: Tensor, y: Tensor, tables: BiasTables): Tensor {
  if (x.shape.length !== 3 || x.shape[1] !== 1 || x.shape[2] !== 2) throw new Error(`two-pixel UNet: input ${x} must be [batch, 1, 2]`);
  const w = twoPixelUNetParams(g);
  const bias = add(g, gatherRows(g, tables.p, t, 'bias.time'), gatherRows(g, tables.q, y, 'bias.class'), 'bias');
  const [d1, d2, d3] = BLOCK_CHANNELS.map((C, i) => sliceColumns(g, bias, BLOCK_CHANNELS.slice(0, i).reduce((a, b) => a + b, 0), C, `bias${i + 1}`));
  const block = (name: string, h: Tensor, bias: Tensor, norm: { gamma: Tensor; beta: Tensor }, groups: number) =>
    silu(g, groupNorm(g, addChannelBias(g, h, bias, `${name}.bias`), norm.gamma, norm.beta, groups, 1e-5, `${name}.norm`), `${name}.silu`);
  const h1 = block('enc1', conv1d(g, x, w.conv1.w, w.conv1.b, { padding: [0, 1] }, 'enc1.conv'), d1, w.norm1, 4);
  const h2 = block('enc2', conv1d(g, h1, w.conv2.w, w.conv2.b, {}, 'enc2.conv'), d2, w.norm2, 32);
  const h3 = block('dec1', convTranspose1d(g, h2, w.conv3.w, w.conv3.b, {}, 'dec1.conv'), d3, w.norm3, 4);
  return convTranspose1d(g, concatChannels(g, h3, h1, 'skip'), w.conv4.w, w.conv4.b, {}, 'dec2.conv');
}
