// Checkpoints: the model's weights as named tensors (the moving average when training keeps one,
// which is what sampling uses), the raw parameters, Adam's moments and the step state (so a run
// resumes exactly), and the model's settings in the safetensors metadata. Written atomically.
import { loadSafetensors, requireMetadata, saveSafetensors, type TensorEntry } from './safetensors.js';
import type { Program } from '../core/program.js';

export const CHECKPOINT_FORMAT = 'diffusion-webgpu/2';

/** Checkpoints already noted as carrying no checksums: the note is given once per file. */
const noted = new Set<string>();

export async function saveCheckpoint(
  path: string,
  program: Program,
  settings: Record<string, string>,
  weights: 'params' | 'ema' = 'params',
): Promise<void> {
  const store = program.store;
  const [params, ema, m, v, state] = await Promise.all([
    program.readStore('params'),
    program.readStore('ema'),
    program.readStore('adamM'),
    program.readStore('adamV'),
    program.read(program.graph.state),
  ]);
  const named = weights === 'ema' ? ema : params;
  const tensors = new Map<string, TensorEntry>();
  for (const s of store.slots) {
    tensors.set(s.name, { dtype: 'F32', shape: [...s.shape], data: named.slice(s.offset, s.offset + s.size) });
  }
  const flat = (data: Float32Array): TensorEntry => ({ dtype: 'F32', shape: [store.length], data });
  tensors.set('optimizer.params', flat(params));
  tensors.set('optimizer.ema', flat(ema));
  tensors.set('optimizer.adam_m', flat(m));
  tensors.set('optimizer.adam_v', flat(v));
  tensors.set('optimizer.state', { dtype: 'U32', shape: [4], data: Uint32Array.from(state) });
  saveSafetensors(path, tensors, { format: CHECKPOINT_FORMAT, weights, ...settings }, { checksums: true });
}

/**
 * Loads a checkpoint into `program`, which must carry exactly `settings` and every parameter
 * the program has. For sampling, the named weights become the parameters; with `resume`, the
 * raw parameters, the moving average, Adam's moments and the step counter are restored instead.
 * Returns the step the checkpoint was taken at. Errors are one line naming the file.
 */
export function loadCheckpoint(
  path: string,
  program: Program,
  settings: Record<string, string>,
  resume = false,
): number {
  const file = loadSafetensors(path);
  if (!file.checksummed && !noted.has(path)) {
    noted.add(path);
    console.error(`note: ${path} carries no checksums (an older checkpoint, or another tool's); loaded unverified`);
  }
  requireMetadata(file, { format: CHECKPOINT_FORMAT, ...settings }, path);
  const store = program.store;
  const state = file.tensors.get('optimizer.state');
  if (state?.dtype !== 'U32' || state.data.length !== 4)
    throw new Error(`${path}: "optimizer.state" is missing or not U32 [4]`);
  const finite = (name: string, data: ArrayLike<number>) => {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new Error(`${path}: tensor "${name}" holds a non-finite value at ${i}`);
    }
  };
  if (resume) {
    for (const [name, which] of [
      ['optimizer.params', 'params'],
      ['optimizer.ema', 'ema'],
      ['optimizer.adam_m', 'adamM'],
      ['optimizer.adam_v', 'adamV'],
    ] as const) {
      const t = file.tensors.get(name);
      if (t?.dtype !== 'F32' || t.data.length !== store.length)
        throw new Error(`${path}: "${name}" is missing or not F32 [${store.length}]`);
      finite(name, t.data);
      program.writeStore(which, t.data as Float32Array);
    }
    program.write(program.graph.state, state.data);
    return state.data[0];
  }
  const params = new Float32Array(store.length);
  for (const s of store.slots) {
    const t = file.tensors.get(s.name);
    if (!t) throw new Error(`${path}: checkpoint has no tensor "${s.name}"`);
    if (t.dtype !== 'F32' || t.shape.join('x') !== s.shape.join('x')) {
      throw new Error(
        `${path}: tensor "${s.name}" is ${t.dtype} [${t.shape.join(', ')}], expected F32 [${s.shape.join(', ')}]`,
      );
    }
    finite(s.name, t.data);
    params.set(t.data as Float32Array, s.offset);
  }
  program.writeStore('params', params);
  return state.data[0];
}
