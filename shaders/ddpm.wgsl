// DDPM on the device: drawing a training batch from the two-pixel mixture and noising it
// (SPEC section 4), and the reverse step of the op-by-op sampler (SPEC section 5), around a
// network evaluated by other kernels. Bindings and parameters: src/diffusion/ops.ts; the step and
// the draws: shaders/ddpm_step.wgsl.

fn key() -> vec2u { return vec2u(state[1], state[2]); }

// A standard normal for element e of a sampling draw at this step (the fused sampler's same draws).
fn sample_normal(e: u32, tag: u32) -> f32 { return normal_draw(e, p.stream, state[0], tag, key()); }

// One training example per invocation (shaders/twopixel_draw.wgsl). x = x_t, noise = eps, steps = t.
@compute @workgroup_size(WG)
fn two_pixel_batch(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let d = draw_two_pixel(i, p.stream, state[0], key(), Mixture(p.mix_below, p.mix_mean_x, p.mix_mean_y, p.mix_sigma, p.mix_label), p.steps, p.p_uncond);
  let s = schedule_step(d.t);
  x[2u * i] = noised(s, d.x0.x, d.eps.x);
  x[2u * i + 1u] = noised(s, d.x0.y, d.eps.y);
  noise[2u * i] = d.eps.x;
  noise[2u * i + 1u] = d.eps.y;
  steps[i] = d.t;
  labels[i] = d.label;
}

// Before the network at sampling step s (t = T - s): at s = 0 draw x_T ~ N(0, I) (recorded as
// trajectory row 0); every step, feed the network t. Under guidance both halves of the
// network batch hold the same x. One invocation per element of the n samples.
@compute @workgroup_size(WG)
fn sample_prepare(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  prepare(flat_index(gid, nwg), p.steps - state[0]);
}

// Element e of a sampler's prologue: the network's t, and x_T drawn at the first step.
fn prepare(e: u32, t: u32) {
  let guided = p.guidance_on == 1u;
  if (e < select(p.n, 2u * p.n, guided)) { steps[e] = t; }
  if (e >= p.n * p.dims || state[0] != 0u) { return; }
  let value = sample_normal(e, TAG_START);
  x[e] = value;
  if (guided) { x[p.n * p.dims + e] = value; }
  if (e < p.record * p.dims) { trajectory[e] = value; }
}

// The prediction a step uses: eps, or under classifier-free guidance (w + 1) eps(y) - w eps(none).
fn guided_eps(e: u32, count: u32) -> f32 {
  if (p.guidance_on == 1u) { return (p.guidance + 1.0) * noise[e] - p.guidance * noise[count + e]; }
  return noise[e];
}

// The step's new value of element e: x (both halves under guidance) and trajectory row s + 1.
fn store_step(e: u32, count: u32, value: f32) {
  x[e] = value;
  if (p.guidance_on == 1u) { x[count + e] = value; }
  if (e < p.record * p.dims) { trajectory[(state[0] + 1u) * p.record * p.dims + e] = value; }
}

// x_{t-1} = reverse_mean(x_t, epshat) + sigma_t z (the table's sigma_1 is 0 unless the variance is
// analytic); epshat = eps, or under classifier-free guidance (w + 1) eps(x, t, y) - w eps(x, t, none).
// noise holds the network's prediction. Trajectory row s + 1 gets x_{t-1}.
@compute @workgroup_size(WG)
fn sample_update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let count = p.n * p.dims;
  if (e >= count) { return; }
  let s = schedule_step(p.steps - state[0]);
  let epshat = guided_eps(e, count);
  if (e < p.record_x0 * p.dims) { record_x0(e, x[e], s.sqrt_ab, s.sqrt_1m_ab, epshat); }
  store_step(e, count, reverse_mean(s, x[e], epshat, p.clip) + s.sigma * sample_normal(e, TAG_STEP));
}

// Row s of x0s [S, record_x0, dims]: the prediction of x_0 at sampling step s (clipped as the step clips it).
fn record_x0(e: u32, xt: f32, sqrt_ab: f32, sqrt_1m_ab: f32, epshat: f32) {
  var x0 = (xt - sqrt_1m_ab * epshat) / sqrt_ab;
  if (p.clip > 0.0) { x0 = clamp(x0, -p.clip, p.clip); }
  x0s[state[0] * p.record_x0 * p.dims + e] = x0;
}

// Classifier guidance (SPEC section 5): epshat = eps(x, t) - s sqrt(1 - alphabar_t) grad_x log p(y | x, t),
// with grad_x log p = -n ce_grad (ce_grad: the gradient of the classifier's mean cross-entropy
// over the n samples), s = p.scale. Otherwise the update of sample_update.
@compute @workgroup_size(WG)
fn sample_update_classifier(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let count = p.n * p.dims;
  if (e >= count) { return; }
  let s = schedule_step(p.steps - state[0]);
  let epshat = noise[e] + p.scale * s.sqrt_1m_ab * f32(p.n) * ce_grad[e];
  store_step(e, count, reverse_mean(s, x[e], epshat, p.clip) + s.sigma * sample_normal(e, TAG_STEP));
}

// DDIM (Song et al. 2021) over the decreasing steps times[0] = T > times[1] > ... > times[S] = 0:
// sampling step s goes from t = times[s] to t' = times[s + 1]. Before the network: draw x_T at
// s = 0 (as sample_prepare) and feed the network t.
@compute @workgroup_size(WG)
fn ddim_prepare(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  prepare(flat_index(gid, nwg), times[state[0]]);
}

// x_t' = sqrt(ab') x0 + sqrt(1 - ab' - sigma^2) epshat + sigma z, with x0 = (x_t - sqrt(1 - ab) epshat)
// / sqrt(ab) and sigma = eta sqrt((1 - ab') / (1 - ab)) sqrt(1 - ab / ab') (ab' = 1 at t' = 0). With
// clip > 0, x0 is clipped to [-clip, clip] and epshat recomputed from it, so that x_t' stays on the
// line through x0 and x_t. eta = 0: deterministic given x_T; eta = 1 over all T steps: DDPM's
// posterior variance. epshat as in sample_update (classifier-free guidance when on).
@compute @workgroup_size(WG)
fn ddim_update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let count = p.n * p.dims;
  if (e >= count) { return; }
  let now = schedule_step(times[state[0]]);
  let next = times[state[0] + 1u];
  var ab_next = 1.0;
  if (next > 0u) { let s = schedule_step(next); ab_next = s.sqrt_ab * s.sqrt_ab; }
  let ab = now.sqrt_ab * now.sqrt_ab;
  var epshat = guided_eps(e, count);
  if (e < p.record_x0 * p.dims) { record_x0(e, x[e], now.sqrt_ab, now.sqrt_1m_ab, epshat); }
  var x0 = (x[e] - now.sqrt_1m_ab * epshat) / now.sqrt_ab;
  if (p.clip > 0.0) {
    x0 = clamp(x0, -p.clip, p.clip);
    epshat = (x[e] - now.sqrt_ab * x0) / now.sqrt_1m_ab;
  }
  let sigma = p.eta * sqrt((1.0 - ab_next) / (1.0 - ab)) * sqrt(max(0.0, 1.0 - ab / ab_next));
  var value = sqrt(ab_next) * x0 + sqrt(max(0.0, 1.0 - ab_next - sigma * sigma)) * epshat;
  if (sigma > 0.0) { value += sigma * sample_normal(e, TAG_STEP); }
  store_step(e, count, value);
}
