// Philox 4x32-10 (Salmon et al. 2011), the engine's counter-based generator, bit-identical to
// shaders/philox.wgsl. A draw is a pure function of (key, counter): key = the run's seed,
// counter = (element index, stream, step, lane block), so any kernel can draw independently.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32s, from 16-bit halves (as WGSL must do it). */
export function mulhi(a: number, b: number): number {
  const a0 = a & 0xffff,
    a1 = a >>> 16,
    b0 = b & 0xffff,
    b1 = b >>> 16;
  const p01 = a0 * b1,
    p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

/** Philox 4x32 with 10 rounds: four u32 words from a four-word counter and a two-word key. */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>): Uint32Array {
  let c0 = counter[0] >>> 0,
    c1 = counter[1] >>> 0,
    c2 = counter[2] >>> 0,
    c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0,
    k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0, c0),
      lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2),
      lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return new Uint32Array([c0, c1, c2, c3]);
}

/** A u32 to a float in [0, 1): its top 24 bits, exactly representable. */
export function toUniform(u: number): number {
  return (u >>> 8) * 2 ** -24;
}

/** A u32 to a float in (0, 1], safe under log(). */
export function toUniformOpen(u: number): number {
  return ((u >>> 8) + 1) * 2 ** -24;
}

/** An integer in [0, n) from a u32 (multiply-high; bias below 2^-32 * n). */
export function toIndex(u: number, n: number): number {
  return mulhi(u, n);
}

/** Two standard normals from two u32s (Box-Muller), as the shaders compute them in f32. */
export function toNormalPair(u0: number, u1: number): [number, number] {
  const r = Math.sqrt(-2 * Math.log(toUniformOpen(u0)));
  const theta = 2 * Math.PI * toUniform(u1);
  return [r * Math.cos(theta), r * Math.sin(theta)];
}

/** Splits a seed (a non-negative safe integer) into the generator's two key words. */
export function seedKey(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`seed ${seed} is not a non-negative safe integer`);
  }
  return [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0];
}

/**
 * A host-side stream of draws for initialisation and tests: counter (i, stream, 0, 0) for the
 * i-th block of four words. Same seed and stream, same numbers.
 */
export class PhiloxStream {
  private readonly key: [number, number];
  private block = 0;
  private words: Uint32Array = new Uint32Array(0);
  private next = 4;

  constructor(
    seed: number,
    readonly stream: number,
  ) {
    this.key = seedKey(seed);
  }

  u32(): number {
    if (this.next === 4) {
      this.words = philox4x32([this.block++, this.stream, 0, 0], this.key);
      this.next = 0;
    }
    return this.words[this.next++];
  }

  uniform(): number {
    return toUniform(this.u32());
  }

  normal(): number {
    return toNormalPair(this.u32(), this.u32())[0];
  }
}
