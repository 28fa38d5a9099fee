// Compiling a graph: emit every op's kernels (forward, the loss's seeded gradient, the backward
// pass in reverse with gradients accumulated where a tensor fans out, Adam, the step advance),
// plan activation memory by lifetime, and create pipelines, buffers, uniforms and bind groups
// once. A run replays the prepared dispatch list, many steps in one submit.
import adamCode from '../../shaders/optim.wgsl';
import stateCode from '../../shaders/state.wgsl';
import { packParams, pipelineFor, shaderModule, type KernelDef, type ParamValue } from './kernel.js';
import { Tensor, type DType, type Emitter, type GradTarget, type Graph, type Grid } from './graph.js';
import { kernelConfig, type KernelConfig } from './config.js';
import { ParamStore } from './params.js';
import { seedKey } from './philox.js';
import { checkBufferSize, deviceFailure } from '../gpu/gpu.js';

const ADAM = shaderModule({
  name: 'optim',
  source: adamCode,
  bindings: {
    params: 'read_write vec4f',
    grads: 'read vec4f',
    m: 'read_write vec4f',
    v: 'read_write vec4f',
    state: 'read u32',
    ema: 'read_write vec4f',
  },
  params: {
    n: 'u32',
    lr: 'f32',
    beta1: 'f32',
    beta2: 'f32',
    eps: 'f32',
    weight_decay: 'f32',
    decay_steps: 'u32',
    warmup_steps: 'u32',
    ema_decay: 'f32',
    ema_warmup: 'u32',
  },
}).kernel('adam');
const ADVANCE = shaderModule({ name: 'state', source: stateCode, bindings: { state: 'read_write u32' } }).kernel(
  'advance_step',
  { workgroupSize: 1 },
);
/** Bytes of the uniform buffer each dispatch's parameters get: WebGPU's minUniformBufferOffsetAlignment. */
const UNIFORM_SLOT = 256;
const MAX_WORKGROUPS = 65535;

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** AdamW's decoupled weight decay; 0 gives plain Adam. */
  weightDecay?: number;
  /** Cosine learning-rate decay from lr at step 0 to 0 at this step; 0 keeps lr constant. */
  decaySteps?: number;
  /** Linear learning-rate warm-up from lr / warmupSteps at step 0 to lr at warmupSteps - 1; 0: none. */
  warmupSteps?: number;
  /** Decay of an exponential moving average of the parameters (0: none), kept in store.ema. */
  ema?: number;
  /** The usual EMA warm-up: at step k the decay is min(ema, (1 + k) / (10 + k)), so early
   *  averages are not dominated by the initial weights. */
  emaWarmup?: boolean;
}

export interface CompileOptions {
  /** Seeds parameter initialisation and every on-device random draw. */
  seed?: number;
  /** Train: the loss tensor (output of a loss op) and Adam's settings. */
  train?: { loss: Tensor; adam: AdamOptions };
  /** Backward without an optimiser, e.g. to an input's gradient: the loss op to start from. */
  gradientsOf?: Tensor;
  /** Tensors the host reads or binds after a run: never given to another tensor. */
  keep?: readonly Tensor[];
  /** Another program's parameter store, to share parameters (same names and shapes). */
  params?: ParamStore;
  /** Kernel variants for this program over the device's (src/core/config.ts). */
  config?: Partial<KernelConfig>;
}

interface Record_ {
  kernel: KernelDef;
  /** The tensors of kernel.bindings, in that order. */
  bindings: Tensor[];
  /** The parameter struct's bytes (empty without parameters). */
  uniform: Uint8Array;
  workgroups: [number, number, number];
  /** Part of the run-once prologue (reads only constants). */
  prologue?: boolean;
}

export interface DispatchInfo {
  kernel: string;
  workgroups: [number, number, number];
}

function workgroupsFor(count: number, wg: number, what: string): [number, number, number] {
  if (!Number.isInteger(count) || count <= 0)
    throw new Error(`${what}: dispatch size ${count} is not a positive integer`);
  const groups = Math.ceil(count / wg);
  if (groups <= MAX_WORKGROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_WORKGROUPS);
  if (y > MAX_WORKGROUPS) throw new Error(`${what}: ${count} invocations exceed the 2-D grid limit`);
  return [MAX_WORKGROUPS, y, 1];
}

