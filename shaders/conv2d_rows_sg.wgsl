// The row operand of the conv kernels (shaders/conv2d.wgsl) through subgroup broadcasts
// (spread, shaders/spread.wgsl): lane i reads row i of the tile at rows_src[lane_at] (the weight
// in its own layout, or dy) and every lane takes the eight values from there; 8 reads per inner
// index where shaders/conv2d_rows.wgsl makes 64 (lavapipe reads a shared non-constant address
// once per lane).
fn weight_rows(kk: u32, row0: u32, lane_at: u32) -> array<f32, 8> { return spread(rows_src[lane_at]); }

fn dy_rows(at: array<u32, 8>, lane_at: u32) -> array<f32, 8> { return spread(rows_src[lane_at]); }
