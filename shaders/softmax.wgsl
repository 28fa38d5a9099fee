// Row softmax with a scale, and its backward, one invocation per row (attention's score rows:
// short, one per query position), in place. x is [rows, n].
//   forward   p[r, j] = exp(s x[r, j] - m) / sum_j' exp(s x[r, j'] - m), m = max_j s x[r, j]
//   backward  dx[r, j] = s p[r, j] (dp[r, j] - sum_j' p[r, j'] dp[r, j'])

@compute @workgroup_size(WG)
fn softmax_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat_index(gid, nwg);
  if (r >= p.rows) { return; }
  let base = r * p.n;
  var m = p.scale * rows[base];
  for (var j = 1u; j < p.n; j++) { m = max(m, p.scale * rows[base + j]); }
  var sum = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let e = exp(p.scale * rows[base + j] - m);
    rows[base + j] = e;
    sum += e;
  }
  let inv = 1.0 / sum;
  for (var j = 0u; j < p.n; j++) { rows[base + j] *= inv; }
}

@compute @workgroup_size(WG)
fn softmax_rows_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat_index(gid, nwg);
  if (r >= p.rows) { return; }
  let base = r * p.n;
  var dot = 0.0;
  for (var j = 0u; j < p.n; j++) { dot += probs[base + j] * rows[base + j]; }
  for (var j = 0u; j < p.n; j++) { rows[base + j] = p.scale * probs[base + j] * (rows[base + j] - dot); }
}
