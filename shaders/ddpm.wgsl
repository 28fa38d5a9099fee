// DDPM on the device: drawing a training batch from the two-pixel mixture and noising it
// (SPEC section 4), and the reverse step of the op-by-op sampler (SPEC section 5).
// Schedule rows, one per t = 0..T: SCHEDULE_WIDTH floats (see src/diffusion/tables.ts):
// sqrt(alphabar), sqrt(1 - alphabar), 1/sqrt(alpha), (1 - alpha)/sqrt(1 - alphabar), sigma, and
// the posterior mean's coefficients of x_0 and x_t.

const SCHEDULE_WIDTH: u32 = 7u;
// Philox streams (counter word 1) and tags (counter word 3) of each draw.
const TAG_START: u32 = 0u;
const TAG_STEP: u32 = 1u;
// Labels: class 0, class 1, none.
const NO_LABEL: u32 = 2u;

struct DdpmParams {
  n: u32,          // samples in the batch
  dims: u32,       // values per sample
  steps: u32,      // T
  stream: u32,
  p_uncond: f32,   // label dropout probability (training) / guidance strength w (sampling)
  mode: u32,       // sampling: 0 plain, 1 classifier-free guidance (batch 2n: conditional, then unconditional)
  record: u32,     // sampling: samples recorded in the trajectory, 0..n
  weight0: f32, mean0_x: f32, mean0_y: f32, mean1_x: f32, mean1_y: f32, sigma: f32,
  clip: f32,       // sampling: clip the predicted x_0 to [-clip, clip] (0: the plain update)
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> noise: array<f32>;
@group(0) @binding(2) var<storage, read_write> steps: array<u32>;
@group(0) @binding(3) var<storage, read_write> labels: array<u32>;
@group(0) @binding(4) var<storage, read> state: array<u32>;
@group(0) @binding(5) var<storage, read> schedule: array<f32>;
@group(0) @binding(6) var<uniform> p: DdpmParams;
@group(0) @binding(7) var<storage, read_write> trajectory: array<f32>;

fn key() -> vec2u { return vec2u(state[1], state[2]); }

// A standard normal for element e of a sampling draw at this step (shared with the fused sampler).
fn sample_normal(e: u32, tag: u32) -> f32 {
  let r = philox4x32(vec4u(e, p.stream, state[0], tag), key());
  return to_normal_pair(r.x, r.y).x;
}

// One training example per invocation (shaders/twopixel_draw.wgsl), with
// x_t = sqrt(alphabar_t) x0 + sqrt(1 - alphabar_t) eps. x = x_t, noise = eps, steps = t.
@compute @workgroup_size(WG)
fn two_pixel_batch(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let d = draw_two_pixel(i, p.stream, state[0], key(), p.weight0, vec2f(p.mean0_x, p.mean0_y), vec2f(p.mean1_x, p.mean1_y), p.sigma, p.steps, p.p_uncond);
  let row = d.t * SCHEDULE_WIDTH;
  let xt = schedule[row] * d.x0 + schedule[row + 1u] * d.eps;
  x[2u * i] = xt.x;
  x[2u * i + 1u] = xt.y;
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
  let e = flat_index(gid, nwg);
  let batch = select(p.n, 2u * p.n, p.mode == 1u);
  if (e < batch) { steps[e] = p.steps - state[0]; }
  if (e >= p.n * p.dims || state[0] != 0u) { return; }
  let value = sample_normal(e, TAG_START);
  x[e] = value;
  if (p.mode == 1u) { x[p.n * p.dims + e] = value; }
  if (e < p.record * p.dims) { trajectory[e] = value; }
}

// The mean of x_{t-1}: 1/sqrt(alpha_t) (x_t - (1 - alpha_t)/sqrt(1 - alphabar_t) epshat), or with
// p.clip > 0 the posterior mean of x_0 clipped to [-clip, clip] (the fused sampler's same rule).
fn reverse_mean(xt: f32, epshat: f32, t: u32) -> f32 {
  let row = t * SCHEDULE_WIDTH;
  if (p.clip > 0.0) {
    let x0 = clamp((xt - schedule[row + 1u] * epshat) / schedule[row], -p.clip, p.clip);
    return schedule[row + 5u] * x0 + schedule[row + 6u] * xt;
  }
  return schedule[row + 2u] * (xt - schedule[row + 3u] * epshat);
}

// x_{t-1} = 1/sqrt(alpha_t) (x_t - (1 - alpha_t)/sqrt(1 - alphabar_t) epshat) + sigma_t z
// (the table's sigma_1 is 0 unless the variance is analytic);
// epshat = eps (mode 0) or (w + 1) eps(x, t, y) - w eps(x, t, none) (mode 1).
// noise holds the network's prediction. Trajectory row s + 1 gets x_{t-1}.
@compute @workgroup_size(WG)
fn sample_update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let count = p.n * p.dims;
  if (e >= count) { return; }
  let t = p.steps - state[0];
  var epshat = noise[e];
  if (p.mode == 1u) { epshat = (p.p_uncond + 1.0) * noise[e] - p.p_uncond * noise[count + e]; }
  let value = reverse_mean(x[e], epshat, t) + schedule[t * SCHEDULE_WIDTH + 4u] * sample_normal(e, TAG_STEP);
  x[e] = value;
  if (p.mode == 1u) { x[count + e] = value; }
  if (e < p.record * p.dims) { trajectory[(state[0] + 1u) * p.record * p.dims + e] = value; }
}

// The gradient of the classifier's cross-entropy (mean over the n samples) with respect to x.
@group(0) @binding(8) var<storage, read> ce_grad: array<f32>;

// Classifier guidance (SPEC section 5): epshat = eps(x, t) - s sqrt(1 - alphabar_t) grad_x log p(y | x, t),
// with grad_x log p = -n ce_grad; s = p_uncond's slot. Otherwise the update of sample_update.
@compute @workgroup_size(WG)
fn sample_update_classifier(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let count = p.n * p.dims;
  if (e >= count) { return; }
  let t = p.steps - state[0];
  let row = t * SCHEDULE_WIDTH;
  let epshat = noise[e] + p.p_uncond * schedule[row + 1u] * f32(p.n) * ce_grad[e];
  let value = reverse_mean(x[e], epshat, t) + schedule[row + 4u] * sample_normal(e, TAG_STEP);
  x[e] = value;
  if (e < p.record * p.dims) { trajectory[(state[0] + 1u) * p.record * p.dims + e] = value; }
}
