// 3x3 stride-1 convolutions by row segments, for drivers with subgroups of 8 lanes (lavapipe):
// each invocation computes ROWS channels x SEG consecutive pixels of one output row, and reads
// each input row segment once for all three taps along it (SEG + 2 values serve 3 SEG products
// per row), where the implicit GEMM of conv2d.wgsl gathers every (tap, pixel) pair apart. On a
// CPU driver a read at a per-lane address is a loop of scalar loads: per input channel this
// reads 3 (SEG + 2) + 9 values (36) for 9 SEG ROWS (504) multiply-adds, twice the implicit
// GEMM's multiply-adds per read (81 reads for 576). Measured, that is 5-30 % less CPU time per
// conv than the implicit GEMM (bench/README.md, 2026-12-06): the arithmetic, not only the reads,
// sets the pace here.
//
// conv3_rows (the forward, and the input gradient as a correlation with the flipped weight):
//   out[b, r, oy, ox] (+)= bias[r] + sum_{c, ky, kx} W(r, c, ky, kx) src[b, c, oy + ky - pad_y, ox + kx - pad_x]
//   W(r, c, ky, kx) = wsrc[r sr + c sc + ky sky + kx skx + w0] (signed strides: the input gradient
//   reads w[co, ci, 2 - ky, 2 - kx] with r = ci, c = co).
// conv3_weight_grad:
//   dw[co, ci, ky, kx] (+)= sum_{b, oy, ox} dy[b, co, oy, ox] x[b, ci, oy + ky - pad_y, ox + kx - pad_x]
//   rows co (8 per tile), one ci per lane, its 9 taps in registers.
// The weight's (or dy's) rows come through subgroup broadcasts: lane i reads row i of the tile
// and every lane takes the eight values from there (spread, shaders/conv2d_rows_sg.wgsl).
// Workgroup (x, y) = (WG lanes' columns, the ROWS-row tile). Sums run in a fixed order.

const ROWS: u32 = 8u;
const SEG: u32 = 7u; // 28, 14 and 7 pixels: whole segments at every MNIST resolution

// Seven pixels' accumulators for ROWS rows: pixels 0-3 in lo, 4-6 in hi.
struct Seg { lo: array<vec4f, 8>, hi: array<vec3f, 8> }

// src at row iy of channel plane `plane` (offset of the image's channel), columns x0 .. x0 + 8:
// zero outside the image (padding) and for a lane whose row is outside.
fn row9(plane: i32, iy: i32, x0: i32, height: u32, width: u32) -> array<f32, 9> {
  var v: array<f32, 9>;
  let row_ok = iy >= 0 && iy < i32(height);
  let at = plane + iy * i32(width) + x0;
  for (var j = 0; j < 9; j++) {
    let ok = row_ok && x0 + j >= 0 && x0 + j < i32(width);
    v[j] = select(0.0, src[u32(select(0, at + j, ok))], ok);
  }
  return v;
}

// t += w (the tile's rows at one tap) x the seven pixels of s starting at kx.
fn tap(t: ptr<function, Seg>, w: array<f32, 8>, s: array<f32, 9>, kx: u32) {
  let lo = vec4f(s[kx], s[kx + 1u], s[kx + 2u], s[kx + 3u]);
  let hi = vec3f(s[kx + 4u], s[kx + 5u], s[kx + 6u]);
  for (var r = 0u; r < ROWS; r++) {
    (*t).lo[r] += w[r] * lo;
    (*t).hi[r] += w[r] * hi;
  }
}

// The lane's output segment: image b, row oy, first column ox0 (segments of SEG per output row).
struct Place { b: u32, oy: u32, ox0: u32, ok: bool }

fn place(col: u32, rows_out: u32, cols_out: u32) -> Place {
  let per_row = (cols_out + SEG - 1u) / SEG;
  let last = p.batch * rows_out * per_row;
  let q = min(col, last - 1u);
  return Place(q / (rows_out * per_row), (q / per_row) % rows_out, (q % per_row) * SEG, col < last);
}

// The place after `at` in the walk over every (b, oy, segment) of a ho x wo grid: selects, not
// divisions, so that a loop over places carries its accumulators through one loop, not three.
fn next_place(at: Place, ho: u32, wo: u32) -> Place {
  let wrap_x = at.ox0 + SEG >= wo;
  let wrap_y = wrap_x && at.oy + 1u == ho;
  return Place(select(at.b, at.b + 1u, wrap_y), select(at.oy, select(at.oy + 1u, 0u, wrap_y), wrap_x),
               select(at.ox0 + SEG, 0u, wrap_x), true);
}

fn rows_tile(lid: vec3u, wid: vec3u) -> Seg {
  let at = place(wid.x * WG + lid.x, p.ho, p.wo);
  let row = min(wid.y * ROWS + lid.x, p.rows - 1u); // the row this lane reads for the broadcasts
  let plane = i32(p.h * p.w);
  let image = i32(at.b * p.channels) * plane;
  let y0 = i32(at.oy) - i32(p.pad_y);
  let x0 = i32(at.ox0) - i32(p.pad_x);
  var t: Seg;
  for (var c = 0u; c < p.channels; c++) {
    let base = image + i32(c) * plane;
    let w_at = i32(row) * p.sr + i32(c) * p.sc + p.w0;
    // The three kernel rows written out: the loop carries the accumulators once per nine taps.
    let s0 = row9(base, y0, x0, p.h, p.w);
    tap(&t, spread(wsrc[u32(w_at)]), s0, 0u);
    tap(&t, spread(wsrc[u32(w_at + p.skx)]), s0, 1u);
    tap(&t, spread(wsrc[u32(w_at + 2 * p.skx)]), s0, 2u);
    let s1 = row9(base, y0 + 1, x0, p.h, p.w);
    tap(&t, spread(wsrc[u32(w_at + p.sky)]), s1, 0u);
    tap(&t, spread(wsrc[u32(w_at + p.sky + p.skx)]), s1, 1u);
    tap(&t, spread(wsrc[u32(w_at + p.sky + 2 * p.skx)]), s1, 2u);
    let s2 = row9(base, y0 + 2, x0, p.h, p.w);
    tap(&t, spread(wsrc[u32(w_at + 2 * p.sky)]), s2, 0u);
    tap(&t, spread(wsrc[u32(w_at + 2 * p.sky + p.skx)]), s2, 1u);
    tap(&t, spread(wsrc[u32(w_at + 2 * p.sky + 2 * p.skx)]), s2, 2u);
  }
  return t;
}

