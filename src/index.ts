// The engine's public entry for Node (runners, benchmarks): dist/engine.js.
export { getNodeGpu, type NodeGpuOptions } from './gpu/node.js';
export type { Gpu, AdapterKind } from './gpu/gpu.js';
export { writeFileAtomic } from './io/atomic.js';
export * from './viz/index.js';
export { Graph, Tensor, f32, i32 } from './core/graph.js';
export { Program } from './core/program.js';
export { TwoPixelTrainer, defaultTrainOptions, sampleOpByOp } from './diffusion/twopixel.js';
export { defaultTwoPixelConfig } from './nn/twopixel.js';
export { sampleFused, buildTrainingGraph } from './diffusion/twopixel.js';
export { sampleMetrics, formatMetricsTable, labelAccuracy } from './diffusion/metrics.js';
export { makeSchedule } from './diffusion/schedule.js';
export { MIXTURE, mixturePdf, sampleMixture } from './data/mixture.js';
export { sweepMain } from './study/sweep.js';
export { trajectoryMain } from './study/trajectory.js';
export { guidanceMain } from './study/guidance.js';
export { exactEps, sampleOracle } from './diffusion/oracle.js';
