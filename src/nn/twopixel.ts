// The two-pixel conditional UNet of SPEC section 3, exactly as settled there: signal length 2,
// one channel; embeddings: 128 frozen Fourier frequencies w ~ N(0, 30^2) of t/T, Linear 256->256
// and SiLU, plus Linear 3->256 of the one-hot label (class 0, class 1, none); each block adds a
// Linear(embedding -> channels) as a per-channel bias before its GroupNorm.
import type { Graph, Tensor } from '../core/graph.js';
import { add, addChannelBias, concatChannels, silu } from '../core/ops/elementwise.js';
import { classEmbedding, fourierFeatures, gatherRows } from '../core/ops/embed.js';
import { conv1dLayer, convTranspose1dLayer, groupNormLayer, linearLayer } from './layers.js';

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

/** The summed step and class embedding, [B, embed]. */
export function twoPixelEmbedding(g: Graph, t: Tensor, y: Tensor, cfg: TwoPixelConfig): Tensor {
  const E = cfg.embed;
  if (!Number.isInteger(E) || E < 2 || E % 2 !== 0) throw new Error(`embedding width ${E} must be an even integer >= 2`);
  const freqs = g.param('time.fourier', [E / 2], { kind: 'normal', std: cfg.fourierScale }, { trainable: false });
  const temb = silu(g, linearLayer(g, 'time.dense', fourierFeatures(g, t, freqs, 1 / cfg.T), E, E), 'time.silu');
  const cw = g.param('class.w', [LABELS, E], { kind: 'uniform', bound: 1 / Math.sqrt(LABELS) });
  const cb = g.param('class.b', [E], { kind: 'uniform', bound: 1 / Math.sqrt(LABELS) });
  return add(g, temb, classEmbedding(g, y, cw, cb, 'class.embed'), 'embedding');
}

/** Per-block biases from the embedding: [B, 32], [B, 64], [B, 32]. */
export function twoPixelBlockBiases(g: Graph, emb: Tensor, cfg: TwoPixelConfig): [Tensor, Tensor, Tensor] {
  const E = cfg.embed;
  return [linearLayer(g, 'enc1.dense', emb, E, 32), linearLayer(g, 'enc2.dense', emb, E, 64), linearLayer(g, 'dec1.dense', emb, E, 32)];
}

/** Row of the bias tables for step t and label y. */
export const tableRow = (t: number, y: number): number => t * LABELS + y;

/**
 * The embeddings depend only on (t, y): the block biases are computed once per step for all
 * LABELS (T + 1) pairs (row tableRow(t, y)) and gathered per sample, instead of running the
 * embedding MLP on every sample. Returns the tables and the constant (t, y) inputs to fill.
 */
export function twoPixelBiasTables(g: Graph, cfg: TwoPixelConfig) {
  const rows = LABELS * (cfg.T + 1);
  const t = g.input('table.t', [rows], 'u32');
  const y = g.input('table.y', [rows], 'u32');
  const ids = { t: new Uint32Array(rows), y: new Uint32Array(rows) };
  for (let r = 0; r < rows; r++) {
    ids.t[r] = Math.floor(r / LABELS);
    ids.y[r] = r % LABELS;
  }
  const tables = twoPixelBlockBiases(g, twoPixelEmbedding(g, t, y, cfg), cfg);
  return { tables, feeds: [[t, ids.t], [y, ids.y]] as [Tensor, Uint32Array][] };
}

/** eps_theta(x_t, t, y): x [B, 1, 2] (f32), rows [B] = tableRow(t, y) (u32) -> [B, 1, 2]. */
export function twoPixelUNet(g: Graph, x: Tensor, rows: Tensor, tables: readonly Tensor[]): Tensor {
  if (x.shape.length !== 3 || x.shape[1] !== 1 || x.shape[2] !== 2) throw new Error(`two-pixel UNet: input ${x} must be [batch, 1, 2]`);
  const [d1, d2, d3] = tables.map((table, i) => gatherRows(g, table, rows, `bias${i + 1}`));
  const block = (name: string, h: Tensor, bias: Tensor, groups: number, channels: number) =>
    silu(g, groupNormLayer(g, `${name}.norm`, addChannelBias(g, h, bias, `${name}.bias`), groups, channels), `${name}.silu`);
  const h1 = block('enc1', conv1dLayer(g, 'enc1.conv', x, 1, 32, 2, { padding: [0, 1] }), d1, 4, 32);
  const h2 = block('enc2', conv1dLayer(g, 'enc2.conv', h1, 32, 64, 1), d2, 32, 64);
  const h3 = block('dec1', convTranspose1dLayer(g, 'dec1.conv', h2, 64, 32, 1), d3, 4, 32);
  return convTranspose1dLayer(g, 'dec2.conv', concatChannels(g, h3, h1, 'skip'), 64, 1, 1);
}
