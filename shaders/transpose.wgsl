// A copy of the matmul operand A [batch, m, k] (any strides, from a_off) as A^T [batch, k, mp]:
// rows m contiguous, mp >= m a multiple of 4 (zeros past m), so that the blocked matmul and the
// conv kernels read the rows of one k as vec4s at an address their lanes share. Invocation x
// copies column k = x of batch y, every row.

@compute @workgroup_size(WG)
fn transpose_a(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  if (k >= p.k) { return; }
  let base = p.a_off + gid.y * p.a_sb + k * p.a_sk;
  let row = (gid.y * p.k + k) * (p.mp / 4u);
  for (var m4 = 0u; m4 < p.mp / 4u; m4++) {
    var v = vec4f(0.0);
    for (var j = 0u; j < 4u; j++) {
      let m = 4u * m4 + j;
      if (m < p.m) { v[j] = src[base + m * p.a_sm]; }
    }
    dst[row + m4] = v;
  }
}
