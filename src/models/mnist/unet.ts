// The MNIST UNet of SPEC section 3, the architecture of ../shared/reference/w2_torch.py (2 396 353
// parameters): channels 32 / 64 / 128 / 128, residual blocks (conv 3x3, GroupNorm(8), SiLU, the
// embedding as a per-channel bias, conv 3x3, GroupNorm, SiLU, a 1x1 conv on the skip where the
// channels change), stride-2 convs down (28 -> 14 -> 7), nearest upsampling and a conv up,
// self-attention at 7x7, skip connections across, and a step and class embedding of width 128
// (Gaussian Fourier features of t / T through Linear + SiLU, plus a Linear of the one-hot label
// over ten digits and "no label").
import type { Graph, Tensor } from '../../core/graph.js';
import { MNIST_CLASSES_WITH_NONE, type MnistUNetConfig } from './spec.js';
import { conv2d, upsampleConv2d } from '../../core/ops/conv2d.js';
import { attention } from '../../core/ops/attention.js';
import { groupNorm, groupNormSilu } from '../../core/ops/groupnorm.js';
import { add, silu } from '../../core/ops/elementwise.js';
import { classEmbedding, fourierFeatures } from '../../core/ops/embed.js';
import { linear } from '../../core/ops/linear.js';
import { fanInBound } from '../../nn/layers.js';

export {
  defaultMnistConfig,
  MNIST_CLASSES_WITH_NONE,
  MNIST_NO_LABEL,
  mnistSettings,
  type MnistUNetConfig,
} from './spec.js';

/** A conv with its parameters; x a list: the conv of the list's concatenation along channels, never written. */
function conv(g: Graph, name: string, x: Tensor | Tensor[], cin: number, cout: number, k: number, stride = 1): Tensor {
  const w = g.param(`${name}.w`, [cout, cin, k, k], fanInBound(cin * k * k));
  const b = g.param(`${name}.b`, [cout], fanInBound(cin * k * k));
  return conv2d(g, x, w, b, { stride, padding: (k - 1) >> 1 }, name);
}

/** The 3x3 conv of x upsampled by 2 (nearest), the upsampled map never written; parameters as conv's. */
function upConv(g: Graph, name: string, x: Tensor, cin: number, cout: number): Tensor {
  const w = g.param(`${name}.w`, [cout, cin, 3, 3], fanInBound(cin * 9));
  const b = g.param(`${name}.b`, [cout], fanInBound(cin * 9));
  return upsampleConv2d(g, x, w, b, name);
}

/** A norm's per-channel affine: gamma 1 and beta 0 at the start. */
function affine(g: Graph, name: string, channels: number): [Tensor, Tensor] {
  return [
    g.param(`${name}.gamma`, [channels], { kind: 'const', value: 1 }),
    g.param(`${name}.beta`, [channels], { kind: 'const', value: 0 }),
  ];
}

function norm(g: Graph, name: string, x: Tensor, channels: number, groups: number): Tensor {
  return groupNorm(g, x, ...affine(g, name, channels), groups, 1e-5, name);
}

/** SiLU(GroupNorm(x)), one kernel each way (groupNormSilu); the parameters as norm's. */
function normSilu(g: Graph, name: string, x: Tensor, channels: number, groups: number) {
  return groupNormSilu(g, x, ...affine(g, name, channels), groups, { name });
}

function dense(g: Graph, name: string, x: Tensor, inFeatures: number, outFeatures: number): Tensor {
  const w = g.param(`${name}.w`, [inFeatures, outFeatures], fanInBound(inFeatures));
  const b = g.param(`${name}.b`, [outFeatures], fanInBound(inFeatures));
  return linear(g, x, w, b, name);
}

/**
 * h = SiLU(GN(conv(x))) + Dense(e); h = SiLU(GN(conv(h))); h + skip(x); each line one fused norm.
 * x [u, skip] (an up block): the convs read the two as their concatenation along channels.
 */
