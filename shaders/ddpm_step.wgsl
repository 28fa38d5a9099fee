// What both DDPM samplers (ddpm.wgsl, op by op; twopixel.wgsl, fused) and the training batches
// share: the reverse step of SPEC section 5 on a schedule row (schedule_step, from the table of
// src/diffusion/tables.ts) and the Philox normal draws. TAG_START and TAG_STEP (the counter's
// last word for x_T and for each step's noise): src/diffusion/ops.ts.

// The mean of x_{t-1}: 1/sqrt(alpha_t) (x_t - (1 - alpha_t)/sqrt(1 - alphabar_t) epshat), or with
// clip > 0 the posterior mean of the predicted x_0 clipped to [-clip, clip].
fn reverse_mean(s: Step, xt: f32, epshat: f32, clip: f32) -> f32 {
  if (clip > 0.0) {
    let x0 = clamp((xt - s.sqrt_1m_ab * epshat) / s.sqrt_ab, -clip, clip);
    return s.x0_coef * x0 + s.xt_coef * xt;
  }
  return s.inv_sqrt_alpha * (xt - s.eps_coef * epshat);
}

// A standard normal for element e of a draw: Philox counter (e, stream, step, tag) under `key`.
fn normal_draw(e: u32, stream: u32, step: u32, tag: u32, key: vec2u) -> f32 {
  let r = philox4x32(vec4u(e, stream, step, tag), key);
  return to_normal_pair(r.x, r.y).x;
}

// x_t = sqrt(alphabar_t) x_0 + sqrt(1 - alphabar_t) eps.
fn noised(s: Step, x0: f32, eps: f32) -> f32 { return s.sqrt_ab * x0 + s.sqrt_1m_ab * eps; }
