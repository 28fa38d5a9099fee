// The optimiser and the per-step state. One Adam dispatch updates every trainable parameter of
// the flat store; the step counter lives on the device so that many steps fit in one submit.

// Four parameters per invocation, as vec4s (the trainable length is a multiple of 64): the step's
// scalars (bias corrections, learning rate) are computed once per four, and on a CPU driver one
// vec4 access per lane costs less than four scalar ones.
// Bindings (src/core/program.ts): params, m, v, ema read_write and grads read, all as vec4s;
// state [step, seed lo, seed hi, 0]. p.decay_steps > 0: the learning rate follows a cosine from
// lr at step 0 to 0 at decay_steps; p.warmup_steps > 0 scales it by min(1, (k + 1) / warmup_steps)
// at step k first. p.ema_decay > 0: an exponential moving average of the parameters,
// ema = d ema + (1 - d) params, with d = min(ema_decay, (1 + k) / (10 + k)) when p.ema_warmup = 1.

// Adam with bias correction at step state[0] + 1; AdamW's decoupled decay when weight_decay > 0:
// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m/(1-b1^k) / (sqrt(v/(1-b2^k)) + eps) + wd p).
@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  let a = p;
  if (i >= a.n / 4u) { return; }
  let k = f32(state[0] + 1u);
  let g = grads[i];
  let mi = a.beta1 * m[i] + (1.0 - a.beta1) * g;
  let vi = a.beta2 * v[i] + (1.0 - a.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let mhat = mi / (1.0 - pow(a.beta1, k));
  let vhat = vi / (1.0 - pow(a.beta2, k));
  var lr = a.lr;
  if (a.decay_steps > 0u) {
    lr *= 0.5 * (1.0 + cos(3.141592653589793 * f32(min(state[0], a.decay_steps)) / f32(a.decay_steps)));
  }
  if (a.warmup_steps > 0u) { lr *= min(1.0, f32(state[0] + 1u) / f32(a.warmup_steps)); }
  let p = params[i];
  let updated = p - lr * (mhat / (sqrt(vhat) + vec4f(a.eps)) + a.weight_decay * p);
  params[i] = updated;
  if (a.ema_decay > 0.0) {
    var d = a.ema_decay;
    if (a.ema_warmup == 1u) { d = min(d, (1.0 + f32(state[0])) / (10.0 + f32(state[0]))); }
    ema[i] = d * ema[i] + (1.0 - d) * updated;
  }
}
