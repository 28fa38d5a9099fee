// The row operand of the conv kernels (shaders/conv2d.wgsl) for drivers without subgroup
// broadcasts: the weight from its transposed copy as two vec4s at inner index kk (binding 5:
// [inner, rows_pad]), and dy at the eight row indices `at` (the weight gradient).

fn weight_rows(kk: u32, row0: u32, lane_at: u32) -> array<f32, 8> {
  let at = (kk * p.rows_pad + row0) / 4u;
  let lo = rows4[at];
  let hi = rows4[at + 1u];
  return array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
}

fn dy_rows(at: array<u32, 8>, lane_at: u32) -> array<f32, 8> {
  var v: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) { v[r] = rows_src[at[r]]; }
  return v;
}
