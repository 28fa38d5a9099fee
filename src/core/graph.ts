// A graph records a model once for a fixed batch: tensors with static shapes, and op nodes that
// know how to emit their forward kernels and, for training, their backward kernels.
import type { KernelDef } from './kernel.js';

export type DType = 'f32' | 'u32';

/**
 * input: written by the host or a data kernel; param: lives in the flat parameter store;
 * state: the per-step device scalars; activation: produced by an op, memory planned.
 */
export type Role = 'input' | 'param' | 'state' | 'activation';

export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; bound: number }
  | { kind: 'const'; value: number }
  | { kind: 'values'; data: ArrayLike<number> };

export class Tensor {
  readonly size: number;
  constructor(
    readonly id: number,
    readonly name: string,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly role: Role,
    /** params only: how the store initialises it, and whether Adam updates it. */
    readonly init?: Init,
    readonly trainable = false,
    /** inputs only: whether the backward pass should produce its gradient. */
    readonly wantsGrad = false,
    /** inputs only: written once before the first run; ops that read only constants run once. */
    readonly constant = false,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  toString(): string {
    return `${this.name}[${this.shape.join('x')}]`;
  }
}

/** Checks a shape: a non-empty list of positive integers. `what` names it in the error. */
export function checkShape(shape: readonly number[], what: string): void {
  if (!Array.isArray(shape) || shape.length === 0) {
    throw new Error(`${what}: shape ${JSON.stringify(shape)} is not a non-empty array of sizes`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d <= 0) {
      throw new Error(`${what}: shape [${shape.join(', ')}] has size ${d}, expected a positive integer`);
    }
  }
}

/** Throws unless `t` has exactly `shape`; `what` names the op and operand. */
export function expectShape(t: Tensor, shape: readonly number[], what: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${what}: ${t} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
}

export function expectDtype(t: Tensor, dtype: DType, what: string): void {
  if (t.dtype !== dtype) throw new Error(`${what}: ${t} is ${t.dtype}, expected ${dtype}`);
}

/** A uniform parameter: a bare number is a u32; wrap floats with f32() and signed ints with i32(). */
export class F32 {
  constructor(readonly value: number) {}
}
export class I32 {
  constructor(readonly value: number) {}
}
export const f32 = (v: number): F32 => new F32(v);
export const i32 = (v: number): I32 => new I32(v);
export type Param = number | F32 | I32;

/** Where an op writes an input's gradient: overwrite (accumulate 0) or add (accumulate 1). */
export interface GradTarget {
  tensor: Tensor;
  accumulate: number;
}

/** What an op uses to emit kernels while a graph is compiled. */
export interface Emitter {
  /** One dispatch of `kernel`: `count` invocations (1-D, folded as needed) or explicit workgroups. */
  dispatch(
    kernel: KernelDef,
    bindings: readonly Tensor[],
    params: readonly Param[],
    count: number | { workgroups: [number, number, number] },
  ): void;
  /** The gradient of an op's output (backward only). */
  grad(t: Tensor): Tensor;
  /** Where to put the gradient of an op's input, or null if none is needed. */
  gradTarget(t: Tensor): GradTarget | null;
  /** A temporary tensor, memory planned like activations. */
  scratch(name: string, shape: readonly number[], dtype?: DType): Tensor;
  /**
   * Whether kernels may broadcast a value one lane read to the others of its subgroup of
   * BROADCAST_LANES (src/gpu/gpu.ts: broadcasts); the kernels that do need the 'subgroups' feature.
   */
  readonly broadcasts: boolean;
  /** The flat parameter store, for fused kernels that read many parameters at once. */
  readonly store: { params: Tensor; grads: Tensor; offset(param: Tensor): number };
}

export interface OpNode {
  readonly type: string;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  forward(e: Emitter): void;
  /**
   * Emits the gradients of the inputs from the gradient of outputs[0]; absent: not
   * differentiable. A loss op either names the gradient its forward already produced
   * (seedsGrad), or computes it here itself (a fused loss: backward runs from it).
   */
  backward?(e: Emitter): void;
  readonly seedsGrad?: { of: Tensor; grad: Tensor };
  /** A fused loss: its backward computes its inputs' gradients with no upstream gradient. */
  readonly fusedLoss?: boolean;
  /** Runs after the backward pass (its forward may read gradients with e.grad), e.g. a guided update. */
  readonly afterBackward?: boolean;
}

export class Graph {
  readonly tensors: Tensor[] = [];
  readonly ops: OpNode[] = [];
  readonly params: Tensor[] = [];
  /** Per-step device scalars: [step, seed low word, seed high word, unused]. */
  readonly state: Tensor;
  private readonly names = new Set<string>();

  constructor(readonly name = 'graph') {
    this.state = this.tensor('state', [4], 'u32', 'state');
  }

  private tensor(
    name: string,
    shape: readonly number[],
    dtype: DType,
    role: Role,
    init?: Init,
    trainable = false,
    wantsGrad = false,
    constant = false,
  ): Tensor {
    checkShape(shape, name);
    const t = new Tensor(this.tensors.length, name, [...shape], dtype, role, init, trainable, wantsGrad, constant);
    this.tensors.push(t);
    return t;
  }

  private claim(name: string, what: string): void {
    if (typeof name !== 'string' || name === '') throw new Error(`${what} name ${JSON.stringify(name)} must be a non-empty string`);
    if (this.names.has(name)) throw new Error(`${what} name "${name}" is already used in graph "${this.name}"`);
    this.names.add(name);
  }

  /**
   * A tensor the host (or a data kernel) fills; `requiresGrad` asks backward for its gradient;
   * `constant` promises it is written once before the first run (ops reading only constants and
   * frozen parameters then run once, not every step).
   */
  input(name: string, shape: readonly number[], dtype: DType = 'f32', options: { requiresGrad?: boolean; constant?: boolean } = {}): Tensor {
    this.claim(name, 'input');
    if (options.requiresGrad && dtype !== 'f32') throw new Error(`input ${name}: only f32 inputs can have gradients`);
    if (options.requiresGrad && options.constant) throw new Error(`input ${name}: a constant input has no gradient`);
    return this.tensor(name, shape, dtype, 'input', undefined, false, !!options.requiresGrad, !!options.constant);
  }

  /** A parameter in the flat store; frozen ones (trainable false) are saved but never updated. */
  param(name: string, shape: readonly number[], init: Init, options: { trainable?: boolean } = {}): Tensor {
    this.claim(name, 'param');
    const t = this.tensor(name, shape, 'f32', 'param', init, options.trainable ?? true);
    this.params.push(t);
    return t;
  }

  /** An op's output; memory is planned when the graph is compiled. */
  activation(name: string, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    return this.tensor(name, shape, dtype, 'activation');
  }

  add(op: OpNode): void {
    for (const t of op.inputs) {
      if (this.tensors[t.id] !== t) throw new Error(`op ${op.type}: input ${t} belongs to another graph`);
    }
    this.ops.push(op);
  }

  /** Whether the backward pass must produce a gradient for `t`. */
  gradientFlow(): Set<Tensor> {
    const flows = new Set<Tensor>();
    for (const p of this.params) if (p.trainable) flows.add(p);
    for (const t of this.tensors) if (t.wantsGrad) flows.add(t);
    for (const op of this.ops) {
      if (op.backward && op.inputs.some((t) => flows.has(t))) for (const o of op.outputs) flows.add(o);
    }
    return flows;
  }
}
