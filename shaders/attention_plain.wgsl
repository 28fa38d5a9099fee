// The attention kernels' variant for any device (shaders/attention.wgsl): each lane reads all 8
// row values of its unit's tile at an inner index, rows past `rows` reading the last; S (scaled)
// and dP go to workgroup memory as tiles, and after a barrier one lane per row takes the softmax
// or its gradient there.

fn qkv_rows(at: u32, stride: u32, row0: u32, rows: u32, lane: u32) -> array<f32, 8> {
  var v: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) { v[r] = qkv[at + min(row0 + r, rows - 1u) * stride]; }
  return v;
}

fn dout_rows(at: u32, stride: u32, row0: u32, rows: u32, lane: u32) -> array<f32, 8> {
  var v: array<f32, 8>;
  for (var r = 0u; r < ROWS; r++) { v[r] = dout[at + min(row0 + r, rows - 1u) * stride]; }
  return v;
}

// The tiles store S scaled, or dP, for the rows' pass.
fn softmax_tile(t: Tile, l: Lane, i0: u32, at: u32) {
  var s = t;
  for (var r = 0u; r < ROWS; r++) {
    s.lo[r] *= p.scale;
    s.hi[r] *= p.scale;
  }
  put_scores(s, l, i0);
}

fn softmax_grad_tile(t: Tile, l: Lane, i0: u32, at: u32) { put_scores(t, l, i0); }

// Rows i of scores: S -> P = softmax(S), P also into probs_out[at + i N + j].
fn softmax_rows(index: u32, at: u32) {
  let n = p.positions;
  for (var i = index; i < n; i += WG) {
    let row = i * n;
    var m = scores[row];
    for (var j = 1u; j < n; j++) { m = max(m, scores[row + j]); }
    var sum = 0.0;
    for (var j = 0u; j < n; j++) {
      let e = exp(scores[row + j] - m);
      scores[row + j] = e;
      sum += e;
    }
    let inv = 1.0 / sum;
    for (var j = 0u; j < n; j++) {
      let pij = scores[row + j] * inv;
      scores[row + j] = pij;
      probs_out[at + row + j] = pij;
    }
  }
}

// Rows i of scores: dP -> dS = P (dP - sum_j P dP) / sqrt(C), P[i, j] at probs[at + i N + j].
fn softmax_grad_rows(index: u32, at: u32) {
  let n = p.positions;
  for (var i = index; i < n; i += WG) {
    let row = i * n;
    var dot = 0.0;
    for (var j = 0u; j < n; j++) { dot += probs[at + row + j] * scores[row + j]; }
    for (var j = 0u; j < n; j++) { scores[row + j] = p.scale * probs[at + row + j] * (scores[row + j] - dot); }
  }
}
