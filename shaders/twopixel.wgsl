// The two-pixel UNet of SPEC section 3 fused into kernels where each invocation carries a few
// samples through the whole network: a training step's forward and backward pass, or a whole
// reverse trajectory, without leaving the kernel. The network code itself is generated
// (src/models/twopixel/fusedgen.ts: forward_regs, the train entry point) and appended to this
// file; the op-by-op graph (src/models/twopixel/unet.ts) is the reference these entry points are
// tested against. `node scripts/wgsl.mjs` writes each kernel's whole module out for a reader.

// Bindings and parameters (FusedParams): src/models/twopixel/fused.ts. The weight block
// `weights` (a uniform array of vec4s) holds the UNet's parameters in the generated code's fixed
// layout (pack), and for the sampler the class rows Q and this dispatch's step rows of P.

// ---- training -------------------------------------------------------------------------------

// Per-invocation partial gradients of the fused parameters, accumulated over its samples; W2's and
// W3's come from matmuls over the activation rows instead.
var<private> gw1: array<f32, 64>;
var<private> gb1: array<f32, 64>;
var<private> gg1: array<f32, 64>;
var<private> ge1: array<f32, 64>;
var<private> gb2: array<f32, 64>;
var<private> gg2: array<f32, 64>;
var<private> ge2: array<f32, 64>;
var<private> gb3: array<f32, 64>;
var<private> gg3: array<f32, 64>;
var<private> ge3: array<f32, 64>;
var<private> gw4: array<f32, 64>;
var<private> gb4: f32;

struct Draw { xt: vec2f, eps: vec2f, t: u32, label: u32 }

// Training example i of this step (shaders/twopixel_draw.wgsl, as the op-by-op batch draws it),
// with x_t = sqrt(alphabar_t) x0 + sqrt(1 - alphabar_t) eps.
fn draw_sample(i: u32, key: vec2u) -> Draw {
  let d = draw_two_pixel(i, p.stream, state[0], key, Mixture(p.mix_below, p.mix_mean_x, p.mix_mean_y, p.mix_sigma, p.mix_label), p.steps, p.p_uncond);
  let s = schedule_step(d.t);
  return Draw(vec2f(noised(s, d.x0.x, d.eps.x), noised(s, d.x0.y, d.eps.y)), d.eps, d.t, d.label);
}

// One sample's loss term (mean over the batch's 2B values) and its slope: vec3f(loss, dL/dout).
fn loss_and_slope(d: vec2f, inv_n: f32) -> vec3f {
  switch p.loss_kind {
    case 0u: { return vec3f(dot(d, d) * inv_n, 2.0 * d * inv_n); }
    case 1u: { return vec3f((abs(d.x) + abs(d.y)) * inv_n, sign(d) * inv_n); }
    default: {
      let ad = abs(d);
      let quadratic = ad <= vec2f(p.huber_delta);
      let value = select(p.huber_delta * (ad - 0.5 * p.huber_delta), 0.5 * d * d, quadratic);
      return vec3f((value.x + value.y) * inv_n, select(p.huber_delta * sign(d), d, quadratic) * inv_n);
    }
  }
}

fn put_partial(base: u32, offset: u32, value: f32) {
  partials[base + offset] = value;
}

// Row tid of partials (the layout of the UNet's parameter group): this invocation's partial
// parameter gradients (W2's and W3's columns left unwritten), then its share of the loss.
fn write_partials(tid: u32, loss: f32) {
  let base = tid * (p.width + 1u);
  for (var k = 0u; k < p.n64; k++) { put_partial(base, p.o_w1 + k, gw1[k]); put_partial(base, p.o_w4 + k, gw4[k]); }
  for (var k = 0u; k < p.n32; k++) {
    put_partial(base, p.o_b1 + k, gb1[k]); put_partial(base, p.o_g1 + k, gg1[k]); put_partial(base, p.o_e1 + k, ge1[k]);
    put_partial(base, p.o_b3 + k, gb3[k]); put_partial(base, p.o_g3 + k, gg3[k]); put_partial(base, p.o_e3 + k, ge3[k]);
  }
  for (var k = 0u; k < p.n64; k++) {
    put_partial(base, p.o_b2 + k, gb2[k]); put_partial(base, p.o_g2 + k, gg2[k]); put_partial(base, p.o_e2 + k, ge2[k]);
  }
  put_partial(base, p.o_b4, gb4);
  partials[base + p.width] = loss;
}

