// Loss ops: each computes the loss and, in the same kernel, its gradient with respect to the
// prediction, which seeds the backward pass.
import lossCode from '../../../shaders/loss.wgsl';
import { defineKernel } from '../kernel.js';
import { expectDtype, expectShape, f32, type Graph, type Tensor } from '../graph.js';
import { positiveInt } from './util.js';

const REGRESSION = defineKernel('loss.regression', lossCode, 'regression', ['read', 'read', 'write', 'write', 'read', 'uniform'], { workgroupSize: 256 });
const CROSS_ENTROPY = defineKernel('loss.cross_entropy', lossCode, 'cross_entropy', ['read', 'read', 'write', 'write', 'read', 'uniform'], { workgroupSize: 256 });

export type LossKind = 'mse' | 'l1' | 'huber';
const KINDS: Record<LossKind | 'weighted_sum', number> = { mse: 0, l1: 1, huber: 2, weighted_sum: 3 };

export interface LossOptions {
  /** Steps of loss history kept on the device (loss of step s at s % history). */
  history?: number;
  /** Huber's threshold. */
  delta?: number;
}

function lossOp(g: Graph, type: string, pred: Tensor, target: Tensor, kind: number, options: LossOptions, rows = 0, classes = 0, labelBits = 0): Tensor {
  const history = positiveInt(options.history ?? 1, `${type} history`);
  const delta = options.delta ?? 1;
  if (!(delta > 0)) throw new Error(`${type}: huber delta = ${delta}, expected a positive number`);
  expectDtype(pred, 'f32', type);
  const loss = g.activation(`${type}.loss`, [history]);
  const grad = g.activation(`${type}.grad`, pred.shape);
  const kernel = type === 'cross_entropy' ? CROSS_ENTROPY : REGRESSION;
  g.add({
    type,
    inputs: [pred, target],
    outputs: [loss, grad],
    seedsGrad: { of: pred, grad },
    forward(e) {
      e.dispatch(kernel, [pred, target, grad, loss, g.state], [pred.size, kind, f32(delta), history, rows, classes, labelBits], { workgroups: [1, 1, 1] });
    },
  });
  return loss;
}

/** mean f(pred - target) with f = squared, absolute or Huber; the default training loss is 'mse'. */
export function regressionLoss(g: Graph, pred: Tensor, target: Tensor, kind: LossKind = 'mse', options: LossOptions = {}): Tensor {
  if (!Object.hasOwn(KINDS, kind) || kind === ('weighted_sum' as LossKind)) throw new Error(`loss kind "${kind}" is not one of mse, l1, huber`);
  expectShape(target, pred.shape, `${kind} loss target`);
  return lossOp(g, kind, pred, target, KINDS[kind], options);
}

/** sum pred * weights: its gradient is `weights`, which lets tests seed any upstream gradient. */
export function weightedSum(g: Graph, pred: Tensor, weights: Tensor, options: LossOptions = {}): Tensor {
  expectShape(weights, pred.shape, 'weighted sum weights');
  return lossOp(g, 'weighted_sum', pred, weights, KINDS.weighted_sum, options);
}

/** -mean log softmax(logits)[label]; `labels` [rows] holds class indices (u32, or f32 values). */
export function crossEntropy(g: Graph, logits: Tensor, labels: Tensor, options: LossOptions = {}): Tensor {
  if (logits.shape.length !== 2) throw new Error(`cross entropy: logits ${logits} must be [rows, classes]`);
  const [rows, classes] = logits.shape;
  expectShape(labels, [rows], 'cross entropy labels');
  return lossOp(g, 'cross_entropy', logits, labels, 0, options, rows, classes, labels.dtype === 'u32' ? 1 : 0);
}
