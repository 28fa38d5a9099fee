// One training example of the two-pixel mixture, drawn the same way by the op-by-op batch
// (ddpm.wgsl two_pixel_batch) and the fused training kernel (twopixel.wgsl): class ~ weights
// (weight0 for class 0), x0 ~ N(peak, sigma^2 I), t ~ U{1..steps}, eps ~ N(0, I), the label
// dropped to NO_LABEL with probability p_uncond. Example i of training step `step` reads
// Philox counters (i, stream, step) and (i, stream + 1, step). The caller forms x_t from its
// schedule table.

struct TwoPixelDraw { x0: vec2f, eps: vec2f, t: u32, label: u32 }

fn draw_two_pixel(i: u32, stream: u32, step: u32, key: vec2u, weight0: f32, mean0: vec2f, mean1: vec2f, sigma: f32, steps: u32, p_uncond: f32) -> TwoPixelDraw {
  let r_data = philox4x32(vec4u(i, stream, step, 0u), key);
  let r_noise = philox4x32(vec4u(i, stream + 1u, step, 0u), key);
  let cls = select(1u, 0u, to_uniform(r_data.x) < weight0);
  let x0 = select(mean1, mean0, cls == 0u) + sigma * to_normal_pair(r_data.y, r_data.z);
  let t = 1u + to_index(r_noise.x, steps);
  return TwoPixelDraw(x0, to_normal_pair(r_noise.z, r_noise.w), t, select(cls, NO_LABEL, to_uniform(r_noise.y) < p_uncond));
}