// ---- sampling -------------------------------------------------------------------------------

// The fused parameters copied to `packed` in the fixed layout of the generated code
// (packed_source, src/models/twopixel/fusedgen.ts); the kernels then bind it as `weights`.
// The sampler's pack adds Q and the rows t_lo..t_hi of P (from Q_START and P_START, in vec4s).
@compute @workgroup_size(WG)
fn pack(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  if (k < PACKED_FLOATS) {
    packed[k] = unet[packed_source(k)];
  } else if (k >= 4u * Q_START && k < 4u * P_START) {
    packed[k] = table[(p.steps + 1u) * BIAS_WIDTH + k - 4u * Q_START];
  } else if (k >= 4u * P_START && k < 4u * P_START + (p.t_hi + 1u - p.t_lo) * BIAS_WIDTH) {
    packed[k] = table[p.t_lo * BIAS_WIDTH + k - 4u * P_START];
  }
}

fn sample_normal(e: u32, step: u32, tag: u32) -> f32 { return normal_draw(e, p.stream, step, tag, vec2u(state[1], state[2])); }

// Reverse trajectories (SPEC section 5), with the same draws as the op-by-op sampler (ddpm.wgsl):
// x_T, then for t = T..1 the DDPM update with epshat = eps(x, t, y), or (w + 1) eps(x, t, y) -
// w eps(x, t, none) under guidance; this dispatch runs the steps t_hi..t_lo. One invocation runs
// EVALS network evaluations at a time (forward_regs): EVALS samples, or EVALS / 2 under guidance.
// labels holds each sample's label; samples carries x from chunk to chunk and ends as x_0;
// trajectory gets [T + 1, record, 2].
@compute @workgroup_size(WG)
fn sample(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32) {
  let guided = p.guidance_on == 1u;
  let per = select(EVALS, EVALS / 2u, guided);
  let first = gid.x * per;
  lane = li % LANES;
  // Whole groups of LANES lanes run or return together (their broadcasts need every lane); a
  // lane past the samples runs on clamped inputs and stores nothing.
  if ((gid.x - lane) * per >= p.batch) { return; }
  var x: array<vec2f, EVALS>;
  var label: array<u32, EVALS>;
  for (var j = 0u; j < EVALS; j++) {
    let i = first + j;
    if (p.t_hi == p.steps) {
      x[j] = vec2f(sample_normal(2u * i, 0u, TAG_START), sample_normal(2u * i + 1u, 0u, TAG_START));
      if (j < per && i < p.record) { trajectory[2u * i] = x[j].x; trajectory[2u * i + 1u] = x[j].y; }
    } else {
      let at = 2u * min(i, p.batch - 1u);
      x[j] = vec2f(samples[at], samples[at + 1u]);
    }
    label[j] = labels[min(i, p.batch - 1u)];
  }
  for (var t = p.t_hi; t >= p.t_lo; t--) {
    let s = p.steps - t;
    var epshat: array<vec2f, EVALS>;
    if (guided) {
      var ex: array<vec2f, EVALS>;
      var el: array<u32, EVALS>;
      for (var j = 0u; j < EVALS / 2u; j++) {
        ex[2u * j] = x[j]; ex[2u * j + 1u] = x[j];
        el[2u * j] = label[j]; el[2u * j + 1u] = NO_LABEL;
      }
      let eps = forward_regs(ex, t, el);
      for (var j = 0u; j < EVALS / 2u; j++) { epshat[j] = (p.guidance + 1.0) * eps[2u * j] - p.guidance * eps[2u * j + 1u]; }
    } else {
      epshat = forward_regs(x, t, label);
    }
    let st = schedule_step(t);
    for (var j = 0u; j < EVALS; j++) {
      let i = first + j;
      let mean = vec2f(reverse_mean(st, x[j].x, epshat[j].x, p.clip), reverse_mean(st, x[j].y, epshat[j].y, p.clip));
      x[j] = mean + st.sigma * vec2f(sample_normal(2u * i, s, TAG_STEP), sample_normal(2u * i + 1u, s, TAG_STEP));
      if (j < per && i < p.record) {
        let at = ((s + 1u) * p.record + i) * 2u;
        trajectory[at] = x[j].x;
        trajectory[at + 1u] = x[j].y;
      }
    }
  }
  for (var j = 0u; j < per; j++) {
    let i = first + j;
    if (i < p.batch) { samples[2u * i] = x[j].x; samples[2u * i + 1u] = x[j].y; }
  }
}
