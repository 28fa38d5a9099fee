// One training example of the two-pixel mixture, drawn the same way by the op-by-op batch
// (ddpm.wgsl two_pixel_batch) and the fused training kernel (twopixel.wgsl): peak k ~ weights
// (k = how many of the running sums `below` the uniform draw reaches), x0 ~ N(mean_k,
// sigma_k^2 I), t ~ U{1..steps}, eps ~ N(0, I), the peak's label dropped to NO_LABEL with
// probability p_uncond. Example i of training step `step` reads
// Philox counters (i, stream, step) and (i, stream + 1, step). The caller forms x_t from its
// schedule table.

struct TwoPixelDraw { x0: vec2f, eps: vec2f, t: u32, label: u32 }

// Up to four peaks, one per lane (src/diffusion/ops.ts mixtureParams).
struct Mixture { below: vec4f, mean_x: vec4f, mean_y: vec4f, sigma: vec4f, label: vec4u }

fn draw_two_pixel(i: u32, stream: u32, step: u32, key: vec2u, m: Mixture, steps: u32, p_uncond: f32) -> TwoPixelDraw {
  let r_data = philox4x32(vec4u(i, stream, step, 0u), key);
  let r_noise = philox4x32(vec4u(i, stream + 1u, step, 0u), key);
  let u = to_uniform(r_data.x);
  let k = u32(u >= m.below.x) + u32(u >= m.below.y) + u32(u >= m.below.z);
  let x0 = vec2f(m.mean_x[k], m.mean_y[k]) + m.sigma[k] * to_normal_pair(r_data.y, r_data.z);
  let t = 1u + to_index(r_noise.x, steps);
  return TwoPixelDraw(x0, to_normal_pair(r_noise.z, r_noise.w), t, select(m.label[k], NO_LABEL, to_uniform(r_noise.y) < p_uncond));
}