function checkAdam(o: AdamOptions): Required<AdamOptions> {
  const full = {
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    decaySteps: 0,
    warmupSteps: 0,
    ema: 0,
    emaWarmup: false,
    ...o,
  };
  const bad = (name: string, v: number, ok: boolean, want: string) => {
    if (!ok) throw new Error(`adam ${name} = ${v}, expected ${want}`);
  };
  bad('lr', full.lr, Number.isFinite(full.lr) && full.lr > 0, 'a positive number');
  bad('beta1', full.beta1, full.beta1 >= 0 && full.beta1 < 1, 'in [0, 1)');
  bad('beta2', full.beta2, full.beta2 >= 0 && full.beta2 < 1, 'in [0, 1)');
  bad('eps', full.eps, Number.isFinite(full.eps) && full.eps > 0, 'a positive number');
  bad('weightDecay', full.weightDecay, Number.isFinite(full.weightDecay) && full.weightDecay >= 0, '>= 0');
  bad('ema', full.ema, full.ema >= 0 && full.ema < 1, 'in [0, 1)');
  bad(
    'warmupSteps',
    full.warmupSteps,
    Number.isInteger(full.warmupSteps) && full.warmupSteps >= 0,
    'a non-negative integer',
  );
  if (typeof full.emaWarmup !== 'boolean') throw new Error(`adam emaWarmup = ${full.emaWarmup}, expected a boolean`);
  bad(
    'decaySteps',
    full.decaySteps,
    Number.isInteger(full.decaySteps) && full.decaySteps >= 0,
    'a non-negative integer',
  );
  return full;
}

/** Emits the dispatch list of `graph` for the given options (no GPU objects yet). */
class Recorder implements Emitter {
  readonly records: Record_[] = [];
  readonly grads = new Map<Tensor, { tensor: Tensor; written: boolean }>();
  readonly paramGrads = new Map<Tensor, Tensor>();
  private scratchCount = 0;
  private nextId: number;

  constructor(
    readonly graph: Graph,
    readonly flows: Set<Tensor>,
    readonly config: KernelConfig,
  ) {
    this.nextId = graph.tensors.length;
  }

  dispatch<B extends string, P extends string>(
    kernel: KernelDef<B, P>,
    bindings: Readonly<Record<B, Tensor>>,
    params: Readonly<Record<P, ParamValue>>,
    grid: Grid,
  ): void {
    const given = new Set(Object.keys(bindings));
    const tensors = kernel.bindings.map((b) => {
      if (!given.delete(b.name)) throw new Error(`kernel ${kernel.name}: binding ${b.name} is missing`);
      let t = (bindings as Record<string, Tensor>)[b.name];
      if (!(t instanceof Tensor))
        throw new Error(`kernel ${kernel.name}: binding ${b.name} is ${String(t)}, expected a tensor`);
      if (t.gradientOf) t = this.grad(t.gradientOf);
      if (t.dtype !== b.dtype)
        throw new Error(`kernel ${kernel.name}: binding ${b.name} (${b.type}) got ${t}, which is ${t.dtype}`);
      return t;
    });
    if (given.size > 0)
      throw new Error(
        `kernel ${kernel.name}: unknown binding ${[...given].join(', ')} (it binds ${kernel.bindings.map((b) => b.name).join(', ')})`,
      );
    if (kernel.paramBytes > UNIFORM_SLOT)
      throw new Error(
        `kernel ${kernel.name}: its parameters take ${kernel.paramBytes} bytes, more than the ${UNIFORM_SLOT} of a slot`,
      );
    const uniform = new Uint8Array(kernel.paramBytes);
    packParams(kernel, params, new DataView(uniform.buffer));
    const workgroups =
      typeof grid === 'number' ? workgroupsFor(grid, kernel.workgroupSize, kernel.name) : grid.workgroups;
    this.records.push({ kernel, bindings: tensors, uniform, workgroups });
  }

  grad(t: Tensor): Tensor {
    const g = this.grads.get(t);
    if (!g?.written) throw new Error(`no gradient was produced for ${t}`);
    return g.tensor;
  }

  gradTarget(t: Tensor): GradTarget | null {
    if (!this.flows.has(t)) return null;
    let g = this.grads.get(t);
    if (!g) {
      const tensor = this.newTensor(`grad(${t.name})`, t.shape, 'f32', t.role === 'param' ? 'param' : 'activation');
      if (t.role === 'param') this.paramGrads.set(tensor, t);
      g = { tensor, written: false };
      this.grads.set(t, g);
    }
    const accumulate = g.written ? 1 : 0;
    g.written = true;
    return { tensor: g.tensor, accumulate };
  }

