// The two-pixel UNet as an op-by-op graph (the reference the fused kernels are tested against),
// built from its spec (spec.ts).
import type { Graph, Tensor } from '../../core/graph.js';
import { add, addChannelBias, concatChannels, silu, sliceColumns } from '../../core/ops/elementwise.js';
import { classEmbedding, fourierFeatures, gatherRows } from '../../core/ops/embed.js';
import { fanInBound } from '../../nn/layers.js';
import { conv1d, convTranspose1d } from '../../core/ops/conv1d.js';
import { groupNorm } from '../../core/ops/groupnorm.js';
import { linear } from '../../core/ops/linear.js';
import { BIAS_WIDTH, LABELS, TWO_PIXEL, unetParamSpecs, type TwoPixelBlock, type TwoPixelConfig } from './spec.js';

export { BIAS_WIDTH, BLOCK_CHANNELS, LABELS, NO_LABEL, defaultTwoPixelConfig, type TwoPixelConfig } from './spec.js';

/**
 * The embedding parameters, created in one order for every table builder (the parameter store's
 * layout follows it): the frozen Fourier frequencies, the time MLP's Linear E -> E, the class
 * Linear 3 -> E, and the three blocks' dense layers as one Linear E -> 32 + 64 + 32. Also the
 * step ids 0..T the time MLP runs on (a constant input), and its Fourier features.
 */
export function embeddingParams(g: Graph, cfg: TwoPixelConfig) {
  const E = cfg.embed;
  if (!Number.isInteger(E) || E < 2 || E % 2 !== 0)
    throw new Error(`embedding width ${E} must be an even integer >= 2`);
  const tIds = g.input('table.t', [cfg.T + 1], 'u32', { constant: true });
  const freqs = g.param('time.fourier', [E / 2], { kind: 'normal', std: cfg.fourierScale }, { trainable: false });
  const features = fourierFeatures(g, tIds, freqs, 1 / cfg.T);
  return {
    E,
    tIds,
    features,
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
  return {
    p: linear(g, temb, m.w, m.b, 'blocks.dense.time'),
    q: linear(g, cemb, m.w, null, 'blocks.dense.class'),
    feeds,
  };
}

export type BiasTables = ReturnType<typeof twoPixelBiasTables>;

/** The UNet's own parameters (spec.ts: unetParamSpecs), by name, in store order. */
export function twoPixelUNetParams(g: Graph): Map<string, Tensor> {
  return new Map(
    unetParamSpecs().map((p) => [
      p.name,
      g.param(p.name, p.shape, p.fanIn === null ? { kind: 'const', value: p.value ?? 0 } : fanInBound(p.fanIn)),
    ]),
  );
}

/** eps_theta(x_t, t, y): x [B, 1, 2] (f32), t [B] and y [B] (u32) -> [B, 1, 2]. */
export function twoPixelUNet(g: Graph, x: Tensor, t: Tensor, y: Tensor, tables: BiasTables): Tensor {
  if (x.shape.length !== 3 || x.shape[1] !== 1 || x.shape[2] !== TWO_PIXEL.length)
    throw new Error(`two-pixel UNet: input ${x} must be [batch, 1, ${TWO_PIXEL.length}]`);
  const w = twoPixelUNetParams(g);
  const param = (name: string) => w.get(name)!;
  const bias = add(g, gatherRows(g, tables.p, t, 'bias.time'), gatherRows(g, tables.q, y, 'bias.class'), 'bias');
  const conv = (b: TwoPixelBlock, h: Tensor) => {
    const [cw, cb] = [param(`${b.name}.conv.w`), param(`${b.name}.conv.b`)];
    return b.op === 'conv1d'
      ? conv1d(g, h, cw, cb, { padding: b.padding ? [b.padding[0], b.padding[1]] : 0 }, `${b.name}.conv`)
      : convTranspose1d(g, h, cw, cb, {}, `${b.name}.conv`);
  };
  let column = 0;
  const block = (b: TwoPixelBlock, h: Tensor) => {
    const d = sliceColumns(g, bias, column, b.cout, `${b.name}.dense`);
    column += b.cout;
    const normed = groupNorm(
      g,
      addChannelBias(g, conv(b, h), d, `${b.name}.bias`),
      param(`${b.name}.norm.gamma`),
      param(`${b.name}.norm.beta`),
      b.groups!,
      TWO_PIXEL.normEps,
      `${b.name}.norm`,
    );
    return silu(g, normed, `${b.name}.silu`);
  };
  const [enc1, enc2, dec1] = TWO_PIXEL.blocks;
  const h1 = block(enc1, x);
  const h3 = block(dec1, block(enc2, h1));
  return conv(TWO_PIXEL.output, concatChannels(g, h3, h1, 'skip'));
}
