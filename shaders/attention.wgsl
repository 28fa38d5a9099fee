// Single-head self-attention over the N positions of each image, one kernel each way, from qkv
// [B, 3C, N] (q, k and v each [C, N] within an image's 3C N values):
//   S[i, j] = sum_c q[c, i] k[c, j] / sqrt(C),  P[i] = softmax_j(S[i]),  out[c, i] = sum_j P[i, j] v[c, j]
// One workgroup per image. Its N x N scores stay in workgroup memory (P forward, dS backward; row
// stride N), and every product is register-blocked as the blocked matmul (ROWS, Tile, accumulate
// and accumulate2: shaders/tile.wgsl): a unit of 8 lanes takes 8 rows (channels, or positions) at
// a time, each lane 8 columns of them, so that the unit's 64 columns span every position (N <=
// NMAX = 64). Rows and columns past the last read the last, and are never stored.
// A small library of each variant (src/core/ops/attention.ts) says how a unit reads its rows'
// values at an inner index (qkv_rows, dout_rows) and where the softmax and its gradient are taken:
// shaders/attention_plain.wgsl reads each row value in every lane, stores S (or dP) and takes the
// softmax one row per lane after a barrier (softmax_rows); shaders/attention_sg.wgsl, where the
// workgroup is one unit of 8 lanes with subgroups of 8, reads one row value per lane and shares
// it by subgroup broadcasts, and takes the softmax on the tile in registers (softmax_tile).
// Sums run in a fixed order.

// Bindings (src/core/ops/attention.ts): qkv; out, the forward's output [B, C, N] or the backward's
// dqkv [B, 3C, N] (added to where p.accumulate is 1); probs_out, the forward's P [B, N, N] for
// the backward, which reads it as probs; dout [B, C, N].

const UNITS: u32 = WG / 8u;

var<workgroup> scores: array<f32, NMAX * NMAX>;

// This invocation's unit and its lane in the unit; the lane's first column.
struct Lane { unit: u32, lane: u32, col0: u32 }

fn lane_of(index: u32) -> Lane { return Lane(index / 8u, index % 8u, index % 8u * 8u); }

// The lane's columns col0 .. col0 + 7, clamped to below N, times stride `s` from `base`.
struct Columns { lo: vec4u, hi: vec4u }

fn columns(l: Lane, base: u32, s: u32) -> Columns {
  let last = vec4u(p.positions - 1u);
  let lo = min(vec4u(l.col0) + vec4u(0u, 1u, 2u, 3u), last);
  let hi = min(vec4u(l.col0) + vec4u(4u, 5u, 6u, 7u), last);
  return Columns(base + lo * s, base + hi * s);
}

fn qkv4(at: vec4u) -> vec4f { return vec4f(qkv[at.x], qkv[at.y], qkv[at.z], qkv[at.w]); }
fn probs4(at: vec4u) -> vec4f { return vec4f(probs[at.x], probs[at.y], probs[at.z], probs[at.w]); }
fn scores4(at: vec4u) -> vec4f { return vec4f(scores[at.x], scores[at.y], scores[at.z], scores[at.w]); }

// One inner index of a product: the unit's 8 row values and the lane's 8 column values.
struct Step { rows: array<f32, 8>, lo: vec4f, hi: vec4f }

// Each product's step at inner index c (channels) or y (positions).
fn qk_step(l: Lane, q: u32, k: Columns, i0: u32, c: u32) -> Step {
  let at = c * p.positions;
  return Step(qkv_rows(q + at, 1u, i0, p.positions, l.lane), qkv4(k.lo + at), qkv4(k.hi + at));
}

fn scores_step(l: Lane, src: u32, x: Columns, sy: u32, c0: u32, y: u32) -> Step {
  let at = y * sy;
  return Step(qkv_rows(src + y, p.positions, c0, p.channels, l.lane), scores4(x.lo + at), scores4(x.hi + at));
}

fn dv_step(l: Lane, d: u32, pj: Columns, c0: u32, y: u32) -> Step {
  let at = y * p.positions;
  return Step(dout_rows(d + y, p.positions, c0, p.channels, l.lane), probs4(pj.lo + at), probs4(pj.hi + at));
}

fn dp_step(l: Lane, d: u32, vj: Columns, i0: u32, c: u32) -> Step {
  let at = c * p.positions;
  return Step(dout_rows(d + at, 1u, i0, p.positions, l.lane), qkv4(vj.lo + at), qkv4(vj.hi + at));
}

// Two inner steps at once (accumulate2: each accumulator blended once per two), or the last one.
fn add2(t: ptr<function, Tile>, a: Step, b: Step) { accumulate2(t, a.rows, a.lo, a.hi, b.rows, b.lo, b.hi); }
fn add1(t: ptr<function, Tile>, a: Step) { accumulate(t, a.rows, a.lo, a.hi); }

// Blocks of 8 rows in `rows`.
fn blocks(rows: u32) -> u32 { return (rows + 7u) / 8u; }

