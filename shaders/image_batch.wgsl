// A training batch drawn on the device from a dataset held on the device as bytes (MNIST's
// pixels 0-255, four to a word, scaled to [-1, 1]: 47 MB where floats would exceed WebGPU's
// 128 MiB binding): example i of
// step `step` takes Philox counter (i, stream, step, 0) for its image index, its t ~ U{1..T} and
// its label dropout (to no_label with probability p_uncond); elements 2k and 2k + 1 of the batch
// take the normal pair of counter (2k, stream + 1, step, 0) as their noise eps ~ N(0, 1). x_t = sqrt(alphabar_t) x_0 +
// sqrt(1 - alphabar_t) eps (shaders/ddpm_step.wgsl). One invocation per element. Bindings and
// parameters: src/diffusion/ops.ts.

@compute @workgroup_size(WG)
fn image_batch(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  if (e >= p.batch * p.dims) { return; }
  let i = e / p.dims;
  let key = vec2u(state[1], state[2]);
  let r = philox4x32(vec4u(i, p.stream, state[0], 0u), key);
  let id = to_index(r.x, p.count);
  let step = 1u + to_index(r.y, p.steps);
  let pair = e % 2u;
  let rn = philox4x32(vec4u(e - pair, p.stream + 1u, state[0], 0u), key);
  let z = to_normal_pair(rn.x, rn.y)[pair];
  let at = id * p.dims + e % p.dims;
  let x0 = f32((images[at / 4u] >> (8u * (at % 4u))) & 0xffu) * (2.0 / 255.0) - 1.0;
  xt[e] = noised(schedule_step(step), x0, z);
  eps[e] = z;
  if (e % p.dims == 0u) {
    t[i] = step;
    y[i] = select(labels[id], p.no_label, to_uniform(r.z) < p.p_uncond);
  }
}
