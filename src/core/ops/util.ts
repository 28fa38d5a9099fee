import reduceCode from '../../../shaders/reduce.wgsl';
import { defineKernel } from '../kernel.js';
import type { Emitter, GradTarget, Graph, OpNode, Tensor } from '../graph.js';

export const SUM_BATCH_LENGTH = defineKernel('reduce.sum_batch_length', reduceCode, 'sum_batch_length', ['read', 'write', 'uniform']);

/** target[c] (+)= sum over b and l of x[b, c, l]: bias gradients in fixed order. */
export function emitSumBatchLength(e: Emitter, x: Tensor, target: GradTarget, batch: number, channels: number, length: number): void {
  e.dispatch(SUM_BATCH_LENGTH, [x, target.tensor], [batch, channels, length, target.accumulate], channels);
}

/** Adds an op built from plain functions; returns its outputs. */
export function addOp(g: Graph, op: OpNode): Tensor[] {
  g.add(op);
  return [...op.outputs];
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
