// A 3x3 'same' conv of a 2x nearest-upsampled input, without the upsampled input (the UNet's
// decoder: upsample, then conv). Output pixel (2i + a, 2j + c) sees input rows i + a - 1 .. i + a
// and columns j + c - 1 .. j + c only: for each output parity (a, c) the 3x3 kernel folds into a
// 2x2 one whose tap (dy, dx) sums the 3x3 taps that fall on the same input pixel (folded), so
// every product costs 4 multiply-adds per input channel where the conv of the upsampled map
// costs 9. Row-segment kernels as shaders/conv3.wgsl (whose helpers they use): ROWS channels x
// SEG pixels of one parity per invocation, the weight's rows through subgroup broadcasts.
//
// x [B, channels, h, w] (low resolution); y [B, rows, 2h, 2w]; the weight W(r, c, ky, kx) at
// wsrc[r sr + c sc + 3 ky + kx + w0]:
//   conv3_up_rows          y[b, r, 2i + a, 2j + c] (+)= bias[r] + sum_{c', dy, dx} F_ac(r, c', dy, dx) x[b, c', i + a - 1 + dy, j + c - 1 + dx]
//                          (workgroups z: the parity 2a + c)
//   conv3_up_input_grad    dx[b, ci, i, j] (+)= sum_{co, a, c, dy, dx} F_ac(co, ci, dy, dx) dy[b, co, 2(i + 1 - a - dy) + a, 2(j + 1 - c - dx) + c]
//                          (rows = ci, channels = co, the weight read with the forward's strides exchanged)
//   conv3_up_weight_grad   dw[co, ci, ky, kx] (+)= sum_{b, i, j, a, c} dy[b, co, 2i + a, 2j + c] x[b, ci, i + a - 1 + dy, j + c - 1 + dx]
//                          with (dy, dx) the folded tap (ky, kx) falls into (unfolded); rows co, one ci per lane
// p.h, p.w (= p.ho, p.wo): the low-resolution grid; segments walk it.

// The lane's row of the weight at channel ch, folded for parity (a, c): taps (dy, dx) as x, y, z,
// w = (0, 0), (0, 1), (1, 0), (1, 1). At a = 0 kernel row ky = 0 meets input row i - 1 (dy = 0)
// and ky = 1, 2 row i (dy = 1); at a = 1 ky = 0, 1 meet row i and ky = 2 row i + 1; columns alike
// with c. Selects, not an index that varies: lavapipe turns those into per-lane memory traffic.
fn folded(row: u32, ch: u32, a: u32, c: u32) -> vec4f {
  let at = u32(i32(row) * p.sr + i32(ch) * p.sc + p.w0);
  let mid = vec3f(wsrc[at + 3u], wsrc[at + 4u], wsrc[at + 5u]);
  let r0 = vec3f(wsrc[at], wsrc[at + 1u], wsrc[at + 2u]) + select(vec3f(), mid, a == 1u);
  let r1 = vec3f(wsrc[at + 6u], wsrc[at + 7u], wsrc[at + 8u]) + select(vec3f(), mid, a == 0u);
  let left = vec2f(r0.x, r1.x) + select(vec2f(), vec2f(r0.y, r1.y), c == 1u);
  let right = vec2f(r0.z, r1.z) + select(vec2f(), vec2f(r0.y, r1.y), c == 0u);
  return vec4f(left.x, right.x, left.y, right.y);
}

// The transpose of folded: the 3x3 taps' share of the folded taps' gradient e (x, y, z, w as there).
fn unfolded(e: vec4f, a: u32, c: u32) -> array<f32, 9> {
  let mid = select(e.xy, e.zw, a == 0u);
  let rows = array<vec2f, 3>(e.xy, mid, e.zw);
  var v: array<f32, 9>;
  for (var ky = 0u; ky < 3u; ky++) {
    v[3u * ky] = rows[ky].x;
    v[3u * ky + 1u] = select(rows[ky].x, rows[ky].y, c == 0u);
    v[3u * ky + 2u] = rows[ky].y;
  }
  return v;
}

