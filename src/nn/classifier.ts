// The noisy-image classifier p_phi(y | x_t, t) for classifier guidance (SPEC section 5): an MLP on
// the two pixels plus Fourier features of t / T, two classes.
import type { Graph, Tensor } from '../core/graph.js';
import { add, silu } from '../core/ops/elementwise.js';
import { fourierFeatures } from '../core/ops/embed.js';
import { linearLayer } from './layers.js';

export const CLASSIFIER_WIDTH = 64;

/** logits [B, 2] of x [B, 2] (f32) at steps t [B] (u32). */
export function twoPixelClassifier(g: Graph, x: Tensor, t: Tensor, T: number): Tensor {
  const W = CLASSIFIER_WIDTH;
  const freqs = g.param('clf.fourier', [16], { kind: 'normal', std: 30 }, { trainable: false });
  const time = fourierFeatures(g, t, freqs, 1 / T, 'clf.time.features');
  let h = silu(
    g,
    add(g, linearLayer(g, 'clf.in', x, 2, W), linearLayer(g, 'clf.time', time, 32, W), 'clf.sum'),
    'clf.silu1',
  );
  h = silu(g, linearLayer(g, 'clf.hidden', h, W, W), 'clf.silu2');
  return linearLayer(g, 'clf.out', h, W, 2);
}