fn put(at: u32, value: f32) {
  out[at] = select(value, out[at] + value, p.accumulate == 1u);
}

fn store_rows(lid: vec3u, wid: vec3u, t: Seg, row_bias: array<f32, 8>) {
  let at = place(wid.x * WG + lid.x, p.ho, p.wo);
  if (!at.ok) { return; }
  let row0 = wid.y * ROWS;
  for (var r = 0u; r < ROWS; r++) {
    let c = row0 + r;
    if (c >= p.rows) { break; }
    let values = array<f32, 7>(t.lo[r].x, t.lo[r].y, t.lo[r].z, t.lo[r].w, t.hi[r].x, t.hi[r].y, t.hi[r].z);
    let first = ((at.b * p.rows + c) * p.ho + at.oy) * p.wo + at.ox0;
    for (var j = 0u; j < SEG; j++) {
      if (at.ox0 + j < p.wo) { put(first + j, values[j] + row_bias[r]); }
    }
  }
}

// The broadcasts need every lane of the subgroup to take part: lanes past the last column
// compute on clamped places and store nothing.
@compute @workgroup_size(WG)
fn conv3_rows(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store_rows(lid, wid, rows_tile(lid, wid), array<f32, 8>());
}

@compute @workgroup_size(WG)
fn conv3_rows_bias(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  var b: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) { b[r] = bias[min(wid.y * ROWS + r, p.rows - 1u)]; }
  store_rows(lid, wid, rows_tile(lid, wid), b);
}

// The weight gradient's nine taps of one input channel for ROWS output channels.
struct Taps9 { t: array<array<f32, 9>, 8> }

// acc[r][3 ky + kx] += d[r][j] x s[j + kx] over the segment's pixels j.
fn taps_row(acc: ptr<function, Taps9>, d: array<array<f32, 8>, 7>, s: array<f32, 9>, ky: u32) {
  for (var r = 0u; r < ROWS; r++) {
    var a0 = 0.0;
    var a1 = 0.0;
    var a2 = 0.0;
    for (var j = 0u; j < SEG; j++) {
      a0 += d[j][r] * s[j];
      a1 += d[j][r] * s[j + 1u];
      a2 += d[j][r] * s[j + 2u];
    }
    (*acc).t[r][3u * ky] += a0;
    (*acc).t[r][3u * ky + 1u] += a1;
    (*acc).t[r][3u * ky + 2u] += a2;
  }
}

// wsrc = dy [B, rows (cout), ho, wo], src = x [B, channels (cin), h, w], out = dw [cout, cin, 3, 3]
// or input channels w0 / 9 .. of a wider weight's gradient: dw[co, ci, ky, kx] at co sr + ci 9 + 3 ky + kx + w0.
// Lane = input channel (WG of them per workgroup, x), rows = output channels (y). Every lane walks
// all (b, oy, segment) places as one loop (next_place); dy's segment is read one pixel per
// lane-row and broadcast (the lane reads dy of row row0 + lane).
@compute @workgroup_size(WG)
fn conv3_weight_grad(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let ci_raw = wid.x * WG + lid.x;
  let ci = min(ci_raw, p.channels - 1u);
  let row0 = wid.y * ROWS;
  let row = min(row0 + lid.x, p.rows - 1u);
  let plane = p.h * p.w;
  let per_row = (p.wo + SEG - 1u) / SEG;
  let places = p.batch * p.ho * per_row;
  var acc: Taps9;
  var at = Place(0u, 0u, 0u, true);
  for (var k = 0u; k < places; k++) {
    let dy_at = ((at.b * p.rows + row) * p.ho + at.oy) * p.wo;
    var d: array<array<f32, 8>, 7>;
    for (var j = 0u; j < SEG; j++) {
      d[j] = spread(select(0.0, wsrc[dy_at + min(at.ox0 + j, p.wo - 1u)], at.ox0 + j < p.wo));
    }
    let image = i32((at.b * p.channels + ci) * plane);
    let y0 = i32(at.oy) - i32(p.pad_y);
    let x0 = i32(at.ox0) - i32(p.pad_x);
    taps_row(&acc, d, row9(image, y0, x0, p.h, p.w), 0u);
    taps_row(&acc, d, row9(image, y0 + 1, x0, p.h, p.w), 1u);
    taps_row(&acc, d, row9(image, y0 + 2, x0, p.h, p.w), 2u);
    at = next_place(at, p.ho, p.wo);
  }
  if (ci_raw >= p.channels) { return; }
  for (var r = 0u; r < ROWS; r++) {
    let co = row0 + r;
    if (co >= p.rows) { break; }
    let first = u32(i32(co) * p.sr + p.w0) + ci * 9u;
    for (var t = 0u; t < 9u; t++) { put(first + t, acc.t[r][t]); }
  }
}
