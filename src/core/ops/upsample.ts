// Nearest-neighbour upsampling of a feature map by 2 (the MNIST UNet's decoder, before a conv).
import code from '../../../shaders/upsample.wgsl';
import { defineKernel } from '../kernel.js';
import type { Graph, Tensor } from '../graph.js';

const FORWARD = defineKernel('upsample.upsample2x', code, 'upsample2x', ['read', 'write', 'uniform']);
const BACKWARD = defineKernel('upsample.upsample2x_backward', code, 'upsample2x_backward', ['read', 'write', 'uniform']);

/** x [B, C, H, W] -> [B, C, 2H, 2W], each pixel copied to a 2 x 2 block. */
export function upsample2x(g: Graph, x: Tensor, name = 'upsample'): Tensor {
  if (x.shape.length !== 4) throw new Error(`${name}: input ${x} must be [batch, channels, height, width]`);
  const [B, C, H, W] = x.shape;
  const y = g.activation(name, [B, C, 2 * H, 2 * W]);
  g.add({
    type: 'upsample2x',
    inputs: [x],
    outputs: [y],
    forward: (e) => e.dispatch(FORWARD, [x, y], [B * C, H, W, 0], y.size),
    backward(e) {
      const dx = e.gradTarget(x);
      if (dx) e.dispatch(BACKWARD, [e.grad(y), dx.tensor], [B * C, H, W, dx.accumulate], x.size);
    },
  });
  return y;
}
