// Conv2d as an implicit GEMM, with its two backward products: nothing is unfolded into memory,
// each invocation gathers the input windows its columns need. Shapes (the forward conv's): x [B,
// Cin, H, W], w [Cout, Cin, KH, KW], y [B, Cout, HO, WO], HO = (H + 2 pad_y - KH) / stride + 1.
//   forward       y[b, co, oy, ox] = bias[co] + sum_{ci, ky, kx} w[co, ci, ky, kx] x[b, ci, oy s + ky - pad_y, ox s + kx - pad_x]
//                 GEMM rows co, columns (b, oy, ox), inner (ci, ky, kx)
//   input grad    dx[b, ci, iy, ix] (+)= sum_{co, ky, kx} w[co, ci, ky, kx] dy[b, co, (iy + pad_y - ky) / s, ...] (where it divides)
//                 rows ci, columns (b, iy, ix), inner (co, ky, kx); with a bias this is ConvTranspose2d's forward
//   weight grad   dw[co, ci, ky, kx] (+)= sum_{b, oy, ox} dy[b, co, oy, ox] x[b, ci, oy s + ky - pad_y, ox s + kx - pad_x]
//                 rows co, columns (ci, ky, kx), inner (b, oy, ox)
// ConvTranspose2d (x [B, Cin, H, W], w [Cin, Cout, KH, KW]) is the same three products with the
// roles swapped: its forward is the input gradient plus a bias, its input gradient the forward
// without bias, its weight gradient the weight gradient with x and dy exchanged.
// Register-blocked as shaders/matmul_blocked.wgsl: each invocation computes ROWS x 4 outputs, a
// workgroup's invocations share their rows, so the operand indexed by row and inner index (the
// weight, or dy in the weight gradient) is read at one address across the workgroup, and the
// gathered operand at per-invocation addresses. Sums run in a fixed order. Workgroup (x, y) =
// (WG * 4-column tile, ROWS-row tile).

@group(0) @binding(0) var<storage, read> rows_src: array<f32>;   // indexed by (row, inner): w, or dy for the weight gradient
@group(0) @binding(1) var<storage, read> cols_src: array<f32>;   // gathered by (inner, column): x, or dy for the input gradient
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Conv2dParams;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

struct Conv2dParams {
  batch: u32, cin: u32, cout: u32,
  h: u32, w: u32, ho: u32, wo: u32,
  kh: u32, kw: u32, stride: u32, pad_y: u32, pad_x: u32,
  accumulate: u32,
}

const ROWS: u32 = 8u;

struct Tile { acc: array<vec4f, 8> }

fn first_row(wid: vec3u) -> u32 { return wid.y * ROWS; }
fn first_col(lid: vec3u, wid: vec3u) -> u32 { return (wid.x * WG + lid.x) * 4u; }

// The ROWS row operands at inner index k (rows past the last read the last one, never stored).
fn add_rows(t: ptr<function, Tile>, row0: u32, rows: u32, inner: u32, k: u32, cols: vec4f) {
  for (var r = 0u; r < ROWS; r++) {
    let a = rows_src[min(row0 + r, rows - 1u) * inner + k];
    (*t).acc[r] += a * cols;
  }
}

// x[b, ci, y, x], or 0 in the padding.
fn x_at(b: u32, ci: u32, y: i32, x: i32) -> f32 {
  if (y < 0 || x < 0 || y >= i32(p.h) || x >= i32(p.w)) { return 0.0; }
  return cols_src[((b * p.cin + ci) * p.h + u32(y)) * p.w + u32(x)];
}

// Where an output column (b, oy, ox) of the forward product reads its window.
struct Window { b: u32, y: i32, x: i32 }

fn window(col: u32) -> Window {
  let c = min(col, p.batch * p.ho * p.wo - 1u);
  let ox = c % p.wo;
  let oy = (c / p.wo) % p.ho;
  return Window(c / (p.wo * p.ho), i32(oy * p.stride) - i32(p.pad_y), i32(ox * p.stride) - i32(p.pad_x));
}

fn put(at: u32, value: f32) {
  out[at] = select(value, out[at] + value, p.accumulate == 1u);
}

// Stores a tile of rows (channels, `channels` of them) by columns (b, pixel) into [B, channels,
// plane], adding row_bias[r] to row r.
fn store_nchw(lid: vec3u, wid: vec3u, t: Tile, channels: u32, plane: u32, row_bias: array<f32, 8>) {
  let row0 = first_row(wid);
  let col0 = first_col(lid, wid);
  for (var r = 0u; r < ROWS; r++) {
    let c = row0 + r;
    if (c >= channels) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + j;
      if (col < p.batch * plane) { put(((col / plane) * channels + c) * plane + col % plane, t.acc[r][j] + row_bias[r]); }
    }
  }
}

fn biases(wid: vec3u, channels: u32) -> array<f32, 8> {
  var v: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) { v[r] = bias[min(first_row(wid) + r, channels - 1u)]; }
  return v;
}

fn forward_tile(lid: vec3u, wid: vec3u) -> Tile {
  let row0 = first_row(wid);
  let col0 = first_col(lid, wid);
  let taps = p.kh * p.kw;
  let inner = p.cin * taps;
  let w0 = window(col0); let w1 = window(col0 + 1u); let w2 = window(col0 + 2u); let w3 = window(col0 + 3u);
  var t: Tile;
  for (var k = 0u; k < inner; k++) {
    let ci = k / taps;
    let ky = i32((k % taps) / p.kw);
    let kx = i32(k % p.kw);
    let cols = vec4f(x_at(w0.b, ci, w0.y + ky, w0.x + kx), x_at(w1.b, ci, w1.y + ky, w1.x + kx),
                     x_at(w2.b, ci, w2.y + ky, w2.x + kx), x_at(w3.b, ci, w3.y + ky, w3.x + kx));
    add_rows(&t, row0, p.cout, inner, k, cols);
  }
  return t;
}