fn up_tile(lid: vec3u, wid: vec3u) -> Seg {
  let at = place(wid.x * WG + lid.x, p.ho, p.wo);
  let row = min(wid.y * ROWS + lid.x, p.rows - 1u);
  let a = wid.z / 2u;
  let c = wid.z % 2u;
  let plane = i32(p.h * p.w);
  let image = i32(at.b * p.channels) * plane;
  let y0 = i32(at.oy + a) - 1;
  let x0 = i32(at.ox0 + c) - 1;
  var t: Seg;
  for (var ch = 0u; ch < p.channels; ch++) {
    let base = image + i32(ch) * plane;
    let f = folded(row, ch, a, c);
    let s0 = row9(base, y0, x0, p.h, p.w);
    tap(&t, spread(f.x), s0, 0u);
    tap(&t, spread(f.y), s0, 1u);
    let s1 = row9(base, y0 + 1, x0, p.h, p.w);
    tap(&t, spread(f.z), s1, 0u);
    tap(&t, spread(f.w), s1, 1u);
  }
  return t;
}

fn store_up(lid: vec3u, wid: vec3u, t: Seg, row_bias: array<f32, 8>) {
  let at = place(wid.x * WG + lid.x, p.ho, p.wo);
  if (!at.ok) { return; }
  let a = wid.z / 2u;
  let c = wid.z % 2u;
  let row0 = wid.y * ROWS;
  for (var r = 0u; r < ROWS; r++) {
    let ch = row0 + r;
    if (ch >= p.rows) { break; }
    let values = array<f32, 7>(t.lo[r].x, t.lo[r].y, t.lo[r].z, t.lo[r].w, t.hi[r].x, t.hi[r].y, t.hi[r].z);
    let first = ((at.b * p.rows + ch) * 2u * p.ho + 2u * at.oy + a) * 2u * p.wo + 2u * at.ox0 + c;
    for (var j = 0u; j < SEG; j++) {
      if (at.ox0 + j < p.wo) { put(first + 2u * j, values[j] + row_bias[r]); }
    }
  }
}

@compute @workgroup_size(WG)
fn conv3_up_rows(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  var b: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) { b[r] = bias[min(wid.y * ROWS + r, p.rows - 1u)]; }
  store_up(lid, wid, up_tile(lid, wid), b);
}

// dy (src, [B, channels, 2h, 2w]) of parity (a, c) at low-resolution row iq, columns q0 .. q0 + 8:
// dy[b, ch, 2 iq + a, 2 q + c]; zero outside the grid.
fn parity_row9(plane: i32, iq: i32, q0: i32, a: u32, c: u32) -> array<f32, 9> {
  var v: array<f32, 9>;
  let row_ok = iq >= 0 && iq < i32(p.h);
  let at = plane + (2 * iq + i32(a)) * 2 * i32(p.w) + i32(c);
  for (var m = 0; m < 9; m++) {
    let q = q0 + m;
    let ok = row_ok && q >= 0 && q < i32(p.w);
    v[m] = select(0.0, src[u32(select(0, at + 2 * q, ok))], ok);
  }
  return v;
}

// t += parity (a, c)'s share of the input gradient at the lane's segment: pixel k of the
// segment meets dy's column j0 + k + 1 - c - dx, m = k + 1 - dx of the row read from j0 - c.
fn grad_parity(t: ptr<function, Seg>, base: i32, at: Place, row: u32, ch: u32, a: u32, c: u32) {
  let f = folded(row, ch, a, c);
  let q0 = i32(at.ox0) - i32(c);
  let s1 = parity_row9(base, i32(at.oy) - i32(a), q0, a, c); // dy = 1
  tap(t, spread(f.w), s1, 0u);
  tap(t, spread(f.z), s1, 1u);
  let s0 = parity_row9(base, i32(at.oy) + 1 - i32(a), q0, a, c); // dy = 0
  tap(t, spread(f.y), s0, 0u);
  tap(t, spread(f.x), s0, 1u);
}

