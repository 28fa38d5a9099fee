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
// Register-blocked as shaders/matmul_blocked.wgsl: each invocation computes ROWS x 8 outputs, a
// workgroup's invocations share their rows, so the operand indexed by row and inner index (the
// weight, or dy in the weight gradient) is read at one address across the workgroup, and the
// gathered operand at per-invocation addresses, its indices and padding tests computed for four
// columns at once (vec4i). The row operand comes from one of two small libraries a kernel
// prepends: shaders/conv2d_rows.wgsl reads the forward's and input gradient's weight from a
// transposed copy (shaders/transpose.wgsl: [inner, rows_pad], rows contiguous), two vec4s per
// inner index instead of eight floats; shaders/conv2d_rows_sg.wgsl, where the device has
// subgroups of 8, has each lane read one row and broadcast it. Sums run in a fixed order. Workgroup (x, y) = (WG * 8-column tile,
// ROWS-row tile).

// Bindings (src/core/ops/conv2d.ts): rows_src, cols_src, out, bias, and rows4, the plain
// kernels' weight transposed: [inner, rows_pad] (inner: (ci, ky, kx) for the forward; (co, ky, kx)
// for the input gradient). The weight (and its gradient) may be a slice of input channels of a
// wider one (a conv of channel-concatenated inputs, one part at a time): w[co, ci, ky, kx] is at
// co w_co + ci KH KW + ky KW + kx + w_off.

// ROWS, Tile, accumulate and accumulate2 (shaders/tile.wgsl): t += (the row operands at one
// inner index) x (lo, hi), the rows' values from weight_rows or dy_rows (shaders/conv2d_rows.wgsl,
// or conv2d_rows_sg.wgsl with subgroup broadcasts); rows past the last read the last one, never
// stored.
fn first_row(wid: vec3u) -> u32 { return wid.y * ROWS; }
fn first_col(lid: vec3u, wid: vec3u) -> u32 { return (wid.x * WG + lid.x) * 8u; }

// The lane's row (lane = invocation within the workgroup), clamped to the last of `rows`.
fn lane_row(lid: vec3u, wid: vec3u, rows: u32) -> u32 { return min(first_row(wid) + lid.x, rows - 1u); }

// 0 <= v < n, per component.
fn inside(v: vec4i, n: u32) -> vec4<bool> {
  return (v >= vec4i(0)) & (v < vec4i(i32(n)));
}

// cols_src at four indices, 0 where ok is false (a padding zero or a stride gap).
fn gather(at: vec4i, ok: vec4<bool>) -> vec4f {
  let i = vec4u(select(vec4i(0), at, ok));
  return select(vec4f(0.0), vec4f(cols_src[i.x], cols_src[i.y], cols_src[i.z], cols_src[i.w]), ok);
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
    let values = array<vec4f, 2>(t.lo[r], t.hi[r]);
    for (var j = 0u; j < 8u; j++) {
      let col = col0 + j;
      if (col < p.batch * plane) { put(((col / plane) * channels + c) * plane + col % plane, values[j / 4u][j % 4u] + row_bias[r]); }
    }
  }
}

fn biases(wid: vec3u, channels: u32) -> array<f32, 8> {
  var v: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) { v[r] = bias[min(first_row(wid) + r, channels - 1u)]; }
  return v;
}

// Four pixel columns (b, y, x) of a [B, C, height, width] tensor: where each image starts (channel
// 0) and the pixel's row and column, shifted by (dy, dx) and scaled by s (the window origin of a
// forward output pixel: s = stride, shift = -pad; an input pixel: s = 1, shift = +pad).
struct Columns { base: vec4i, y: vec4i, x: vec4i }

fn columns(col0: u32, height: u32, width: u32, image: u32, s: u32, dy: i32, dx: i32) -> Columns {
  var c: Columns;
  let last = p.batch * height * width - 1u;
  for (var j = 0u; j < 4u; j++) {
    let q = min(col0 + j, last);
    c.base[j] = i32((q / (height * width)) * image);
    c.y[j] = i32(((q / width) % height) * s) + dy;
    c.x[j] = i32((q % width) * s) + dx;
  }
  return c;
}

