// The row operand of the conv kernels (shaders/conv2d.wgsl) through subgroup broadcasts (needs
// `enable subgroups` and a workgroup that is one subgroup of 8 lanes, lane i being invocation i,
// as on lavapipe): lane i reads row i of the tile at rows_src[lane_at] (the weight in its own
// layout, or dy) and every lane takes the eight values from there; 8 reads per inner index where
// shaders/conv2d_rows.wgsl makes 64 (lavapipe reads a shared non-constant address once per lane).
fn spread(v: f32) -> array<f32, 8> {
  return array<f32, 8>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                       subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}

fn weight_rows(kk: u32, row0: u32, lane_at: u32) -> array<f32, 8> { return spread(rows_src[lane_at]); }

fn dy_rows(at: array<u32, 8>, lane_at: u32) -> array<f32, 8> { return spread(rows_src[lane_at]); }
