// C = op(A) op(B) (+ bias), batched: the linear layer and its backward. Operands are addressed by
// strides, so transposed operands (dX = dY W^T, dW = X^T dY) need no copies. 16x16 output tiles
// staged through workgroup memory; workgroup (x, y, z) = (column tile, row tile, batch).

const TILE: u32 = 16u;
var<workgroup> tile_a: array<array<f32, 16>, 16>;
var<workgroup> tile_b: array<array<f32, 16>, 16>;

fn tiled_product(lid: vec3u, wid: vec3u) -> f32 {
  let row = wid.y * TILE + lid.y;
  let col = wid.x * TILE + lid.x;
  let a_base = p.a_off + wid.z * p.a_sb;
  let b_base = p.b_off + wid.z * p.b_sb;
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.k; k0 += TILE) {
    let ka = k0 + lid.x;
    tile_a[lid.y][lid.x] = select(0.0, a[a_base + row * p.a_sm + ka * p.a_sk], row < p.m && ka < p.k);
    let kb = k0 + lid.y;
    tile_b[lid.y][lid.x] = select(0.0, b[b_base + kb * p.b_sk + col * p.b_sn], kb < p.k && col < p.n);
    workgroupBarrier();
    for (var kk = 0u; kk < TILE; kk++) {
      acc += tile_a[lid.y][kk] * tile_b[kk][lid.x];
    }
    workgroupBarrier();
  }
  return acc;
}

fn store(lid: vec3u, wid: vec3u, value: f32) {
  let row = wid.y * TILE + lid.y;
  let col = wid.x * TILE + lid.x;
  if (row >= p.m || col >= p.n) { return; }
  let i = p.c_off + wid.z * p.c_sb + row * p.c_sm + col * p.c_sn;
  c[i] = select(value, c[i] + value, p.accumulate == 1u);
}

// C[b, m, n] (+)= sum_k A[b, m, k] B[b, k, n]
@compute @workgroup_size(TILE, TILE)
fn matmul(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store(lid, wid, tiled_product(lid, wid));
}

// C[b, m, n] = sum_k A[b, m, k] B[b, k, n] + bias[n] (for m < bias_rows)
@compute @workgroup_size(TILE, TILE)
fn matmul_bias(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let col = wid.x * TILE + lid.x;
  let row = wid.y * TILE + lid.y;
  let value = tiled_product(lid, wid);
  store(lid, wid, value + select(0.0, bias[min(col, p.n - 1u)], col < p.n && row < p.bias_rows));
}