function resBlock(
  g: Graph,
  name: string,
  x: Tensor | [Tensor, Tensor],
  e: Tensor,
  cin: number,
  cout: number,
  c: MnistUNetConfig,
): Tensor {
  // Parameters in the order the unfused blocks made them (conv1, norm1, dense, conv2, norm2,
  // skip): the same seed initialises the same model.
  const h1 = conv(g, `${name}.conv1`, x, cin, cout, 3);
  const norm1 = affine(g, `${name}.norm1`, cout);
  const bias = dense(g, `${name}.dense`, e, c.embed, cout);
  const h = groupNormSilu(g, h1, ...norm1, c.groups, { bias, name: `${name}.norm1` });
  const h2 = conv(g, `${name}.conv2`, h, cout, cout, 3);
  const norm2 = affine(g, `${name}.norm2`, cout);
  const residual = cin === cout && !Array.isArray(x) ? x : conv(g, `${name}.skip`, x, cin, cout, 1);
  return groupNormSilu(g, h2, ...norm2, c.groups, { residual, name: `${name}.out` });
}

/** x + proj(attention(qkv(GN(x)))). */
function attnBlock(g: Graph, name: string, x: Tensor, channels: number, c: MnistUNetConfig): Tensor {
  const qkv = conv(g, `${name}.qkv`, norm(g, `${name}.norm`, x, channels, c.groups), channels, 3 * channels, 1);
  return add(
    g,
    x,
    conv(g, `${name}.proj`, attention(g, qkv, `${name}.attention`), channels, channels, 1),
    `${name}.out`,
  );
}

/** eps_theta(x_t, t, y): x [B, 1, 28, 28], t [B] (u32 in 0..T), y [B] (u32, 10 = no label) -> [B, 1, 28, 28]. */
export function mnistUNet(g: Graph, x: Tensor, t: Tensor, y: Tensor, c: MnistUNetConfig): Tensor {
  if (x.shape.length !== 4 || x.shape[1] !== 1 || x.shape[2] % 4 !== 0 || x.shape[3] % 4 !== 0) {
    throw new Error(`MNIST UNet: input ${x} must be [batch, 1, H, W] with H and W multiples of 4`);
  }
  const [c1, c2, c3, c4] = c.channels;
  const freqs = g.param('time.fourier', [c.embed / 2], { kind: 'normal', std: c.fourierScale }, { trainable: false });
  const temb = silu(g, dense(g, 'time.dense', fourierFeatures(g, t, freqs, 1 / c.T), c.embed, c.embed), 'time.silu');
  const cw = g.param('class.w', [MNIST_CLASSES_WITH_NONE, c.embed], fanInBound(MNIST_CLASSES_WITH_NONE));
  const cb = g.param('class.b', [c.embed], fanInBound(MNIST_CLASSES_WITH_NONE));
  const e = add(g, temb, classEmbedding(g, y, cw, cb, 'class.embed'), 'embedding');
  const h0 = conv(g, 'conv_in', x, 1, c1, 3);
  const h1 = resBlock(g, 'e1', h0, e, c1, c1, c);
  const h2 = resBlock(g, 'e2', conv(g, 'down1', h1, c1, c1, 3, 2), e, c1, c2, c);
  const h3 = resBlock(g, 'e3', conv(g, 'down2', h2, c2, c2, 3, 2), e, c2, c3, c);
  const h4 = attnBlock(g, 'a_e4', resBlock(g, 'e4', h3, e, c3, c4, c), c4, c);
  let u = resBlock(g, 'mid', h4, e, c4, c4, c);
  u = attnBlock(g, 'a_u4', resBlock(g, 'u4', [u, h4], e, c4 + c4, c4, c), c4, c);
  u = resBlock(g, 'u3', [u, h3], e, c4 + c3, c3, c);
  u = upConv(g, 'up3', u, c3, c2);
  u = resBlock(g, 'u2', [u, h2], e, c2 + c2, c2, c);
  u = upConv(g, 'up2', u, c2, c1);
  u = resBlock(g, 'u1', [u, h1], e, c1 + c1, c1, c);
  return conv(g, 'conv_out', normSilu(g, 'norm_out', u, c1, c.groups), c1, 1, 3);
}
