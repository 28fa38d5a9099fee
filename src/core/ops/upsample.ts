// Nearest-neighbour upsampling of a feature map by 2 (the MNIST UNet's decoder, before a conv).
import code from '../../../shaders/upsample.wgsl';
import { shaderModule } from '../kernel.js';
import type { Graph, Tensor } from '../graph.js';

const UPSAMPLE = shaderModule({
  name: 'upsample',
  source: code,
  bindings: { src: 'read', dst: 'read_write' },
  params: { planes: 'u32', h: 'u32', w: 'u32', accumulate: 'u32' },
});
const FORWARD = UPSAMPLE.kernel('upsample2x');
const BACKWARD = UPSAMPLE.kernel('upsample2x_backward');

/** x [B, C, H, W] -> [B, C, 2H, 2W], each pixel copied to a 2 x 2 block. */
export function upsample2x(g: Graph, x: Tensor, name = 'upsample'): Tensor {
  if (x.shape.length !== 4) throw new Error(`${name}: input ${x} must be [batch, channels, height, width]`);
  const [B, C, H, W] = x.shape;
  const y = g.activation(name, [B, C, 2 * H, 2 * W]);
  g.add({
    type: 'upsample2x',
    inputs: [x],
    outputs: [y],
    forward: (e) => e.dispatch(FORWARD, { src: x, dst: y }, { planes: B * C, h: H, w: W, accumulate: 0 }, y.size),
    backward(e) {
      const dx = e.gradTarget(x);
      if (dx)
        e.dispatch(
          BACKWARD,
          { src: e.grad(y), dst: dx.tensor },
          { planes: B * C, h: H, w: W, accumulate: dx.accumulate },
          x.size,
        );
    },
  });
  return y;
}
