// Fixed-order sums for bias-like gradients: out[c] (+)= sum_{b, l} x[b, c, l]. One invocation per
// c walks b and l in order, so results are bit-identical run to run (no float atomics).

@compute @workgroup_size(WG)
fn sum_batch_length(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_index(gid, nwg);
  if (c >= p.channels) { return; }
  var acc = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    let base = (b * p.channels + c) * p.length;
    for (var l = 0u; l < p.length; l++) {
      acc += x[base + l];
    }
  }
  out[c] = select(acc, out[c] + acc, p.accumulate == 1u);
}