@compute @workgroup_size(WG)
fn conv2d_forward(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store_nchw(lid, wid, forward_tile(lid, wid), p.cout, p.ho * p.wo, biases(wid, p.cout));
}

// ConvTranspose2d's input gradient.
@compute @workgroup_size(WG)
fn conv2d_forward_nobias(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store_nchw(lid, wid, forward_tile(lid, wid), p.cout, p.ho * p.wo, array<f32, 8>());
}

// dy[b, co, oy, ox] for the output pixel an input pixel (iy, ix) meets at tap (ky, kx), or 0
// where none does (padding, stride gaps, past the edge).
fn dy_at(b: u32, co: u32, iy: i32, ix: i32, ky: i32, kx: i32) -> f32 {
  let ny = iy + i32(p.pad_y) - ky;
  let nx = ix + i32(p.pad_x) - kx;
  if (ny < 0 || nx < 0) { return 0.0; }
  let oy = u32(ny) / p.stride;
  let ox = u32(nx) / p.stride;
  if (u32(ny) % p.stride != 0u || u32(nx) % p.stride != 0u || oy >= p.ho || ox >= p.wo) { return 0.0; }
  return cols_src[((b * p.cout + co) * p.ho + oy) * p.wo + ox];
}

struct Pixel { b: u32, y: i32, x: i32 }

fn pixel(col: u32) -> Pixel {
  let c = min(col, p.batch * p.h * p.w - 1u);
  return Pixel(c / (p.h * p.w), i32((c / p.w) % p.h), i32(c % p.w));
}

fn input_tile(lid: vec3u, wid: vec3u) -> Tile {
  let row0 = first_row(wid);
  let col0 = first_col(lid, wid);
  let taps = p.kh * p.kw;
  let q0 = pixel(col0); let q1 = pixel(col0 + 1u); let q2 = pixel(col0 + 2u); let q3 = pixel(col0 + 3u);
  var t: Tile;
  for (var k = 0u; k < p.cout * taps; k++) {
    let co = k / taps;
    let tap = k % taps;
    let ky = i32(tap / p.kw);
    let kx = i32(tap % p.kw);
    let cols = vec4f(dy_at(q0.b, co, q0.y, q0.x, ky, kx), dy_at(q1.b, co, q1.y, q1.x, ky, kx),
                     dy_at(q2.b, co, q2.y, q2.x, ky, kx), dy_at(q3.b, co, q3.y, q3.x, ky, kx));
    // w[co, ci, ky, kx] for the tile's rows ci
    for (var r = 0u; r < ROWS; r++) {
      let ci = min(row0 + r, p.cin - 1u);
      t.acc[r] += rows_src[(co * p.cin + ci) * taps + tap] * cols;
    }
  }
  return t;
}

@compute @workgroup_size(WG)
fn conv2d_input_grad(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store_nchw(lid, wid, input_tile(lid, wid), p.cin, p.h * p.w, array<f32, 8>());
}

@compute @workgroup_size(WG)
fn conv_transpose2d_forward(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store_nchw(lid, wid, input_tile(lid, wid), p.cin, p.h * p.w, biases(wid, p.cin));
}

// Where a weight-gradient column (ci, ky, kx) reads x, relative to an output pixel's window origin.
struct Tap { ci: u32, y: i32, x: i32 }

fn tap_of(col: u32) -> Tap {
  let taps = p.kh * p.kw;
  let c = min(col, p.cin * taps - 1u);
  return Tap(c / taps, i32((c % taps) / p.kw), i32(c % p.kw));
}

// rows_src = dy [B, Cout, HO, WO], cols_src = x: dw[co, (ci, ky, kx)] (+)= sum over (b, oy, ox).
@compute @workgroup_size(WG)
fn conv2d_weight_grad(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row0 = first_row(wid);
  let col0 = first_col(lid, wid);
  let e0 = tap_of(col0); let e1 = tap_of(col0 + 1u); let e2 = tap_of(col0 + 2u); let e3 = tap_of(col0 + 3u);
  let plane = p.ho * p.wo;
  var t: Tile;
  for (var b = 0u; b < p.batch; b++) {
    for (var q = 0u; q < plane; q++) {
      let oy = i32((q / p.wo) * p.stride) - i32(p.pad_y);
      let ox = i32((q % p.wo) * p.stride) - i32(p.pad_x);
      let cols = vec4f(x_at(b, e0.ci, oy + e0.y, ox + e0.x), x_at(b, e1.ci, oy + e1.y, ox + e1.x),
                       x_at(b, e2.ci, oy + e2.y, ox + e2.x), x_at(b, e3.ci, oy + e3.y, ox + e3.x));
      for (var r = 0u; r < ROWS; r++) {
        let co = min(row0 + r, p.cout - 1u);
        t.acc[r] += rows_src[(b * p.cout + co) * plane + q] * cols;
      }
    }
  }
  let n = p.cin * p.kh * p.kw;
  for (var r = 0u; r < ROWS; r++) {
    let co = row0 + r;
    if (co >= p.cout) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + j;
      if (col < n) { put(co * n + col, t.acc[r][j]); }
    }
  }
}
