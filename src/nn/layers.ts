// Layers: create their parameters (PyTorch's default initialisation, U(-1/sqrt(fan_in), +)) and
// add their ops to a graph.
import type { Graph, Tensor } from '../core/graph.js';
import { linear } from '../core/ops/linear.js';

export const fanInBound = (fanIn: number) => ({ kind: 'uniform' as const, bound: 1 / Math.sqrt(fanIn) });

/** Linear in -> out on x [B, in]; parameters `${name}.w` [in, out] and `${name}.b` [out]. */
export function linearLayer(g: Graph, name: string, x: Tensor, inFeatures: number, outFeatures: number): Tensor {
  const w = g.param(`${name}.w`, [inFeatures, outFeatures], fanInBound(inFeatures));
  const b = g.param(`${name}.b`, [outFeatures], fanInBound(inFeatures));
  return linear(g, x, w, b, name);
}
