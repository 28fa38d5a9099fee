import reduceCode from '../../../shaders/reduce.wgsl';
import { shaderModule } from '../kernel.js';
import type { Emitter, GradTarget, Tensor } from '../graph.js';

const REDUCE = shaderModule({
  name: 'reduce',
  source: reduceCode,
  bindings: { x: 'read', out: 'read_write' },
  params: { batch: 'u32', channels: 'u32', length: 'u32', accumulate: 'u32' },
});
const SUM_BATCH_LENGTH = REDUCE.kernel('sum_batch_length');
/** Invocations of the workgroup that sums one channel on hardware adapters. */
const SUM_WG = 256;
const SUM_BATCH_LENGTH_WG = REDUCE.kernel('sum_batch_length_wg', { workgroupSize: SUM_WG });

/**
 * target[c] (+)= sum over b and l of x[b, c, l]: bias gradients in fixed order. One invocation per
 * channel on CPU drivers; with workgroup reductions (KernelConfig.reductions, hardware adapters) a
 * workgroup per channel where the sums are long enough to fill one.
 */
export function emitSumBatchLength(
  e: Emitter,
  x: Tensor,
  target: GradTarget,
  batch: number,
  channels: number,
  length: number,
): void {
  const io = { x, out: target.tensor };
  const p = { batch, channels, length, accumulate: target.accumulate };
  if (e.config.reductions === 'workgroup' && batch * length >= SUM_WG)
    e.dispatch(SUM_BATCH_LENGTH_WG, io, p, channels * SUM_WG); // a workgroup per channel
  else e.dispatch(SUM_BATCH_LENGTH, io, p, channels);
}

/**
 * A [batch, channels, spatial...] tensor seen as [B, C, L] with L the product of the spatial
 * dimensions (a feature map [B, C, H, W] is [B, C, H W]); rank 3 or more.
 */
export function channelView(x: Tensor, what: string): [number, number, number] {
  if (x.shape.length < 3)
    throw new Error(`${what}: input ${x} must be [batch, channels, length] or [batch, channels, height, width]`);
  return [x.shape[0], x.shape[1], x.shape.slice(2).reduce((a, b) => a * b, 1)];
}

/** Checks that a size is a positive integer; names the op and field otherwise. */
export function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${what} = ${v}, expected a positive integer`);
  return v;
}

export function nonNegativeInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${what} = ${v}, expected a non-negative integer`);
  return v;
}