@compute @workgroup_size(WG)
fn conv3_up_input_grad(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let at = place(wid.x * WG + lid.x, p.ho, p.wo);
  let row = min(wid.y * ROWS + lid.x, p.rows - 1u);
  let plane = 4 * i32(p.h * p.w);
  let image = i32(at.b * p.channels) * plane;
  var t: Seg;
  for (var ch = 0u; ch < p.channels; ch++) {
    let base = image + i32(ch) * plane;
    grad_parity(&t, base, at, row, ch, 0u, 0u);
    grad_parity(&t, base, at, row, ch, 0u, 1u);
    grad_parity(&t, base, at, row, ch, 1u, 0u);
    grad_parity(&t, base, at, row, ch, 1u, 1u);
  }
  store_rows(lid, wid, t, array<f32, 8>());
}

// The weight gradient's folded taps of one input channel for ROWS output channels, at one parity.
struct Taps4 { t: array<vec4f, 8> }

// acc += parity (a, c)'s products at the place: dy of the lane's row (broadcast) against the
// lane's input channel at the folded taps.
fn wgrad_parity(acc: ptr<function, Taps4>, image: i32, at: Place, row: u32, a: u32, c: u32) {
  let ox0 = at.ox0;
  let dy_at = ((at.b * p.rows + row) * 2u * p.h + 2u * at.oy + a) * 2u * p.w + c;
  var d: array<array<f32, 8>, 7>;
  for (var j = 0u; j < SEG; j++) {
    d[j] = spread(select(0.0, wsrc[dy_at + 2u * min(ox0 + j, p.w - 1u)], ox0 + j < p.w));
  }
  let y0 = i32(at.oy + a) - 1;
  let x0 = i32(ox0 + c) - 1;
  let s0 = row9(image, y0, x0, p.h, p.w);
  let s1 = row9(image, y0 + 1, x0, p.h, p.w);
  for (var r = 0u; r < ROWS; r++) {
    var e = vec4f(0.0, 0.0, 0.0, 0.0);
    for (var j = 0u; j < SEG; j++) { e += d[j][r] * vec4f(s0[j], s0[j + 1u], s1[j], s1[j + 1u]); }
    (*acc).t[r] += e;
  }
}

// wsrc = dy [B, rows (cout), 2h, 2w], src = x [B, channels (cin), h, w], out = dw at co sr + ci 9 + k + w0.
// Lane = input channel, rows = output channels; each parity's folded taps summed apart over every
// place, then unfolded into the nine taps.
@compute @workgroup_size(WG)
fn conv3_up_weight_grad(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let ci_raw = wid.x * WG + lid.x;
  let ci = min(ci_raw, p.channels - 1u);
  let row0 = wid.y * ROWS;
  let row = min(row0 + lid.x, p.rows - 1u);
  let plane = p.h * p.w;
  let per_row = (p.w + SEG - 1u) / SEG;
  let places = p.batch * p.h * per_row;
  var acc00: Taps4;
  var acc01: Taps4;
  var acc10: Taps4;
  var acc11: Taps4;
  var at = Place(0u, 0u, 0u, true);
  for (var k = 0u; k < places; k++) {
    let image = i32((at.b * p.channels + ci) * plane);
    wgrad_parity(&acc00, image, at, row, 0u, 0u);
    wgrad_parity(&acc01, image, at, row, 0u, 1u);
    wgrad_parity(&acc10, image, at, row, 1u, 0u);
    wgrad_parity(&acc11, image, at, row, 1u, 1u);
    at = next_place(at, p.h, p.w);
  }
  if (ci_raw >= p.channels) { return; }
  for (var r = 0u; r < ROWS; r++) {
    let co = row0 + r;
    if (co >= p.rows) { break; }
    let v00 = unfolded(acc00.t[r], 0u, 0u);
    let v01 = unfolded(acc01.t[r], 0u, 1u);
    let v10 = unfolded(acc10.t[r], 1u, 0u);
    let v11 = unfolded(acc11.t[r], 1u, 1u);
    let first = u32(i32(co) * p.sr + p.w0) + ci * 9u;
    for (var t = 0u; t < 9u; t++) { put(first + t, v00[t] + v01[t] + v10[t] + v11[t]); }
  }
}
