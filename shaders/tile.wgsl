// The register tile of the blocked matmul (matmul_blocked.wgsl) and the conv kernels
// (conv2d.wgsl): ROWS rows x 8 columns per invocation, columns 0-3 in lo, 4-7 in hi.
const ROWS: u32 = 8u;

struct Tile { lo: array<vec4f, 8>, hi: array<vec4f, 8> }

// One inner step: the tile's rows' values v times the row segment [lo, hi].
fn accumulate(t: ptr<function, Tile>, v: array<f32, 8>, lo: vec4f, hi: vec4f) {
  for (var r = 0u; r < ROWS; r++) {
    (*t).lo[r] += v[r] * lo;
    (*t).hi[r] += v[r] * hi;
  }
}

// Two inner steps at once, each accumulator written once: lavapipe runs a loop with a per-lane
// mask and blends every value the loop carries (the 64 accumulators, most of them spilled) at
// each iteration, so two steps per iteration pay that once (matmul 1024^3: 32.6 -> 37.7 GFLOP/s).
fn accumulate2(t: ptr<function, Tile>, v0: array<f32, 8>, lo0: vec4f, hi0: vec4f, v1: array<f32, 8>, lo1: vec4f, hi1: vec4f) {
  for (var r = 0u; r < ROWS; r++) {
    (*t).lo[r] += v0[r] * lo0 + v1[r] * lo1;
    (*t).hi[r] += v0[r] * hi0 + v1[r] * hi1;
  }
}
