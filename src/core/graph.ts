// A graph records a model once for a fixed batch: tensors with static shapes, and op nodes that
// know how to emit their forward kernels and, for training, their backward kernels.
import type { KernelDef, ParamValue } from './kernel.js';
import type { KernelConfig } from './config.js';

export type DType = 'f32' | 'u32';

/**
 * input: written by the host or a data kernel; param: lives in the flat parameter store;
 * state: the per-step device scalars; activation: produced by an op, memory planned;
 * gradient: the gradient of another tensor, read by ops that run after the backward pass.
 */
export type Role = 'input' | 'param' | 'state' | 'activation' | 'gradient';

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
    /**
     * A parameter group: consecutive parameters of the store seen as one tensor, each member at
     * its offset (in floats) from the first; a gradient tensor: the tensor it is the gradient of.
     */
    readonly members?: readonly { tensor: Tensor; offset: number }[],
    readonly gradientOf?: Tensor,
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

/** Where an op writes an input's gradient: overwrite (accumulate 0) or add (accumulate 1). */
export interface GradTarget {
  tensor: Tensor;
  accumulate: number;
}

/** Invocations (1-D, folded into 2-D past 65535 workgroups) or explicit workgroups. */
export type Grid = number | { workgroups: [number, number, number] };

/** What an op uses to emit kernels while a graph is compiled. */
export interface Emitter {
  /**
   * One dispatch of `kernel` with its bindings and parameters by name: a missing, extra or
   * mistyped one is an Error naming it.
   */
  dispatch<B extends string, P extends string>(
    kernel: KernelDef<B, P>,
    bindings: Readonly<Record<B, Tensor>>,
    params: Readonly<Record<P, ParamValue>>,
    grid: Grid,
  ): void;
  /** The gradient of an op's output (backward only). */
  grad(t: Tensor): Tensor;
  /** Where to put the gradient of an op's input, or null if none is needed. */
  gradTarget(t: Tensor): GradTarget | null;
  /** A temporary tensor, memory planned like activations. */
  scratch(name: string, shape: readonly number[], dtype?: DType): Tensor;
  /** The kernel variants of the device the graph compiles for (src/core/config.ts). */
  readonly config: KernelConfig;
}

export interface OpNode {
  readonly type: string;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  forward(e: Emitter): void;
  /**
   * Emits the gradients of the inputs from the gradient of outputs[0]; absent: not
   * differentiable. A loss op's backward starts the backward pass and has no upstream gradient.
   */
  backward?(e: Emitter): void;
  /** A loss: its output is a loss history, and its backward needs no upstream gradient. */
  readonly loss?: boolean;
}

/** Floats each parameter's slot in the flat store is aligned to: 256 bytes, WebGPU's minStorageBufferOffsetAlignment. */
export const PARAM_ALIGN = 64;

/** Floats a parameter occupies in the flat store, its size rounded up to PARAM_ALIGN. */
export const paramSpan = (t: Tensor): number => Math.ceil(t.size / PARAM_ALIGN) * PARAM_ALIGN;

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

  /** Parameter groups (paramGroup), in the order they were made. */
  readonly groups: Tensor[] = [];

  private tensor(
    name: string,
    shape: readonly number[],
    dtype: DType,
    role: Role,
    init?: Init,
    trainable = false,
    wantsGrad = false,
    constant = false,
    members?: readonly { tensor: Tensor; offset: number }[],
    gradientOf?: Tensor,
  ): Tensor {
    checkShape(shape, name);
    const t = new Tensor(
      this.tensors.length,
      name,
      [...shape],
      dtype,
      role,
      init,
      trainable,
      wantsGrad,
      constant,
      members,
      gradientOf,
    );
    this.tensors.push(t);
    return t;
  }

  private claim(name: string, what: string): void {
    if (typeof name !== 'string' || name === '')
      throw new Error(`${what} name ${JSON.stringify(name)} must be a non-empty string`);
    if (this.names.has(name)) throw new Error(`${what} name "${name}" is already used in graph "${this.name}"`);
    this.names.add(name);
  }

  /**
   * A tensor the host (or a data kernel) fills; `requiresGrad` asks backward for its gradient;
   * `constant` promises it is written once before the first run (ops reading only constants and
   * frozen parameters then run once, not every step).
   */
  input(
    name: string,
    shape: readonly number[],
    dtype: DType = 'f32',
    options: { requiresGrad?: boolean; constant?: boolean } = {},
  ): Tensor {
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

  /**
   * Consecutive trainable parameters (in the order they were made) seen as one tensor, for a
   * fused kernel that reads and writes many of them: its gradient is the members' gradients side
   * by side, each at its offset (members[i].offset floats from the group's start).
   */
  paramGroup(name: string, members: readonly Tensor[]): Tensor {
    this.claim(name, 'parameter group');
    if (members.length === 0) throw new Error(`parameter group ${name}: no members`);
    const first = this.params.indexOf(members[0]);
    members.forEach((m, i) => {
      if (this.params[first + i] !== m || first < 0)
        throw new Error(
          `parameter group ${name}: ${m} is not the parameter made right after ${i === 0 ? 'nothing' : members[i - 1]} in graph "${this.name}"`,
        );
      if (!m.trainable) throw new Error(`parameter group ${name}: ${m} is frozen; a group holds trainable parameters`);
    });
    let offset = 0;
    const placed = members.map((tensor) => {
      const at = { tensor, offset };
      offset += paramSpan(tensor);
      return at;
    });
    const last = placed[placed.length - 1];
    const t = this.tensor(
      name,
      [last.offset + last.tensor.size],
      'f32',
      'param',
      undefined,
      true,
      false,
      false,
      placed,
    );
    this.groups.push(t);
    return t;
  }

  /** The gradient of `t` (a parameter, a group, or an input made with requiresGrad) as an input of ops that run after the backward pass. */
  gradientOf(t: Tensor): Tensor {
    if (this.tensors[t.id] !== t) throw new Error(`gradientOf: ${t} belongs to another graph`);
    if (!(t.role === 'param' && t.trainable) && !t.wantsGrad)
      throw new Error(`gradientOf: ${t} is neither a trainable parameter nor an input made with requiresGrad`);
    return this.tensor(`grad(${t.name})`, t.shape, 'f32', 'gradient', undefined, false, false, false, undefined, t);
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
    for (const p of [...this.params, ...this.groups]) if (p.trainable) flows.add(p);
    for (const t of this.tensors) if (t.wantsGrad) flows.add(t);
    for (const op of this.ops) {
      if (op.backward && op.inputs.some((t) => flows.has(t))) for (const o of op.outputs) flows.add(o);
    }
    return flows;
  }
}
