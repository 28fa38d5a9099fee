// The attention kernels' variant for a device with subgroups of 8 lanes, the workgroup being one
// unit (shaders/attention.wgsl; spread: shaders/spread.wgsl): lane r reads row r's value at an
// inner index and every lane takes the eight from the lanes that read them (one read per lane
// where attention_plain.wgsl makes eight; lavapipe reads a shared, non-constant address once per
// lane), and the softmax and its gradient are taken on the tile in registers, each row's max and
// sums across the unit's 8 lanes by subgroupMax and subgroupAdd, so that only P and dS are stored.

fn qkv_rows(at: u32, stride: u32, row0: u32, rows: u32, lane: u32) -> array<f32, 8> {
  return spread(qkv[at + min(row0 + lane, rows - 1u) * stride]);
}

fn dout_rows(at: u32, stride: u32, row0: u32, rows: u32, lane: u32) -> array<f32, 8> {
  return spread(dout[at + min(row0 + lane, rows - 1u) * stride]);
}

// Whether each of the lane's columns is a position (< N).
struct Inside { lo: vec4<bool>, hi: vec4<bool> }

fn inside(l: Lane) -> Inside {
  let n = vec4u(p.positions);
  return Inside(vec4u(l.col0) + vec4u(0u, 1u, 2u, 3u) < n, vec4u(l.col0) + vec4u(4u, 5u, 6u, 7u) < n);
}

// Per row r: the sum of its values in columns that are positions, over the unit's lanes.
fn unit_row_sums(t: Tile, ok: Inside) -> array<f32, 8> {
  var s: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) {
    s[r] = dot(select(vec4f(0.0), t.lo[r], ok.lo) + select(vec4f(0.0), t.hi[r], ok.hi), vec4f(1.0));
  }
  let lo = subgroupAdd(vec4f(s[0], s[1], s[2], s[3]));
  let hi = subgroupAdd(vec4f(s[4], s[5], s[6], s[7]));
  return array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
}

// The tile's rows i0 + r (< N) of S at the lane's columns -> P = softmax_j(scale S), into scores
// and probs_out[at + i N + j].
fn softmax_tile(t: Tile, l: Lane, i0: u32, at: u32) {
  let ok = inside(l);
  var x: Tile;
  var m: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) {
    x.lo[r] = select(vec4f(-3.0e38), p.scale * t.lo[r], ok.lo);
    x.hi[r] = select(vec4f(-3.0e38), p.scale * t.hi[r], ok.hi);
    let h = max(x.lo[r], x.hi[r]);
    m[r] = max(max(h.x, h.y), max(h.z, h.w));
  }
  let m_lo = subgroupMax(vec4f(m[0], m[1], m[2], m[3]));
  let m_hi = subgroupMax(vec4f(m[4], m[5], m[6], m[7]));
  let row_max = array<f32, 8>(m_lo.x, m_lo.y, m_lo.z, m_lo.w, m_hi.x, m_hi.y, m_hi.z, m_hi.w);
  for (var r = 0u; r < ROWS; r++) {
    x.lo[r] = exp(x.lo[r] - row_max[r]);
    x.hi[r] = exp(x.hi[r] - row_max[r]);
  }
  let sums = unit_row_sums(x, ok);
  for (var r = 0u; r < ROWS; r++) {
    x.lo[r] /= sums[r];
    x.hi[r] /= sums[r];
  }
  put_scores(x, l, i0);
  let n = p.positions;
  for (var r = 0u; r < ROWS; r++) {
    if (i0 + r >= n) { break; }
    let values = array<vec4f, 2>(x.lo[r], x.hi[r]);
    for (var j = 0u; j < 8u; j++) {
      if (l.col0 + j < n) { probs_out[at + (i0 + r) * n + l.col0 + j] = values[j / 4u][j % 4u]; }
    }
  }
}

// The tile's rows i0 + r (< N) of dP at the lane's columns -> dS = P (dP - sum_j P dP) / sqrt(C)
// into scores, P[i, j] at probs[at + i N + j].
fn softmax_grad_tile(t: Tile, l: Lane, i0: u32, at: u32) {
  let n = p.positions;
  let pj = columns(l, at, 1u);
  var pt: Tile;
  var pdp: Tile;
  for (var r = 0u; r < ROWS; r++) {
    let row = min(i0 + r, n - 1u) * n;
    pt.lo[r] = probs4(pj.lo + row);
    pt.hi[r] = probs4(pj.hi + row);
    pdp.lo[r] = pt.lo[r] * t.lo[r];
    pdp.hi[r] = pt.hi[r] * t.hi[r];
  }
  let dots = unit_row_sums(pdp, inside(l));
  var ds: Tile;
  for (var r = 0u; r < ROWS; r++) {
    ds.lo[r] = p.scale * pt.lo[r] * (t.lo[r] - dots[r]);
    ds.hi[r] = p.scale * pt.hi[r] * (t.hi[r] - dots[r]);
  }
  put_scores(ds, l, i0);
}

// Nothing after the tiles: softmax_tile and softmax_grad_tile took the rows whole.
fn softmax_rows(index: u32, at: u32) {}

fn softmax_grad_rows(index: u32, at: u32) {}
