// Sums the fused training kernel's per-invocation partial gradients and losses in fixed order:
// grads[j] (+)= sum_r partials[r][j] over the fused parameters' ranges (of the UNet's parameter group), and the step's loss
// to loss[step % history]. One invocation per column j (the last column is the loss).

fn span_of(k: u32) -> vec2u {
  let v = p.spans[k / 2u];
  return select(v.zw, v.xy, k % 2u == 0u);
}

@compute @workgroup_size(WG)
fn reduce(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = flat_index(gid, nwg);
  if (j > p.width) { return; }
  var covered = j == p.width;
  for (var k = 0u; k < p.ranges; k++) {
    let s = span_of(k);
    covered = covered || (j >= s.x && j < s.x + s.y);
  }
  if (!covered) { return; }
  var acc = 0.0;
  for (var r = 0u; r < p.rows; r++) { acc += partials[r * (p.width + 1u) + j]; }
  if (j == p.width) {
    loss[state[0] % p.history] = acc;
  } else {
    grads[j] = select(acc, grads[j] + acc, p.accumulate == 1u);
  }
}