// x at the window tap (ky, kx) of channel plane `plane` for four columns c.
fn window(c: Columns, plane: i32, ky: i32, kx: i32) -> vec4f {
  let y = c.y + ky;
  let x = c.x + kx;
  return gather(c.base + plane + y * i32(p.w) + x, inside(y, p.h) & inside(x, p.w));
}

// An inner index (channel c, ky, kx) of the forward or the input gradient, and the next one
// (selects, not divisions: a CPU driver divides one lane at a time).
struct Tap { c: u32, ky: i32, kx: i32 }

fn next_tap(a: Tap) -> Tap {
  let wrap_x = a.kx + 1 == i32(p.kw);
  let wrap_y = wrap_x && a.ky + 1 == i32(p.kh);
  return Tap(select(a.c, a.c + 1u, wrap_y), select(a.ky, select(a.ky + 1, 0, wrap_y), wrap_x), select(a.kx + 1, 0, wrap_x));
}

// The inner indices (ci, ky, kx) run as one loop, two per iteration, so that the tile (which
// lavapipe blends with the lane mask at every iteration of every loop that carries it) is
// written once per two: as the blocked matmul's accumulate2.
fn forward_tile(lid: vec3u, wid: vec3u) -> Tile {
  let row0 = first_row(wid);
  let col0 = first_col(lid, wid);
  let hw = i32(p.h * p.w);
  let image = p.cin * p.h * p.w;
  let lo = columns(col0, p.ho, p.wo, image, p.stride, -i32(p.pad_y), -i32(p.pad_x));
  let hi = columns(col0 + 4u, p.ho, p.wo, image, p.stride, -i32(p.pad_y), -i32(p.pad_x));
  let n = p.cin * p.kh * p.kw;
  let lane_w = lane_row(lid, wid, p.cout) * p.w_co + p.w_off; // w[row, k] at lane_w + k
  var t: Tile;
  var at = Tap(0u, 0, 0);
  var k = 0u;
  for (; k + 1u < n; k += 2u) {
    let plane0 = i32(at.c) * hw;
    let l0 = window(lo, plane0, at.ky, at.kx);
    let h0 = window(hi, plane0, at.ky, at.kx);
    let at1 = next_tap(at);
    let plane1 = i32(at1.c) * hw;
    let l1 = window(lo, plane1, at1.ky, at1.kx);
    let h1 = window(hi, plane1, at1.ky, at1.kx);
    accumulate2(&t, weight_rows(k, row0, lane_w + k), l0, h0, weight_rows(k + 1u, row0, lane_w + k + 1u), l1, h1);
    at = next_tap(at1);
  }
  if (k < n) {
    let plane = i32(at.c) * hw;
    accumulate(&t, weight_rows(k, row0, lane_w + k), window(lo, plane, at.ky, at.kx), window(hi, plane, at.ky, at.kx));
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

// dy at the output pixels four input pixels (n = pixel + pad - tap) meet, 0 where none does
// (padding, stride gaps, past the edge). base: where each image's channel co starts in dy.
// Stride 1 skips the integer divisions, which a CPU driver runs one lane at a time, and a power
// of two shifts and masks instead (a negative n is outside, whatever its shift gives).
fn dy_at(base: vec4i, ny: vec4i, nx: vec4i) -> vec4f {
  if (p.stride == 1u) { return gather(base + ny * i32(p.wo) + nx, inside(ny, p.ho) & inside(nx, p.wo)); }
  let inside_both = inside(ny, p.ho * p.stride) & inside(nx, p.wo * p.stride);
  if ((p.stride & (p.stride - 1u)) == 0u) {
    let shift = vec4u(countTrailingZeros(p.stride));
    let gap = vec4i(i32(p.stride) - 1);
    return gather(base + (ny >> shift) * i32(p.wo) + (nx >> shift), inside_both & ((ny & gap) == vec4i(0)) & ((nx & gap) == vec4i(0)));
  }
  let s = i32(p.stride);
  let oy = ny / s;
  let ox = nx / s;
  return gather(base + oy * i32(p.wo) + ox, inside_both & (ny % s == vec4i(0)) & (nx % s == vec4i(0)));
}

// dy at tap a = (co, ky, kx) for four columns c; w[co, ci, ky, kx] for the tile's rows ci is
// inner index (co, ky, kx) of the transposed copy, and at lane_w + co w_co + tap in w (lane_w: ci taps + w_off).
fn dy_tap(c: Columns, a: Tap) -> vec4f { return dy_at(c.base + i32(a.c * p.ho * p.wo), c.y - a.ky, c.x - a.kx); }
fn weight_tap(a: Tap, row0: u32, lane_w: u32) -> array<f32, 8> {
  let taps = p.kh * p.kw;
  let tap = u32(a.ky) * p.kw + u32(a.kx);
  return weight_rows(a.c * taps + tap, row0, lane_w + a.c * p.w_co + tap);
}

// The inner indices (co, ky, kx) two per iteration, as forward_tile.
fn input_tile(lid: vec3u, wid: vec3u) -> Tile {
  let row0 = first_row(wid);
  let col0 = first_col(lid, wid);
  let taps = p.kh * p.kw;
  let image = p.cout * p.ho * p.wo;
  let lo = columns(col0, p.h, p.w, image, 1u, i32(p.pad_y), i32(p.pad_x));
  let hi = columns(col0 + 4u, p.h, p.w, image, 1u, i32(p.pad_y), i32(p.pad_x));
  let lane_w = lane_row(lid, wid, p.cin) * taps + p.w_off;
  let n = p.cout * taps;
  var t: Tile;
  var at = Tap(0u, 0, 0);
  var k = 0u;
  for (; k + 1u < n; k += 2u) {
    let at1 = next_tap(at);
    accumulate2(&t, weight_tap(at, row0, lane_w), dy_tap(lo, at), dy_tap(hi, at), weight_tap(at1, row0, lane_w), dy_tap(lo, at1), dy_tap(hi, at1));
    at = next_tap(at1);
  }
  if (k < n) { accumulate(&t, weight_tap(at, row0, lane_w), dy_tap(lo, at), dy_tap(hi, at)); }
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

// The input gradient of a strided conv (stride s > 1) by parity classes, without the taps that
// meet no output pixel (the implicit GEMM above visits all KH KW and masks out those, 3 of 4 at
// stride 2): workgroups z = (py, px) take the input pixels iy = py + s iy', ix = px + s ix'
// (columns (b, iy', ix'), iy' < ceil(h / s)), whose taps ky = ky0 + s a (ky0 = (py + pad_y) mod s)
// meet output row oy = iy' + my - a (my = (py + pad_y) / s); the same for columns.
//   dx[b, ci, iy, ix] (+)= sum_{co, a, a'} w[co, ci, ky0 + s a, kx0 + s a'] dy[b, co, iy' + my - a, ix' + mx - a']
struct Class { py: u32, px: u32, ky0: u32, kx0: u32, my: i32, mx: i32, nky: i32, nkx: i32, hc: u32, wc: u32 }

fn class_of(z: u32) -> Class {
  let s = p.stride;
  let py = z / s;
  let px = z % s;
  let ky0 = (py + p.pad_y) % s;
  let kx0 = (px + p.pad_x) % s;
  // Taps of the class: ky0, ky0 + s, ... below KH (none where ky0 >= KH: the class's gradient is 0).
  let nky = select(0, i32((p.kh - ky0 + s - 1u) / s), ky0 < p.kh);
  let nkx = select(0, i32((p.kw - kx0 + s - 1u) / s), kx0 < p.kw);
  return Class(py, px, ky0, kx0, i32((py + p.pad_y) / s), i32((px + p.pad_x) / s), nky, nkx, (p.h + s - 1u) / s, (p.w + s - 1u) / s);
}

// The class's next inner index (co, a, a') (in Tap's c, ky, kx).
fn next_class_tap(a: Tap, k: Class) -> Tap {
  let wrap_x = a.kx + 1 == k.nkx;
  let wrap_y = wrap_x && a.ky + 1 == k.nky;
  return Tap(select(a.c, a.c + 1u, wrap_y), select(a.ky, select(a.ky + 1, 0, wrap_y), wrap_x), select(a.kx + 1, 0, wrap_x));
}

fn class_dy(c: Columns, a: Tap) -> vec4f {
  let y = c.y - a.ky;
  let x = c.x - a.kx;
  return gather(c.base + i32(a.c * p.ho * p.wo) + y * i32(p.wo) + x, inside(y, p.ho) & inside(x, p.wo));
}

fn class_weight(a: Tap, k: Class, row0: u32, lane_w: u32) -> array<f32, 8> {
  let tap = (k.ky0 + p.stride * u32(a.ky)) * p.kw + k.kx0 + p.stride * u32(a.kx);
  return weight_rows(a.c * p.kh * p.kw + tap, row0, lane_w + a.c * p.w_co + tap);
}

// The inner indices two per iteration, as forward_tile.
fn class_tile(lid: vec3u, wid: vec3u, k: Class) -> Tile {
  let row0 = first_row(wid);
  let col0 = first_col(lid, wid);
  let image = p.cout * p.ho * p.wo;
  let lo = columns(col0, k.hc, k.wc, image, 1u, k.my, k.mx);
  let hi = columns(col0 + 4u, k.hc, k.wc, image, 1u, k.my, k.mx);
  let lane_w = lane_row(lid, wid, p.cin) * p.kh * p.kw + p.w_off;
  let n = p.cout * u32(k.nky * k.nkx);
  var t: Tile;
  var at = Tap(0u, 0, 0);
  var i = 0u;
  for (; i + 1u < n; i += 2u) {
    let at1 = next_class_tap(at, k);
    accumulate2(&t, class_weight(at, k, row0, lane_w), class_dy(lo, at), class_dy(hi, at), class_weight(at1, k, row0, lane_w), class_dy(lo, at1), class_dy(hi, at1));
    at = next_class_tap(at1, k);
  }
  if (i < n) { accumulate(&t, class_weight(at, k, row0, lane_w), class_dy(lo, at), class_dy(hi, at)); }
  return t;
}

@compute @workgroup_size(WG)
fn conv2d_input_grad_strided(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let k = class_of(wid.z);
  let t = class_tile(lid, wid, k);
  let row0 = first_row(wid);
  let col0 = first_col(lid, wid);
  let plane = k.hc * k.wc;
  for (var r = 0u; r < ROWS; r++) {
    let c = row0 + r;
    if (c >= p.cin) { break; }
    let values = array<vec4f, 2>(t.lo[r], t.hi[r]);
    for (var j = 0u; j < 8u; j++) {
      let col = col0 + j;
      let iy = k.py + p.stride * ((col / k.wc) % k.hc);
      let ix = k.px + p.stride * (col % k.wc);
      if (col < p.batch * plane && iy < p.h && ix < p.w) { put(((col / plane * p.cin + c) * p.h + iy) * p.w + ix, values[j / 4u][j % 4u]); }
    }
  }
}

// Four weight-gradient columns (ci, ky, kx): where channel ci starts in an image of x, and the tap.
struct Taps { plane: vec4i, y: vec4i, x: vec4i }

fn taps_of(col0: u32) -> Taps {
  var e: Taps;
  let taps = p.kh * p.kw;
  for (var j = 0u; j < 4u; j++) {
    let c = min(col0 + j, p.cin * taps - 1u);
    e.plane[j] = i32((c / taps) * p.h * p.w);
    e.y[j] = i32((c % taps) / p.kw);
    e.x[j] = i32(c % p.kw);
  }
  return e;
}

// x at the window of output pixel (oy, ox) of image b (origin y0, x0) for four taps.
fn x_window(image: i32, e: Taps, y0: i32, x0: i32) -> vec4f {
  let y = e.y + y0;
  let x = e.x + x0;
  let ok = inside(y, p.h) & inside(x, p.w);
  return gather(image + e.plane + y * i32(p.w) + x, ok);
}

// An inner index (b, oy, ox) of the weight gradient, and the next one.
struct Pixel { b: u32, oy: u32, ox: u32 }

fn next_pixel(a: Pixel) -> Pixel {
  let wrap_x = a.ox + 1u == p.wo;
  let wrap_y = wrap_x && a.oy + 1u == p.ho;
  return Pixel(select(a.b, a.b + 1u, wrap_y), select(a.oy, select(a.oy + 1u, 0u, wrap_y), wrap_x), select(a.ox + 1u, 0u, wrap_x));
}

// dy at output pixel a for the tile's rows co (rows[r]: where row r's plane starts in an image).
fn dy_pixel(a: Pixel, rows: array<u32, 8>, lane_dy: u32) -> array<f32, 8> {
  let q = a.b * p.cout * p.ho * p.wo + a.oy * p.wo + a.ox;
  var at: array<u32, 8>;
  for (var r = 0u; r < ROWS; r++) { at[r] = rows[r] + q; }
  return dy_rows(at, lane_dy + q);
}

// x at output pixel a's window for four taps e.
fn x_pixel(e: Taps, a: Pixel) -> vec4f {
  return x_window(i32(a.b * p.cin * p.h * p.w), e, i32(a.oy * p.stride) - i32(p.pad_y), i32(a.ox * p.stride) - i32(p.pad_x));
}

// rows_src = dy [B, Cout, HO, WO], cols_src = x: dw[co, (ci, ky, kx)] (+)= sum over (b, oy, ox).
// Workgroups z split the sum (hardware adapters, where rows x columns alone leave most lanes
// idle over a sum of B HO WO terms): z sums inner indices z k_chunk .. (z + 1) k_chunk - 1 into
// its own [Cout, Cin KH KW] slab of out, and conv2d_weight_grad_sum adds the slabs up.
@compute @workgroup_size(WG)
fn conv2d_weight_grad(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row0 = first_row(wid);
  let col0 = first_col(lid, wid);
  let lo = taps_of(col0);
  let hi = taps_of(col0 + 4u);
  let plane = p.ho * p.wo;
  var rows: array<u32, 8>;
  for (var r = 0u; r < ROWS; r++) { rows[r] = min(row0 + r, p.cout - 1u) * plane; }
  let lane_dy = lane_row(lid, wid, p.cout) * plane;
  // The inner indices (b, oy, ox) two per iteration, as forward_tile, the pixel walked with
  // selects instead of divided out.
  var t: Tile;
  var k = wid.z * p.k_chunk;
  let end = min(p.batch * plane, k + p.k_chunk);
  var at = Pixel(k / plane, (k % plane) / p.wo, k % p.wo);
  for (; k + 1u < end; k += 2u) {
    let at1 = next_pixel(at);
    accumulate2(&t, dy_pixel(at, rows, lane_dy), x_pixel(lo, at), x_pixel(hi, at), dy_pixel(at1, rows, lane_dy), x_pixel(lo, at1), x_pixel(hi, at1));
    at = next_pixel(at1);
  }
  if (k < end) { accumulate(&t, dy_pixel(at, rows, lane_dy), x_pixel(lo, at), x_pixel(hi, at)); }
  let n = p.cin * p.kh * p.kw;
  let slab = wid.z * p.cout * n;
  for (var r = 0u; r < ROWS; r++) {
    let co = row0 + r;
    if (co >= p.cout) { break; }
    let values = array<vec4f, 2>(t.lo[r], t.hi[r]);
    for (var j = 0u; j < 8u; j++) {
      let col = col0 + j;
      if (col < n) { put(slab + co * p.w_co + p.w_off + col, values[j / 4u][j % 4u]); }
    }
  }
}

// cols_src = the chunks' slabs [chunks, Cout, Cin KH KW]: dw[co, (ci, ky, kx)] (+)= their sum, in order.
@compute @workgroup_size(WG)
fn conv2d_weight_grad_sum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = p.cin * p.kh * p.kw;
  let i = flat_index(gid, nwg);
  if (i >= p.cout * n) { return; }
  var acc = 0.0;
  for (var z = 0u; z < p.chunks; z++) { acc += cols_src[z * p.cout * n + i]; }
  put((i / n) * p.w_co + p.w_off + i % n, acc);
}
