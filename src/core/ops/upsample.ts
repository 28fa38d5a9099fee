// Nearest-neighbour upsampling of a feature map by 2 (the MNIST UNet's decoder, before a conv).
import code from '../../../shaders/upsample.wgsl';
import { shaderModule } from '../kernel.js';
import type { Emitter, Graph, Tensor } from '../graph.js';

const UPSAMPLE = shaderModule({
  name: 'upsample',
  source: code,
  bindings: { src: 'read', dst: 'read_write' },
  params: { planes: 'u32', h: 'u32', w: 'u32', accumulate: 'u32' },
});
const FORWARD = UPSAMPLE.kernel('upsample2x');
const BACKWARD = UPSAMPLE.kernel('upsample2x_backward');

/** y [B, C, 2H, 2W] = each pixel of x [B, C, H, W] copied to a 2 x 2 block. */
export function emitUpsample2x(e: Emitter, x: Tensor, y: Tensor): void {
  const [B, C, H, W] = x.shape;
  e.dispatch(FORWARD, { src: x, dst: y }, { planes: B * C, h: H, w: W, accumulate: 0 }, y.size);
}

/** dx [B, C, H, W] (+)= each 2 x 2 block of dy summed (accumulate 1: added to dx). */
export function emitUpsample2xBackward(e: Emitter, dy: Tensor, dx: Tensor, accumulate: number): void {
  const [B, C, H, W] = dx.shape;
  e.dispatch(BACKWARD, { src: dy, dst: dx }, { planes: B * C, h: H, w: W, accumulate }, dx.size);
}

/** x [B, C, H, W] -> [B, C, 2H, 2W], each pixel copied to a 2 x 2 block. */
export function upsample2x(g: Graph, x: Tensor, name = 'upsample'): Tensor {
  if (x.shape.length !== 4) throw new Error(`${name}: input ${x} must be [batch, channels, height, width]`);
  const [B, C, H, W] = x.shape;
  const y = g.activation(name, [B, C, 2 * H, 2 * W]);
  g.add({
    type: 'upsample2x',
    inputs: [x],
    outputs: [y],
    forward: (e) => emitUpsample2x(e, x, y),
    backward(e) {
      const dx = e.gradTarget(x);
      if (dx) emitUpsample2xBackward(e, e.grad(y), dx.tensor, dx.accumulate);
    },
  });
  return y;
}
