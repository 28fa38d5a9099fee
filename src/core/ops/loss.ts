// Loss ops: the forward computes the loss (a fixed-order reduction in one workgroup, written to a
// loss history), the backward, which starts the backward pass, the gradient with respect to the
// prediction.
import lossCode from '../../../shaders/loss.wgsl';
import { shaderModule } from '../kernel.js';
import { expectDtype, expectShape, type Graph, type Tensor } from '../graph.js';
import { positiveInt } from './util.js';

export type LossKind = 'mse' | 'l1' | 'huber';
const KINDS = { mse: 0, l1: 1, huber: 2, weighted_sum: 3 } as const;
type Kind = keyof typeof KINDS;

const LOSS = shaderModule({
  name: 'loss',
  source: lossCode,
  constants: { KIND_MSE: KINDS.mse, KIND_L1: KINDS.l1, KIND_HUBER: KINDS.huber, KIND_WEIGHTED_SUM: KINDS.weighted_sum },
  bindings: {
    pred: 'read',
    target_values: 'read',
    labels: 'read u32',
    grad: 'read_write',
    loss: 'read_write',
    state: 'read u32',
  },
  params: { n: 'u32', kind: 'u32', delta: 'f32', history: 'u32', rows: 'u32', classes: 'u32', accumulate: 'u32' },
});
/** The loss reductions run in one workgroup this wide. */
const REDUCE_WG = 256;
const REGRESSION = {
  loss: LOSS.kernel('regression_loss', { uses: ['pred', 'target_values', 'loss', 'state'], workgroupSize: REDUCE_WG }),
  grad: LOSS.kernel('regression_grad', { uses: ['pred', 'target_values', 'grad'] }),
};
const CROSS_ENTROPY = {
  loss: LOSS.kernel('cross_entropy_loss', { uses: ['pred', 'labels', 'loss', 'state'], workgroupSize: REDUCE_WG }),
  grad: LOSS.kernel('cross_entropy_grad', { uses: ['pred', 'labels', 'grad'] }),
};

export interface LossOptions {
  /** Steps of loss history kept on the device (loss of step s at s % history). */
  history?: number;
  /** Huber's threshold. */
  delta?: number;
}

function history(type: string, options: LossOptions): number {
  return positiveInt(options.history ?? 1, `${type} history`);
}

function regressionOp(g: Graph, kind: Kind, pred: Tensor, target: Tensor, options: LossOptions): Tensor {
  const delta = options.delta ?? 1;
  if (!(delta > 0)) throw new Error(`${kind}: huber delta = ${delta}, expected a positive number`);
  expectDtype(pred, 'f32', kind);
  const loss = g.activation(`${kind}.loss`, [history(kind, options)]);
  const params = (accumulate: number) => ({
    n: pred.size,
    kind: KINDS[kind],
    delta,
    history: loss.size,
    rows: 0,
    classes: 0,
    accumulate,
  });
  g.add({
    type: kind,
    loss: true,
    inputs: [pred, target],
    outputs: [loss],
    forward: (e) =>
      e.dispatch(REGRESSION.loss, { pred, target_values: target, loss, state: g.state }, params(0), {
        workgroups: [1, 1, 1],
      }),
    backward(e) {
      const d = e.gradTarget(pred);
      if (d)
        e.dispatch(REGRESSION.grad, { pred, target_values: target, grad: d.tensor }, params(d.accumulate), pred.size);
    },
  });
  return loss;
}

/** mean f(pred - target) with f = squared, absolute or Huber; the default training loss is 'mse'. */
export function regressionLoss(
  g: Graph,
  pred: Tensor,
  target: Tensor,
  kind: LossKind = 'mse',
  options: LossOptions = {},
): Tensor {
  if (!Object.hasOwn(KINDS, kind) || kind === ('weighted_sum' as LossKind))
    throw new Error(`loss kind "${kind}" is not one of mse, l1, huber`);
  expectShape(target, pred.shape, `${kind} loss target`);
  return regressionOp(g, kind, pred, target, options);
}

/** sum pred * weights: its gradient is `weights`, which lets tests seed any upstream gradient. */
export function weightedSum(g: Graph, pred: Tensor, weights: Tensor, options: LossOptions = {}): Tensor {
  expectShape(weights, pred.shape, 'weighted sum weights');
  return regressionOp(g, 'weighted_sum', pred, weights, options);
}

/** -mean log softmax(logits)[label]; `labels` [rows] holds class indices (u32). */
export function crossEntropy(g: Graph, logits: Tensor, labels: Tensor, options: LossOptions = {}): Tensor {
  if (logits.shape.length !== 2) throw new Error(`cross entropy: logits ${logits} must be [rows, classes]`);
  const [rows, classes] = logits.shape;
  expectShape(labels, [rows], 'cross entropy labels');
  expectDtype(labels, 'u32', 'cross entropy labels');
  const loss = g.activation('cross_entropy.loss', [history('cross_entropy', options)]);
  const params = (accumulate: number) => ({
    n: logits.size,
    kind: 0,
    delta: 1,
    history: loss.size,
    rows,
    classes,
    accumulate,
  });
  g.add({
    type: 'cross_entropy',
    loss: true,
    inputs: [logits, labels],
    outputs: [loss],
    forward: (e) =>
      e.dispatch(CROSS_ENTROPY.loss, { pred: logits, labels, loss, state: g.state }, params(0), {
        workgroups: [1, 1, 1],
      }),
    backward(e) {
      const d = e.gradTarget(logits);
      if (d) e.dispatch(CROSS_ENTROPY.grad, { pred: logits, labels, grad: d.tensor }, params(d.accumulate), rows);
    },
  });
  return loss;
}
