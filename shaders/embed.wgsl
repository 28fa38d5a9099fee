// The embeddings of SPEC section 3: Gaussian Fourier features of the step, and the class
// projection (a one-hot label times a weight matrix, i.e. a row lookup, plus a bias).


const TWO_PI_F: f32 = 6.283185307179586;

// out[b, j] = sin(2 pi w_j t_b scale) for j < H, cos(2 pi w_{j-H} t_b scale) for j >= H;
// table = the H frozen frequencies w, width = 2H, scale = 1/T (features of t/T).
@compute @workgroup_size(WG)
fn fourier(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.batch * p.width) { return; }
  let half = p.width / 2u;
  let j = i % p.width;
  let angle = TWO_PI_F * table[j % half] * (f32(ids[i / p.width]) * p.scale);
  out[i] = select(cos(angle), sin(angle), j < half);
}

// out[b, d] = W[label_b, d] + bias[d]: onehot(label) W + bias, W [rows, width].
@compute @workgroup_size(WG)
fn class_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.batch * p.width) { return; }
  let d = i % p.width;
  out[i] = table[ids[i / p.width] * p.width + d] + bias[d];
}

// out[b, d] = table[ids_b, d]: a row lookup (per-sample rows of a table computed once per step).
@compute @workgroup_size(WG)
fn gather_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.batch * p.width) { return; }
  out[i] = table[ids[i / p.width] * p.width + i % p.width];
}

// dW[c, d] (+)= sum_b [ids_b = c] dy[b, d]; table = dy. The backward of both the class lookup
// and gather_rows. Fixed order over b; lanes run along d, so the test on ids_b is uniform.
@compute @workgroup_size(WG)
fn rows_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.width) { return; }
  let d = i % p.width;
  let c = i / p.width;
  var acc = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    if (ids[b] == c) { acc += table[b * p.width + d]; }
  }
  out[i] = select(acc, out[i] + acc, p.accumulate == 1u);
}
