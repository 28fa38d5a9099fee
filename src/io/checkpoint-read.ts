// A decoded checkpoint loaded into a program: the part of checkpoint.ts that needs no file
// system, so the browser demo loads weights it fetched the same way Node loads them from disk.
import { requireMetadata, type Safetensors } from './safetensors-codec.js';
import type { Program } from '../core/program.js';

export const CHECKPOINT_FORMAT = 'diffusion-webgpu/2';

/**
 * Loads the checkpoint `file` (named `source` in errors) into `program`, which must carry exactly
 * `settings` and every parameter the program has. For sampling, the named weights become the
 * parameters; with `resume`, the raw parameters, the moving average, Adam's moments and the step
 * counter are restored instead. Returns the step the checkpoint was taken at.
 */
export function applyCheckpoint(
  file: Safetensors,
  source: string,
  program: Program,
  settings: Record<string, string>,
  resume = false,
): number {
  requireMetadata(file, { format: CHECKPOINT_FORMAT, ...settings }, source);
  const store = program.store;
  const state = file.tensors.get('optimizer.state');
  if (state?.dtype !== 'U32' || state.data.length !== 4)
    throw new Error(`${source}: "optimizer.state" is missing or not U32 [4]`);
  const finite = (name: string, data: ArrayLike<number>) => {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new Error(`${source}: tensor "${name}" holds a non-finite value at ${i}`);
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
        throw new Error(`${source}: "${name}" is missing or not F32 [${store.length}]`);
      finite(name, t.data);
      program.writeStore(which, t.data as Float32Array);
    }
    program.write(program.graph.state, state.data);
    return state.data[0];
  }
  const params = new Float32Array(store.length);
  for (const s of store.slots) {
    const t = file.tensors.get(s.name);
    if (!t) throw new Error(`${source}: checkpoint has no tensor "${s.name}"`);
    if (t.dtype !== 'F32' || t.shape.join('x') !== s.shape.join('x')) {
      throw new Error(
        `${source}: tensor "${s.name}" is ${t.dtype} [${t.shape.join(', ')}], expected F32 [${s.shape.join(', ')}]`,
      );
    }
    finite(s.name, t.data);
    params.set(t.data as Float32Array, s.offset);
  }
  program.writeStore('params', params);
  return state.data[0];
}
