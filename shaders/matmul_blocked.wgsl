// C = op(A) op(B) (+ bias), register-blocked for CPU Vulkan drivers (lavapipe): each invocation
// computes ROWS x COLS outputs in registers. A workgroup is one SIMD batch of the driver (WG = 8
// invocations) sharing the same ROWS rows, so every read of A has one address across the batch
// (lavapipe still makes it once per lane: only matmul_asg.wgsl's broadcasts avoid that), and each
// invocation reads COLS adjacent columns of B. Small workgroups
// keep narrow products (N of 32 or 128) from leaving most lanes idle. The *_b4 entry points read B
// as vec4s (for B row-contiguous: b_sn = 1; n, b_sk, b_sb and b_off multiples of 4): two reads
// per k instead of eight. Workgroup (x, y, z) = (WG * COLS-column tile, ROWS-row tile, batch).
// A is read by `a_column(a_ref(lid, wid), ak)` (the tile's rows of A at k, ak = k * a_sk) from one
// of three small libraries a kernel prepends: matmul_a.wgsl, one read per row (binding 0),
// matmul_a4.wgsl, two vec4 reads per k where A is stored transposed (binding 6), or
// matmul_asg.wgsl, one read per lane shared through subgroup broadcasts (binding 0). C is written by
// `put_row(base, col0, lo, hi)` (one row's eight columns) from matmul_c.wgsl, one store per
// float (binding 2), or matmul_c4.wgsl, two vec4 stores where C's rows are contiguous. Same
// parameters and results as matmul.wgsl, which stays as the plain reference.

// ROWS, Tile, accumulate and accumulate2: shaders/tile.wgsl.
const COLS: u32 = 8u;

fn col0_of(lid: vec3u, wid: vec3u) -> u32 { return (wid.x * WG + lid.x) * COLS; }

fn blocked(lid: vec3u, wid: vec3u) -> Tile {
  let ar = a_ref(lid, wid);
  let col0 = col0_of(lid, wid);
  var cols: array<u32, 8>;
  for (var j = 0u; j < COLS; j++) { cols[j] = p.b_off + wid.z * p.b_sb + min(col0 + j, p.n - 1u) * p.b_sn; }
  var t: Tile;
  var kk = 0u;
  for (; kk + 1u < p.k; kk += 2u) {
    let b0 = kk * p.b_sk;
    let b1 = b0 + p.b_sk;
    accumulate2(&t, a_column(ar, kk * p.a_sk), b_lo(b0, cols), b_hi(b0, cols), a_column(ar, (kk + 1u) * p.a_sk), b_lo(b1, cols), b_hi(b1, cols));
  }
  if (kk < p.k) {
    let bk = kk * p.b_sk;
    accumulate(&t, a_column(ar, kk * p.a_sk), b_lo(bk, cols), b_hi(bk, cols));
  }
  return t;
}

// B's row segment at row offset bk, read one float per column.
fn b_lo(bk: u32, cols: array<u32, 8>) -> vec4f { return vec4f(b[bk + cols[0]], b[bk + cols[1]], b[bk + cols[2]], b[bk + cols[3]]); }
fn b_hi(bk: u32, cols: array<u32, 8>) -> vec4f { return vec4f(b[bk + cols[4]], b[bk + cols[5]], b[bk + cols[6]], b[bk + cols[7]]); }

fn blocked_b4(lid: vec3u, wid: vec3u) -> Tile {
  let ar = a_ref(lid, wid);
  let last = p.n / 4u - 1u;
  let base = (p.b_off + wid.z * p.b_sb) / 4u;
  let q0 = base + min(col0_of(lid, wid) / 4u, last);
  let q1 = base + min(col0_of(lid, wid) / 4u + 1u, last);
  let bs = p.b_sk / 4u;
  var t: Tile;
  var kk = 0u;
  for (; kk + 1u < p.k; kk += 2u) {
    let b0 = kk * bs;
    let b1 = b0 + bs;
    accumulate2(&t, a_column(ar, kk * p.a_sk), b4[b0 + q0], b4[b0 + q1], a_column(ar, (kk + 1u) * p.a_sk), b4[b1 + q0], b4[b1 + q1]);
  }
  if (kk < p.k) {
    let bk = kk * bs;
    accumulate(&t, a_column(ar, kk * p.a_sk), b4[bk + q0], b4[bk + q1]);
  }
  return t;
}

fn store(lid: vec3u, wid: vec3u, t: Tile, bias_lo: vec4f, bias_hi: vec4f) {
  let row0 = wid.y * ROWS;
  let col0 = col0_of(lid, wid);
  if (col0 >= p.n) { return; }
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row >= p.m) { break; }
    let base = p.c_off + wid.z * p.c_sb + row * p.c_sm;
    let biased = row < p.bias_rows;
    put_row(base, col0, t.lo[r] + select(vec4f(0.0), bias_lo, biased), t.hi[r] + select(vec4f(0.0), bias_hi, biased));
  }
}

fn bias_at(col: u32) -> f32 { return bias[min(col, p.n - 1u)]; }

fn store_with_bias(lid: vec3u, wid: vec3u, t: Tile) {
  let col0 = col0_of(lid, wid);
  let lo = vec4f(bias_at(col0), bias_at(col0 + 1u), bias_at(col0 + 2u), bias_at(col0 + 3u));
  let hi = vec4f(bias_at(col0 + 4u), bias_at(col0 + 5u), bias_at(col0 + 6u), bias_at(col0 + 7u));
  store(lid, wid, t, lo, hi);
}

// C[b, m, n] (+)= sum_k A[b, m, k] B[b, k, n]
@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store(lid, wid, blocked(lid, wid), vec4f(0.0), vec4f(0.0));
}

// C[b, m, n] = sum_k A[b, m, k] B[b, k, n] + bias[n] (for m < bias_rows)
@compute @workgroup_size(WG)
fn matmul_bias(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store_with_bias(lid, wid, blocked(lid, wid));
}

@compute @workgroup_size(WG)
fn matmul_b4(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store(lid, wid, blocked_b4(lid, wid), vec4f(0.0), vec4f(0.0));
}

@compute @workgroup_size(WG)
fn matmul_bias_b4(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store_with_bias(lid, wid, blocked_b4(lid, wid));
}
