// All parameters of a model live in one flat buffer (each tensor at a 256-byte aligned offset),
// with the gradients and Adam's two moments in buffers of the same layout: one Adam dispatch
// updates everything, and a checkpoint is that buffer with names. Trainable tensors come first so
// Adam's range never touches frozen ones.
import { PhiloxStream } from './philox.js';
import { PARAM_ALIGN, paramSpan, Tensor } from './graph.js';
import { checkBufferSize } from '../gpu/gpu.js';

export interface ParamSlot {
  name: string;
  shape: readonly number[];
  offset: number;
  size: number;
  trainable: boolean;
}

export class ParamStore {
  readonly slots: ParamSlot[] = [];
  /** Floats covered by trainable tensors (Adam's range). */
  readonly trainableLength: number;
  readonly length: number;
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly adamM: GPUBuffer;
  readonly adamV: GPUBuffer;
  /** An exponential moving average of the parameters (when the optimiser keeps one). */
  readonly ema: GPUBuffer;
  /** Whole-buffer tensors for kernels that sweep the store (Adam). */
  readonly flat: { params: Tensor; grads: Tensor; m: Tensor; v: Tensor; ema: Tensor };
  private readonly byName = new Map<string, ParamSlot>();

  constructor(
    readonly device: GPUDevice,
    readonly tensors: readonly Tensor[],
    seed: number,
    initial?: GPUBuffer,
  ) {
    const ordered = [...tensors.filter((t) => t.trainable), ...tensors.filter((t) => !t.trainable)];
    let offset = 0;
    let trainableEnd = 0;
    for (const t of ordered) {
      const slot = { name: t.name, shape: t.shape, offset, size: t.size, trainable: t.trainable };
      this.slots.push(slot);
      this.byName.set(t.name, slot);
      offset += paramSpan(t);
      if (t.trainable) trainableEnd = offset;
    }
    this.length = Math.max(offset, PARAM_ALIGN);
    this.trainableLength = trainableEnd;
    checkBufferSize(device, this.length * 4, `the parameter store of ${ordered.length} tensors`);
    const make = (label: string) =>
      device.createBuffer({
        label,
        size: this.length * 4,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
    this.params = make('params');
    this.grads = make('grads');
    this.adamM = make('adam.m');
    this.adamV = make('adam.v');
    this.ema = make('ema');
    const whole = (name: string) => new Tensor(-1, name, [this.length], 'f32', 'param');
    this.flat = {
      params: whole('params'),
      grads: whole('grads'),
      m: whole('adam.m'),
      v: whole('adam.v'),
      ema: whole('ema'),
    };
    const encoder = device.createCommandEncoder();
    if (initial) {
      encoder.copyBufferToBuffer(initial, 0, this.params, 0, this.length * 4);
    } else {
      device.queue.writeBuffer(this.params, 0, initialValues(ordered, this.slots, this.length, seed));
    }
    encoder.copyBufferToBuffer(this.params, 0, this.ema, 0, this.length * 4);
    device.queue.submit([encoder.finish()]);
  }

  /**
   * Where a parameter, or a parameter group (Graph.paramGroup: its members must lie here at the
   * offsets it gives them), lies in the store, in floats.
   */
  range(t: Tensor): { offset: number; size: number } {
    if (!t.members) return this.slot(t.name);
    const start = this.slot(t.members[0].tensor.name).offset;
    for (const m of t.members) {
      if (this.slot(m.tensor.name).offset !== start + m.offset)
        throw new Error(
          `parameter group ${t.name}: ${m.tensor.name} is not at offset ${m.offset} from the group's start in this store`,
        );
    }
    return { offset: start, size: t.size };
  }

  slot(name: string): ParamSlot {
    const s = this.byName.get(name);
    if (!s) throw new Error(`no parameter named "${name}" (have ${[...this.byName.keys()].join(', ')})`);
    return s;
  }

  /** Throws unless `tensors` lays out exactly like this store (same names, shapes, order). */
  checkCompatible(tensors: readonly Tensor[], what: string): void {
    const names = new Set(tensors.map((t) => t.name));
    for (const t of tensors) {
      const s = this.byName.get(t.name);
      if (!s || s.shape.join('x') !== t.shape.join('x') || s.trainable !== t.trainable) {
        throw new Error(
          `${what}: parameter ${t} does not match the shared store (${s ? `[${s.shape.join('x')}]` : 'absent'})`,
        );
      }
    }
    for (const s of this.slots) {
      if (!names.has(s.name)) throw new Error(`${what}: the shared store has parameter ${s.name} that the graph lacks`);
    }
  }

  /** A new store with the same layout whose parameters are a copy of this one's (or of its average). */
  clone(from: 'params' | 'ema' = 'params'): ParamStore {
    return new ParamStore(this.device, this.tensors, 0, from === 'ema' ? this.ema : this.params);
  }

  destroy(): void {
    for (const b of [this.params, this.grads, this.adamM, this.adamV, this.ema]) b.destroy();
  }
}

function initialValues(
  ordered: readonly Tensor[],
  slots: readonly ParamSlot[],
  length: number,
  seed: number,
): Float32Array<ArrayBuffer> {
  const out = new Float32Array(length);
  ordered.forEach((t, i) => {
    const { offset, size } = slots[i];
    const init = t.init!;
    const rng = new PhiloxStream(seed, 1000 + i);
    for (let j = 0; j < size; j++) {
      switch (init.kind) {
        case 'normal':
          out[offset + j] = init.std * rng.normal();
          break;
        case 'uniform':
          out[offset + j] = init.bound * (2 * rng.uniform() - 1);
          break;
        case 'const':
          out[offset + j] = init.value;
          break;
        case 'values': {
          if (init.data.length !== size)
            throw new Error(`param ${t}: init has ${init.data.length} values, expected ${size}`);
          out[offset + j] = init.data[j];
          break;
        }
      }
    }
  });
  return out;
}
