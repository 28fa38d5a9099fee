// A for the blocked matmul (matmul_blocked.wgsl): the tile's rows of A at k, one read per row.
@group(0) @binding(0) var<storage, read> a: array<f32>;

fn a_column(rows: array<u32, 8>, base4: u32, ak: u32) -> array<f32, 8> {
  var col: array<f32, 8>;
  for (var r = 0u; r < 8u; r++) { col[r] = a[rows[r] + ak]; }
  return col;
}
