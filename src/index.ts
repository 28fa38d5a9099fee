// The engine's public entry for Node (runners, benchmarks): dist/engine.js.

// Devices
export { getNodeGpu, type NodeGpuOptions } from './gpu/node.js';
export { pumpStats, type PumpStats } from './gpu/pump.js';
export type { Gpu, AdapterKind } from './gpu/gpu.js';
export {
  defaultKernelConfig,
  kernelConfig,
  setKernelConfig,
  withKernelConfig,
  type KernelConfig,
  type MatmulVariant,
} from './core/config.js';

// The graph and its ops
export { Graph, Tensor } from './core/graph.js';
export { declaredKernels, shaderModule, type KernelDef } from './core/kernel.js';
export { Program } from './core/program.js';
export { linear } from './core/ops/linear.js';
export { conv2d, convTranspose2d, upsampleConv2d, type Conv2dOptions } from './core/ops/conv2d.js';
export { attention } from './core/ops/attention.js';
export { upsample2x } from './core/ops/upsample.js';
export { add, mul, silu } from './core/ops/elementwise.js';
export { regressionLoss, weightedSum, crossEntropy } from './core/ops/loss.js';
export { random } from './core/ops/random.js';

// Diffusion on two pixels
export { MIXTURE, mixturePdf, sampleMixture } from './data/mixture.js';
export { makeSchedule } from './diffusion/schedule.js';
export { defaultTwoPixelConfig } from './models/twopixel/unet.js';
export {
  TwoPixelTrainer,
  defaultTrainOptions,
  buildTrainingGraph,
  sampleOpByOp,
  sampleFused,
  estimateGamma,
  residualGamma,
  epsErrorByT,
  visitedTimes,
  P_UNCOND,
} from './diffusion/twopixel.js';
export {
  TrajectoryDensity,
  rowStats,
  type DensityGrid,
  type TrajectoryShape,
  type TrajectorySummary,
} from './diffusion/density.js';
export { createClassifierTrainer, sampleClassifierGuided } from './diffusion/classifier.js';
export { exactEps, exactGamma, referenceGamma, sampleOracle } from './diffusion/oracle.js';
export { sampleMetrics, formatMetricsTable, labelAccuracy } from './diffusion/metrics.js';

// MNIST
export { loadMnist, parseIdx, type MnistSet } from './data/mnist.js';
export { mnistUNet, defaultMnistConfig, MNIST_NO_LABEL, type MnistUNetConfig } from './models/mnist/unet.js';
export { MNIST_PRESETS } from './models/mnist/spec.js';
export { createMnistTrainer, defaultMnistTrainOptions, MnistSampler, sampleMnist } from './diffusion/mnist.js';

// Runners, files, figures
export { sweepMain } from './study/sweep.js';
export { trajectoryMain } from './study/trajectory.js';
export { guidanceMain } from './study/guidance.js';
export { reportMain, buildReport } from './study/report.js';
export { mnistMain } from './study/mnist.js';
export { classifierMain } from './study/judge.js';
export { exportWeights } from './io/weights.js';
export { renderEmergence } from './viz/emergence.js';
export { measureEmergence } from './study/emergence.js';
export { obtainModel, modelConfig } from './study/models.js';
export { studySettings, samplerOptions } from './study/flags.js';
export { writeFileAtomic } from './io/atomic.js';
export * from './viz/index.js';
