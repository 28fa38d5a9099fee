// Safetensors files in Node: the format of safetensors-codec.ts (browser-safe, bytes in and out)
// read from and written to disk, checksummed with Node's native SHA-256.
import { readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from './atomic.js';
import {
  decodeSafetensors as decodeBytes,
  encodeWithSource,
  fail,
  type EncodeOptions,
  type Safetensors,
  type TensorSet,
} from './safetensors-codec.js';

export * from './safetensors-codec.js';

const nativeSha256 = (input: Uint8Array | string) => createHash('sha256').update(input).digest('hex');

/** decodeSafetensors of safetensors-codec.ts, with the native SHA-256. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): Safetensors {
  return decodeBytes(bytes, source, nativeSha256);
}

/** encodeSafetensors of safetensors-codec.ts, with the native SHA-256. */
export function encodeSafetensors(
  tensors: TensorSet,
  metadata: Record<string, string> = {},
  options: EncodeOptions = {},
): Uint8Array {
  return encodeWithSource(tensors, metadata, { sha256: nativeSha256, ...options }, 'encodeSafetensors');
}

/** Writes a safetensors file atomically: `path` holds either the old file or the whole new one. */
export function saveSafetensors(
  path: string,
  tensors: TensorSet,
  metadata: Record<string, string> = {},
  options: EncodeOptions = {},
): void {
  writeFileAtomic(path, encodeWithSource(tensors, metadata, { sha256: nativeSha256, ...options }, path));
}

/** Reads and decodes a safetensors file; errors name `path`. */
export function loadSafetensors(path: string): Safetensors {
  let bytes: Uint8Array;
  try {
    if (statSync(path).isDirectory()) throw fail(path, 'is a folder, expected a safetensors file');
    bytes = readFileSync(path);
  } catch (err) {
    if ((err as Error).message.startsWith(`${path}: `)) throw err;
    throw fail(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}
