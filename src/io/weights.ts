// Weights to ship: a checkpoint without its optimiser (the raw parameters, their moving average
// and Adam's moments), keeping the sampling weights by name, the step state and the settings,
// so that loadCheckpoint reads it for sampling as it reads the full checkpoint.
import { loadSafetensors, saveSafetensors, type TensorEntry } from './safetensors.js';

/** Writes `to` from the checkpoint `from`; returns the number of weights kept. */
export function exportWeights(from: string, to: string): number {
  const file = loadSafetensors(from);
  const kept = new Map<string, TensorEntry>();
  let count = 0;
  for (const [name, t] of file.tensors) {
    if (name.startsWith('optimizer.') && name !== 'optimizer.state') continue;
    kept.set(name, t);
    if (!name.startsWith('optimizer.')) count += t.data.length;
  }
  if (!kept.has('optimizer.state')) throw new Error(`${from}: no "optimizer.state", not a checkpoint of this engine`);
  saveSafetensors(to, kept, { ...file.metadata, weights_only: 'true' }, { checksums: true });
  return count;
}
