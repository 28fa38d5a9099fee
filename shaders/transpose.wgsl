// A copy of the matmul operand A [batch, m, k] (any strides, from a_off) as A^T [batch, k, mp]:
// rows m contiguous, mp = m rounded up to a multiple of 4 (zeros past m), so that the blocked
// matmul reads it as vec4s (matmul_a4.wgsl). Invocation (x, y, z) writes the vec4 of rows 4x..4x+3
// at k = y in batch z.

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4f>;
@group(0) @binding(2) var<uniform> p: TransposeParams;

struct TransposeParams { m: u32, k: u32, mp: u32, a_sm: u32, a_sk: u32, a_sb: u32, a_off: u32 }

@compute @workgroup_size(WG)
fn transpose_a(@builtin(global_invocation_id) gid: vec3u) {
  let m0 = 4u * gid.x;
  if (m0 >= p.mp) { return; }
  let base = p.a_off + gid.z * p.a_sb + gid.y * p.a_sk;
  var v = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (m0 + j < p.m) { v[j] = src[base + (m0 + j) * p.a_sm]; }
  }
  dst[(gid.z * p.k + gid.y) * (p.mp / 4u) + gid.x] = v;
}
