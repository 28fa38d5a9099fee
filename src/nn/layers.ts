// Layers: create their parameters (PyTorch's default initialisation, U(-1/sqrt(fan_in), +)) and
// add their ops to a graph.
import type { Graph, Tensor } from '../core/graph.js';
import { linear } from '../core/ops/linear.js';
import { conv1d, convTranspose1d, type Conv1dOptions } from '../core/ops/conv1d.js';
import { groupNorm } from '../core/ops/groupnorm.js';

const fanInBound = (fanIn: number) => ({ kind: 'uniform' as const, bound: 1 / Math.sqrt(fanIn) });

/** Linear in -> out on x [B, in]; parameters `${name}.w` [in, out] and `${name}.b` [out]. */
export function linearLayer(g: Graph, name: string, x: Tensor, inFeatures: number, outFeatures: number): Tensor {
  const w = g.param(`${name}.w`, [inFeatures, outFeatures], fanInBound(inFeatures));
  const b = g.param(`${name}.b`, [outFeatures], fanInBound(inFeatures));
  return linear(g, x, w, b, name);
}

export function conv1dLayer(g: Graph, name: string, x: Tensor, cin: number, cout: number, kernel: number, options: Conv1dOptions = {}): Tensor {
  const w = g.param(`${name}.w`, [cout, cin, kernel], fanInBound(cin * kernel));
  const b = g.param(`${name}.b`, [cout], fanInBound(cin * kernel));
  return conv1d(g, x, w, b, options, name);
}

/** PyTorch computes a transposed conv's fan-in from weight dim 1: cout * kernel. */
export function convTranspose1dLayer(g: Graph, name: string, x: Tensor, cin: number, cout: number, kernel: number, options: { stride?: number; padding?: number } = {}): Tensor {
  const w = g.param(`${name}.w`, [cin, cout, kernel], fanInBound(cout * kernel));
  const b = g.param(`${name}.b`, [cout], fanInBound(cout * kernel));
  return convTranspose1d(g, x, w, b, options, name);
}

export function groupNormLayer(g: Graph, name: string, x: Tensor, groups: number, channels: number): Tensor {
  const gamma = g.param(`${name}.gamma`, [channels], { kind: 'const', value: 1 });
  const beta = g.param(`${name}.beta`, [channels], { kind: 'const', value: 0 });
  return groupNorm(g, x, gamma, beta, groups, 1e-5, name);
}
