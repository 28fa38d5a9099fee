// Writing IDX files of unsigned bytes (LeCun's MNIST format: 00 00 08 rank, big-endian uint32
// dimensions, then the bytes), the inverse of parseIdx (src/data/mnist.ts): how generated digits
// leave the engine as data any MNIST tool reads.

/** An IDX file of unsigned bytes with dimensions `dims` (the data must hold their product). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length < 1 || dims.length > 255) throw new Error(`IDX: rank ${dims.length}, expected 1 to 255 dimensions`);
  const bad = dims.find((d) => !Number.isInteger(d) || d < 0 || d > 0xffffffff);
  if (bad !== undefined) throw new Error(`IDX: dimension ${bad} is not an integer in [0, 2^32)`);
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new Error(`IDX: dimensions ${dims.join('x')} hold ${size} bytes, got ${data.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + size);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Images in [-1, 1] as MNIST's bytes: 0 the black background (-1), 255 full ink (+1), rounded, clamped. */
export function toPixelBytes(images: Float32Array): Uint8Array {
  const out = new Uint8Array(images.length);
  for (let i = 0; i < images.length; i++) {
    const v = Math.round(((images[i] + 1) / 2) * 255);
    out[i] = Number.isNaN(v) ? 0 : Math.min(255, Math.max(0, v));
  }
  return out;
}