// scores[row0 + r, j] = t for the lane's columns j < N and rows row0 + r < N.
fn put_scores(t: Tile, l: Lane, row0: u32) {
  let n = p.positions;
  for (var r = 0u; r < ROWS; r++) {
    if (row0 + r >= n) { break; }
    let values = array<vec4f, 2>(t.lo[r], t.hi[r]);
    for (var j = 0u; j < 8u; j++) {
      if (l.col0 + j < n) { scores[(row0 + r) * n + l.col0 + j] = values[j / 4u][j % 4u]; }
    }
  }
}

// out[dst + (c0 + r) N + j] (+)= t for the lane's columns j < N and channels c0 + r < C.
fn put(t: Tile, l: Lane, dst: u32, c0: u32) {
  let n = p.positions;
  for (var r = 0u; r < ROWS; r++) {
    if (c0 + r >= p.channels) { break; }
    let values = array<vec4f, 2>(t.lo[r], t.hi[r]);
    for (var j = 0u; j < 8u; j++) {
      let at = dst + (c0 + r) * n + l.col0 + j;
      let v = values[j / 4u][j % 4u];
      if (l.col0 + j < n) { out[at] = select(v, out[at] + v, p.accumulate == 1u); }
    }
  }
}

// out[dst + c N + x] (+)= sum_y qkv[src + c N + y] scores[x sx + y sy] for c < C, x < N: the
// scores as stored (sx = N, sy = 1) or transposed (sx = 1, sy = N) on the right of a [C, N] part.
// (Every tile below is zeroed by its initializer: a bare `var t: Tile;` in a loop kept the last
// block's sums on Dawn over lavapipe.)
fn scores_product(l: Lane, src: u32, dst: u32, sx: u32, sy: u32) {
  let n = p.positions;
  let x = columns(l, 0u, sx);
  for (var block = l.unit; block < blocks(p.channels); block += UNITS) {
    let c0 = block * 8u;
    var t = Tile();
    var y = 0u;
    for (; y + 1u < n; y += 2u) { add2(&t, scores_step(l, src, x, sy, c0, y), scores_step(l, src, x, sy, c0, y + 1u)); }
    if (y < n) { add1(&t, scores_step(l, src, x, sy, c0, y)); }
    put(t, l, dst, c0);
  }
}

// out[b, c, i] = sum_j P[b, i, j] v[b, c, j], and P into probs_out.
@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_index) index: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.batch) { return; }
  let l = lane_of(index);
  let n = p.positions;
  let part = p.channels * n;
  let q = 3u * b * part;
  // S by blocks of 8 rows i, and its softmax: on each tile, or row by row after the barrier
  let k = columns(l, q + part, 1u);
  for (var block = l.unit; block < blocks(n); block += UNITS) {
    let i0 = block * 8u;
    var t = Tile();
    var c = 0u;
    for (; c + 1u < p.channels; c += 2u) { add2(&t, qk_step(l, q, k, i0, c), qk_step(l, q, k, i0, c + 1u)); }
    if (c < p.channels) { add1(&t, qk_step(l, q, k, i0, c)); }
    softmax_tile(t, l, i0, b * n * n);
  }
  workgroupBarrier();
  softmax_rows(index, b * n * n);
  workgroupBarrier();
  // out from P
  scores_product(l, q + 2u * part, b * part, n, 1u);
}

// dqkv[b] (+)= (dq, dk, dv) from dout[b], qkv[b] and P[b]:
//   dv[c, j] = sum_i dout[c, i] P[i, j],  dP[i, j] = sum_c dout[c, i] v[c, j],
//   dS = P (dP - sum_j P dP) / sqrt(C),
//   dq[c, i] = sum_j k[c, j] dS[i, j],    dk[c, j] = sum_i q[c, i] dS[i, j].
@compute @workgroup_size(WG)
fn backward(@builtin(local_invocation_index) index: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.batch) { return; }
  let l = lane_of(index);
  let n = p.positions;
  let part = p.channels * n;
  let q = 3u * b * part;
  let v = q + 2u * part;
  let d = b * part;
  // dv by blocks of 8 channels
  let pj = columns(l, b * n * n, 1u);
  for (var block = l.unit; block < blocks(p.channels); block += UNITS) {
    let c0 = block * 8u;
    var t = Tile();
    var i = 0u;
    for (; i + 1u < n; i += 2u) { add2(&t, dv_step(l, d, pj, c0, i), dv_step(l, d, pj, c0, i + 1u)); }
    if (i < n) { add1(&t, dv_step(l, d, pj, c0, i)); }
    put(t, l, v, c0);
  }
  // dP by blocks of 8 rows i, and dS from it: on each tile, or row by row after the barrier
  let vj = columns(l, v, 1u);
  for (var block = l.unit; block < blocks(n); block += UNITS) {
    let i0 = block * 8u;
    var t = Tile();
    var c = 0u;
    for (; c + 1u < p.channels; c += 2u) { add2(&t, dp_step(l, d, vj, i0, c), dp_step(l, d, vj, i0, c + 1u)); }
    if (c < p.channels) { add1(&t, dp_step(l, d, vj, i0, c)); }
    softmax_grad_tile(t, l, i0, b * n * n);
  }
  workgroupBarrier();
  softmax_grad_rows(index, b * n * n);
  workgroupBarrier();
  // dq and dk from dS
  scores_product(l, q + part, q, n, 1u);
  scores_product(l, q, q + part, 1u, n);
}
