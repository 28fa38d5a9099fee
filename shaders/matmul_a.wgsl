// A for the blocked matmul (matmul_blocked.wgsl): the tile's rows of A at k, one read per row.

// Row offsets of A for this workgroup's rows; out-of-range rows read a valid row, never stored.
struct ARef { rows: array<u32, 8> }

fn a_ref(lid: vec3u, wid: vec3u) -> ARef {
  var r: ARef;
  for (var i = 0u; i < ROWS; i++) { r.rows[i] = p.a_off + wid.z * p.a_sb + min(wid.y * ROWS + i, p.m - 1u) * p.a_sm; }
  return r;
}

fn a_column(r: ARef, ak: u32) -> array<f32, 8> {
  var col: array<f32, 8>;
  for (var i = 0u; i < ROWS; i++) { col[i] = a[r.rows[i] + ak]; }
  return col;
}
