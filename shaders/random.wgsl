// On-device random draws from Philox 4x32-10 (prepended). Element i of a draw uses the counter
// (i, stream, step, 0) and the run's seed as key, both from `state`: the same seed, step and
// stream give the same numbers on every device and in src/core/philox.ts.

fn draw(i: u32) -> vec4u {
  return philox4x32(vec4u(i, p.stream, state[0], 0u), vec2u(state[1], state[2]));
}

// uniform in [0, 1)
@compute @workgroup_size(WG)
fn uniform_draw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < p.n) { values[i] = to_uniform(draw(i).x); }
}

// mean + std * N(0, 1)
@compute @workgroup_size(WG)
fn normal_draw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < p.n) { let r = draw(i); values[i] = p.mean + p.stddev * to_normal_pair(r.x, r.y).x; }
}

// integers in [low, low + range)
@compute @workgroup_size(WG)
fn randint_draw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < p.n) { ints[i] = p.low + to_index(draw(i).x, p.range); }
}