  scratch(name: string, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    return this.newTensor(`${name}#${this.scratchCount++}`, shape, dtype, 'activation');
  }

  private newTensor(name: string, shape: readonly number[], dtype: DType, role: 'param' | 'activation'): Tensor {
    return new Tensor(this.nextId++, name, shape, dtype, role);
  }
}

export class Program {
  private readonly dispatches: {
    pipeline: GPUComputePipeline;
    bindGroup: GPUBindGroup;
    workgroups: [number, number, number];
  }[] = [];
  private readonly prologue: {
    pipeline: GPUComputePipeline;
    bindGroup: GPUBindGroup;
    workgroups: [number, number, number];
  }[] = [];
  /** The prologue must run before the next replay. */
  private stale = true;
  private readonly bindingOf = new Map<Tensor, GPUBufferBinding>();
  private readonly owned: GPUBuffer[] = [];
  readonly info: DispatchInfo[];
  /** Bytes of planned activation memory, and what it would take without reuse. */
  readonly plannedBytes: number;
  readonly unplannedBytes: number;

  private constructor(
    readonly device: GPUDevice,
    readonly graph: Graph,
    readonly store: ParamStore,
    /** The kernel variants this program was compiled with. */
    readonly config: KernelConfig,
    private readonly grads: Map<Tensor, { tensor: Tensor; written: boolean }>,
    records: Record_[],
    layout: { bindings: Map<Tensor, GPUBufferBinding>; owned: GPUBuffer[]; planned: number; unplanned: number },
    compiled: { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }[],
  ) {
    this.bindingOf = layout.bindings;
    this.owned = layout.owned;
    this.plannedBytes = layout.planned;
    this.unplannedBytes = layout.unplanned;
    const uniformSize = Math.max(1, records.length) * UNIFORM_SLOT;
    const uniforms = device.createBuffer({
      label: `${graph.name}.uniforms`,
      size: uniformSize,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.owned.push(uniforms);
    const uniformData = new ArrayBuffer(uniformSize);
    records.forEach((r, i) => {
      new Uint8Array(uniformData, i * UNIFORM_SLOT, r.uniform.length).set(r.uniform);
      const entries: GPUBindGroupEntry[] = r.kernel.bindings.map((binding, j) => {
        const t = r.bindings[j];
        const b = this.bindingOf.get(t);
        if (!b) throw new Error(`kernel ${r.kernel.name}: tensor ${t} (binding ${binding.name}) has no buffer`);
        return { binding: binding.index, resource: b };
      });
      if (r.kernel.paramBytes > 0)
        entries.push({
          binding: r.kernel.paramBinding,
          resource: { buffer: uniforms, offset: i * UNIFORM_SLOT, size: UNIFORM_SLOT },
        });
      const { pipeline, layout: bgl } = compiled[i];
      const bindGroup = device.createBindGroup({ label: r.kernel.name, layout: bgl, entries });
      (r.prologue ? this.prologue : this.dispatches).push({ pipeline, bindGroup, workgroups: r.workgroups });
    });
    device.queue.writeBuffer(uniforms, 0, uniformData);
    this.info = records.filter((r) => !r.prologue).map((r) => ({ kernel: r.kernel.name, workgroups: r.workgroups }));
  }

  static async compile(device: GPUDevice, graph: Graph, options: CompileOptions = {}): Promise<Program> {
    const seed = options.seed ?? 0;
    seedKey(seed);
    const store = options.params ?? new ParamStore(device, graph.params, seed);
    if (options.params) options.params.checkCompatible(graph.params, `graph "${graph.name}"`);
    const flows = graph.gradientFlow();
    const config = kernelConfig(device, options.config);
    const rec = new Recorder(graph, flows, config);
    const lossTensor = options.train?.loss ?? options.gradientsOf;
    const lossIndex = lossTensor ? graph.ops.findIndex((op) => op.outputs[0] === lossTensor) : -1;
    const lossOp = lossTensor ? graph.ops[lossIndex] : undefined;
    if (lossTensor && (!lossOp?.loss || !lossOp.backward)) {
      throw new Error(`${lossTensor} is not the output of a loss op in graph "${graph.name}"`);
    }
    // Ops that read a gradient (gradientOf), and those after them that read their outputs, run
    // after the backward pass.
    const late = new Set<Tensor>(graph.tensors.filter((t) => t.role === 'gradient'));
    const after = graph.ops.filter((op) => {
      if (!op.inputs.some((t) => late.has(t))) return false;
      for (const o of op.outputs) late.add(o);
      return true;
    });
    if (after.length > 0 && !lossOp)
      throw new Error(
        `graph "${graph.name}" reads a gradient (${after[0].type}) but compiles without a loss to take it from`,
      );
    // Ops whose inputs are all constants or frozen parameters, and that draw nothing, form a
    // prologue run once (again after a constant or the store is rewritten).
    const fixed = new Set<Tensor>(graph.tensors.filter((t) => t.constant || (t.role === 'param' && !t.trainable)));
    for (const op of graph.ops) {
      if (after.includes(op)) continue;
      const begin = rec.records.length;
      op.forward(rec);
      const mine = rec.records.slice(begin);
      const draws = mine.some((r) => r.bindings.includes(graph.state));
      if (op.inputs.length > 0 && op.inputs.every((t) => fixed.has(t)) && !draws) {
        for (const o of op.outputs) fixed.add(o);
        for (const r of mine) r.prologue = true;
      }
    }
    if (lossTensor && lossOp?.backward) {
      if (!lossOp.inputs.some((t) => flows.has(t))) {
        throw new Error(`the loss ${lossTensor} does not depend on any parameter or input that wants a gradient`);
      }
      lossOp.backward(rec);
      for (let i = lossIndex - 1; i >= 0; i--) {
        const op = graph.ops[i];
        if (!op.backward || after.includes(op) || !rec.grads.get(op.outputs[0])?.written) continue;
        op.backward(rec);
      }
    }
    for (const op of after) op.forward(rec);
    if (options.train) {
      const a = checkAdam(options.train.adam);
      if (store.trainableLength > 0) {
        const f = store.flat;
        rec.dispatch(
          ADAM,
          { params: f.params, grads: f.grads, m: f.m, v: f.v, state: graph.state, ema: f.ema },
          {
            n: store.trainableLength,
            lr: a.lr,
            beta1: a.beta1,
            beta2: a.beta2,
            eps: a.eps,
            weight_decay: a.weightDecay,
            decay_steps: a.decaySteps,
            warmup_steps: a.warmupSteps,
            ema_decay: a.ema,
            ema_warmup: a.emaWarmup ? 1 : 0,
          },
          store.trainableLength / 4,
        );
      }
    }
    rec.dispatch(ADVANCE, { state: graph.state }, {}, 1);

    const keep = new Set<Tensor>(options.keep ?? []);
    for (const r of rec.records) if (r.prologue) for (const t of r.bindings) if (t.role === 'activation') keep.add(t);
    if (lossTensor) keep.add(lossTensor);
    for (const t of graph.tensors) if (t.wantsGrad && rec.grads.has(t)) keep.add(rec.grads.get(t)!.tensor);
    const layout = planMemory(device, graph, store, rec, keep);
    const compiled = await Promise.all(rec.records.map((r) => pipelineFor(device, r.kernel)));
    const program = new Program(device, graph, store, config, rec.grads, rec.records, layout, compiled);
    program.setSeed(seed);
    return program;
  }

  /** The buffer binding behind a tensor (for tests and for chaining programs). */
  binding(t: Tensor): GPUBufferBinding {
    const b = this.bindingOf.get(t);
    if (!b)
      throw new Error(`tensor ${t} has no buffer in program "${this.graph.name}" (planned away? pass it in keep)`);
    return b;
  }

  /**
   * The gradient tensor of an input that asked for one (requiresGrad) or of a trainable
   * parameter, also one whose gradient a parameter group's op wrote.
   */
  gradOf(t: Tensor): Tensor {
    const g = this.grads.get(t);
    if (g?.written) return g.tensor;
    const group = this.graph.groups.find((x) => x.members!.some((m) => m.tensor === t) && this.grads.get(x)?.written);
    if (!group) throw new Error(`program "${this.graph.name}" computes no gradient for ${t}`);
    const view = new Tensor(-1, `grad(${t.name})`, t.shape, 'f32', 'param');
    const s = this.store.slot(t.name);
    this.bindingOf.set(view, { buffer: this.store.grads, offset: s.offset * 4, size: s.size * 4 });
    this.grads.set(t, { tensor: view, written: true });
    return view;
  }

  /** Number of dispatches one replay encodes. */
  get dispatchCount(): number {
    return this.dispatches.length;
  }

  /** Encodes `steps` replays into an open compute pass (after the prologue when it is due). */
  encode(pass: GPUComputePassEncoder, steps = 1): void {
    const lists = this.stale ? [this.prologue] : [];
    this.stale = false;
    for (let s = 0; s < steps; s++) lists.push(this.dispatches);
    for (const list of lists) {
      for (const d of list) {
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
      }
    }
  }

  /**
   * Runs one replay with every dispatch in its own timed pass (needs 'timestamp-query') and
   * returns each dispatch's kernel and duration in microseconds: where a step's time goes.
   */
  async profile(): Promise<{ kernel: string; us: number }[]> {
    if (!this.device.features.has('timestamp-query'))
      throw new Error('profiling needs the timestamp-query feature, which this adapter lacks');
    const n = this.dispatches.length;
    const querySet = this.device.createQuerySet({ type: 'timestamp', count: 2 * n });
    const resolve = this.device.createBuffer({
      size: 16 * n,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const encoder = this.device.createCommandEncoder();
    this.dispatches.forEach((d, i) => {
      const pass = encoder.beginComputePass({
        timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
      });
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(...d.workgroups);
      pass.end();
    });
    encoder.resolveQuerySet(querySet, 0, 2 * n, resolve, 0);
    this.device.queue.submit([encoder.finish()]);
    const times = new BigUint64Array(await this.readBinding({ buffer: resolve, offset: 0, size: 16 * n }, 16 * n));
    querySet.destroy();
    resolve.destroy();
    return this.info.map((d, i) => ({ kernel: d.kernel, us: Number(times[2 * i + 1] - times[2 * i]) / 1000 }));
  }

  /** Runs `steps` replays in one submit. */
  run(steps = 1): void {
    if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps ${steps} is not a positive integer`);
    const encoder = this.device.createCommandEncoder({ label: this.graph.name });
    const pass = encoder.beginComputePass();
    this.encode(pass, steps);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  write(t: Tensor, data: ArrayLike<number>): void {
    if (data.length !== t.size) throw new Error(`write ${t}: got ${data.length} values, expected ${t.size}`);
    const typed = t.dtype === 'u32' ? Uint32Array.from(data) : Float32Array.from(data);
    const b = this.binding(t);
    this.device.queue.writeBuffer(b.buffer, b.offset ?? 0, typed);
    if (t.constant) this.stale = true;
  }

  /** Fills a tensor with one value (NaN poisons outputs before a test run). */
  fill(t: Tensor, value: number): void {
    this.write(t, new Array<number>(t.size).fill(value));
  }

  async read(t: Tensor): Promise<Float32Array | Uint32Array> {
    const bytes = await this.readBinding(this.binding(t), t.size * 4);
    return t.dtype === 'u32' ? new Uint32Array(bytes) : new Float32Array(bytes);
  }

  async readF32(t: Tensor): Promise<Float32Array> {
    if (t.dtype !== 'f32') throw new Error(`readF32: ${t} is ${t.dtype}`);
    return (await this.read(t)) as Float32Array;
  }

  /** `count` floats of `t` from element `start`: what a page draws, without reading the rest. */
  async readF32Range(t: Tensor, start: number, count: number): Promise<Float32Array> {
    if (t.dtype !== 'f32') throw new Error(`readF32Range: ${t} is ${t.dtype}`);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > t.size)
      throw new Error(`readF32Range ${t}: elements ${start}..${start + count} are not within its ${t.size}`);
    const b = this.binding(t);
    return new Float32Array(
      await this.readBinding({ buffer: b.buffer, offset: (b.offset ?? 0) + start * 4 }, count * 4),
    );
  }

  /** The whole flat store buffer: parameters, gradients or one of Adam's moments. */
  async readStore(which: 'params' | 'grads' | 'adamM' | 'adamV' | 'ema'): Promise<Float32Array> {
    return new Float32Array(await this.readBinding({ buffer: this.store[which] }, this.store.length * 4));
  }

  writeStore(which: 'params' | 'grads' | 'adamM' | 'adamV' | 'ema', data: Float32Array): void {
    if (data.length !== this.store.length)
      throw new Error(`store ${which}: got ${data.length} values, expected ${this.store.length}`);
    this.device.queue.writeBuffer(this.store[which], 0, data as Float32Array<ArrayBuffer>);
    this.stale = true;
  }

  /** Throws if the device was lost or reported an error: results read after that are not to be trusted. */
  checkDevice(): void {
    const failure = deviceFailure(this.device);
    if (failure) throw new Error(`${failure} (in "${this.graph.name}")`);
  }

  private async readBinding(b: GPUBufferBinding, size: number): Promise<ArrayBuffer> {
    this.checkDevice();
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(b.buffer, b.offset ?? 0, staging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (err) {
      this.checkDevice();
      throw new Error(`reading results from the GPU failed: ${(err as Error).message} (in "${this.graph.name}")`);
    }
    const copy = staging.getMappedRange().slice(0);
    staging.destroy();
    this.checkDevice();
    return copy;
  }

  /** Sets the seed of all on-device random draws and rewinds the step counter to `step`. */
  setSeed(seed: number, step = 0): void {
    const [lo, hi] = seedKey(seed);
    this.write(this.graph.state, [step, lo, hi, 0]);
  }

  async step(): Promise<number> {
    return (await this.read(this.graph.state))[0];
  }

  /** Every buffer this program owns (not the shared parameter store). */
  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}

function planMemory(device: GPUDevice, graph: Graph, store: ParamStore, rec: Recorder, keep: Set<Tensor>) {
  const bindings = new Map<Tensor, GPUBufferBinding>();
  const owned: GPUBuffer[] = [];
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const own = (label: string, bytes: number) => {
    checkBufferSize(device, bytes, `tensor ${label}`);
    const buffer = device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
    owned.push(buffer);
    return buffer;
  };
  for (const p of [...graph.params, ...graph.groups]) {
    const s = store.range(p);
    bindings.set(p, { buffer: store.params, offset: s.offset * 4, size: s.size * 4 });
  }
  const f = store.flat;
  const whole = (buffer: GPUBuffer) => ({ buffer, offset: 0, size: store.length * 4 });
  bindings.set(f.params, whole(store.params));
  bindings.set(f.grads, whole(store.grads));
  bindings.set(f.m, whole(store.adamM));
  bindings.set(f.v, whole(store.adamV));
  bindings.set(f.ema, whole(store.ema));
  for (const [g, p] of rec.paramGrads) {
    const s = store.range(p);
    bindings.set(g, { buffer: store.grads, offset: s.offset * 4, size: s.size * 4 });
  }
  const persistent = (t: Tensor) => t.role === 'input' || t.role === 'state' || keep.has(t);
  for (const t of graph.tensors) {
    if (persistent(t) && !bindings.has(t))
      bindings.set(t, { buffer: own(t.name, t.size * 4), offset: 0, size: t.size * 4 });
  }
  // Lifetimes over the dispatch list; tensors of the same byte size share a buffer when their
  // lifetimes do not overlap (greedy, in order of first use).
  const first = new Map<Tensor, number>();
  const last = new Map<Tensor, number>();
  rec.records.forEach((r, i) => {
    for (const t of r.bindings) {
      if (bindings.has(t)) continue;
      if (!first.has(t)) first.set(t, i);
      last.set(t, i);
    }
  });
  for (const t of keep) {
    if (!bindings.has(t) && first.has(t))
      bindings.set(t, { buffer: own(t.name, t.size * 4), offset: 0, size: t.size * 4 });
  }
  const free = new Map<number, GPUBuffer[]>();
  const endsAt = new Map<number, Tensor[]>();
  let planned = 0;
  let unplanned = 0;
  const order = [...first.keys()].filter((t) => !bindings.has(t)).sort((a, b) => first.get(a)! - first.get(b)!);
  let cursor = 0;
  for (let i = 0; i < rec.records.length; i++) {
    while (cursor < order.length && first.get(order[cursor]) === i) {
      const t = order[cursor++];
      const bytes = t.size * 4;
      unplanned += bytes;
      let buffer = free.get(bytes)?.pop();
      if (!buffer) {
        buffer = own(`planned.${bytes}`, bytes);
        planned += bytes;
      }
      bindings.set(t, { buffer, offset: 0, size: bytes });
      const end = last.get(t)!;
      endsAt.set(end, [...(endsAt.get(end) ?? []), t]);
    }
    for (const t of endsAt.get(i) ?? []) {
      const bytes = t.size * 4;
      free.set(bytes, [...(free.get(bytes) ?? []), bindings.get(t)!.buffer]);
    }
  }
  return { bindings, owned, planned, unplanned };
}
