// Checkpoints: the model's weights as named tensors (the moving average when training keeps one,
// which is what sampling uses), the raw parameters, Adam's moments and the step state (so a run
// resumes exactly), and the model's settings in the safetensors metadata. Written atomically.
import { loadSafetensors, saveSafetensors, type TensorEntry } from './safetensors.js';
import type { Program } from '../core/program.js';
import { applyCheckpoint, CHECKPOINT_FORMAT } from './checkpoint-read.js';

export { applyCheckpoint, CHECKPOINT_FORMAT };

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
 * Loads the checkpoint at `path` into `program` (see applyCheckpoint). Errors are one line naming
 * the file.
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
  return applyCheckpoint(file, path, program, settings, resume);
}
