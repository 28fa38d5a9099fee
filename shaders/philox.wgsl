// Philox 4x32-10, bit-identical to src/core/philox.ts. Prepended to every kernel that draws.

const PHILOX_M0: u32 = 0xd2511f53u;
const PHILOX_M1: u32 = 0xcd9e8d57u;
const PHILOX_W0: u32 = 0x9e3779b9u;
const PHILOX_W1: u32 = 0xbb67ae85u;
const TWO_PI: f32 = 6.283185307179586;

// High 32 bits of a * b from 16-bit halves: WGSL has no 64-bit integers.
fn mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p01 = a0 * b1; let p10 = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}

fn philox4x32(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let hi0 = mulhi(PHILOX_M0, c.x); let lo0 = PHILOX_M0 * c.x;
    let hi1 = mulhi(PHILOX_M1, c.z); let lo1 = PHILOX_M1 * c.z;
    c = vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2u(PHILOX_W0, PHILOX_W1);
  }
  return c;
}

// [0, 1) from the top 24 bits.
fn to_uniform(u: u32) -> f32 { return f32(u >> 8u) * 5.9604644775390625e-8; }
// (0, 1], safe under log().
fn to_uniform_open(u: u32) -> f32 { return f32((u >> 8u) + 1u) * 5.9604644775390625e-8; }
// An integer in [0, n).
fn to_index(u: u32, n: u32) -> u32 { return mulhi(u, n); }
// Two standard normals (Box-Muller).
fn to_normal_pair(u0: u32, u1: u32) -> vec2f {
  let r = sqrt(-2.0 * log(to_uniform_open(u0)));
  let theta = TWO_PI * to_uniform(u1);
  return vec2f(r * cos(theta), r * sin(theta));
}
