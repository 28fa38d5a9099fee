// The two-pixel UNet of SPEC section 3 fused into kernels where each invocation carries a few
// samples through the whole network: a training step's forward and backward pass, or a whole
// reverse trajectory, without leaving the kernel. The network code itself is generated
// (src/diffusion/fusedgen.ts: forward_regs, the train entry point) and appended to this file;
// the op-by-op graph (src/nn/twopixel.ts) is the reference these entry points are tested against.

struct FusedParams {
  batch: u32,       // samples (training batch, or samples drawn)
  steps: u32,       // T
  threads: u32,     // training: invocations sharing the batch (each keeps partial gradients)
  stream: u32,      // Philox stream
  scalar: f32,      // training: label dropout probability; sampling: guidance strength w
  kind: u32,        // training: loss (0 MSE, 1 L1, 2 Huber); sampling: 1 = classifier-free guidance
  delta: f32,       // training: Huber threshold; sampling: clip of the predicted x_0 (0: none)
  record: u32,      // sampling: samples whose trajectory is recorded
  weight0: f32, mean0_x: f32, mean0_y: f32, mean1_x: f32, mean1_y: f32, sigma: f32,
  lo: u32,          // flat-store offset of the first fused parameter
  width: u32,       // floats from lo to the end of the last fused parameter
  // flat-store offsets: conv weight, conv bias, norm gamma, norm beta of blocks 1-3; output conv
  o_w1: u32, o_b1: u32, o_g1: u32, o_e1: u32,
  o_w2: u32, o_b2: u32, o_g2: u32, o_e2: u32,
  o_w3: u32, o_b3: u32, o_g3: u32, o_e3: u32,
  o_w4: u32, o_b4: u32,
  // 32 and 64, the network's widths, as loop bounds: read from here the driver cannot unroll the
  // generated code's loops over channel blocks (unrolled, LLVM compiles for minutes).
  n32: u32, n64: u32,
  // sampling: the steps t_hi down to t_lo this dispatch runs (their rows of P are in the uniform
  // block); the first chunk (t_hi = T) draws x_T, later ones continue from out_main
  t_hi: u32, t_lo: u32,
}

@group(0) @binding(0) var<storage, read> params: array<f32>;   // the flat store; only pack reads it (the rest: wts, binding 9)
// the block biases PQ [T + 4, 128]: rows 0..T the time part P(t), rows T + 1.. the class part Q(label)
// (the sampler's pack copies from here; training reads it as table4, binding 2)
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read> state: array<u32>;
@group(0) @binding(4) var<storage, read> schedule: array<f32>; // rows of SCHEDULE_WIDTH, as in ddpm.wgsl
@group(0) @binding(5) var<storage, read_write> out_main: array<f32>;  // training: partial gradients; sampling: x_0
@group(0) @binding(6) var<storage, read_write> out_side: array<f32>;  // sampling: trajectory (training: bias_grads4, binding 11)
@group(0) @binding(7) var<storage, read_write> ids: array<u32>;       // training: t * 3 + label per sample; sampling: labels
@group(0) @binding(8) var<uniform> p: FusedParams;
// training: sample-major activation rows for the weight-gradient matmuls (src/diffusion/fused.ts):
// h1 [2B, 32], dL/dpre3 [2B, 32], dL/dpre2 [2B, 64], h2 [2B, 64], one row per sample and position
@group(0) @binding(10) var<storage, read_write> acts: array<vec4f>;
// training: the table PQ and the per-sample bias gradients [B, 128] as vec4s (four channels per read/store)
@group(0) @binding(2) var<storage, read> table4: array<vec4f>;
@group(0) @binding(11) var<storage, read_write> bias_grads4: array<vec4f>;

const SCHEDULE_WIDTH: u32 = 7u;
const BIAS_WIDTH: u32 = 128u;
const NO_LABEL: u32 = 2u;
const TAG_START: u32 = 0u;
const TAG_STEP: u32 = 1u;

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
// with x_t = sqrt(alphabar_t) x0 + sqrt(1 - alphabar_t) eps; p.scalar is the label dropout.
fn draw_sample(i: u32, key: vec2u) -> Draw {
  let d = draw_two_pixel(i, p.stream, state[0], key, p.weight0, vec2f(p.mean0_x, p.mean0_y), vec2f(p.mean1_x, p.mean1_y), p.sigma, p.steps, p.scalar);
  let row = d.t * SCHEDULE_WIDTH;
  return Draw(schedule[row] * d.x0 + schedule[row + 1u] * d.eps, d.eps, d.t, d.label);
}

// One sample's loss term (mean over the batch's 2B values) and its slope: vec3f(loss, dL/dout).
fn loss_and_slope(d: vec2f, inv_n: f32) -> vec3f {
  switch p.kind {
    case 0u: { return vec3f(dot(d, d) * inv_n, 2.0 * d * inv_n); }
    case 1u: { return vec3f((abs(d.x) + abs(d.y)) * inv_n, sign(d) * inv_n); }
    default: {
      let ad = abs(d);
      let quadratic = ad <= vec2f(p.delta);
      let value = select(p.delta * (ad - 0.5 * p.delta), 0.5 * d * d, quadratic);
      return vec3f((value.x + value.y) * inv_n, select(p.delta * sign(d), d, quadratic) * inv_n);
    }
  }
}

fn put_partial(base: u32, offset: u32, value: f32) {
  out_main[base + offset - p.lo] = value;
}

// Row tid of out_main (the layout of the flat store from lo): this invocation's partial
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
  out_main[base + p.width] = loss;
}

// ---- sampling -------------------------------------------------------------------------------

// The fused parameters copied to out_main in the fixed layout of the generated code
// (packed_source, src/diffusion/fusedgen.ts); the kernels then bind it as the uniform weight block.
// The sampler's pack adds Q and the rows t_lo..t_hi of P (from Q_START and P_START, in vec4s).
@compute @workgroup_size(64)
fn pack(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  if (k < PACKED_FLOATS) {
    out_main[k] = params[packed_source(k)];
  } else if (k >= 4u * Q_START && k < 4u * P_START) {
    out_main[k] = table[(p.steps + 1u) * BIAS_WIDTH + k - 4u * Q_START];
  } else if (k >= 4u * P_START && k < 4u * P_START + (p.t_hi + 1u - p.t_lo) * BIAS_WIDTH) {
    out_main[k] = table[p.t_lo * BIAS_WIDTH + k - 4u * P_START];
  }
}

fn sample_normal(e: u32, step: u32, tag: u32) -> f32 {
  let r = philox4x32(vec4u(e, p.stream, step, tag), vec2u(state[1], state[2]));
  return to_normal_pair(r.x, r.y).x;
}

// Reverse trajectories (SPEC section 5), with the same draws as the op-by-op sampler (ddpm.wgsl):
// x_T, then for t = T..1 the DDPM update with epshat = eps(x, t, y), or (w + 1) eps(x, t, y) -
// w eps(x, t, none) under guidance; this dispatch runs the steps t_hi..t_lo. One invocation runs
// EVALS network evaluations at a time (forward_regs): EVALS samples, or EVALS / 2 under guidance.
// ids holds each sample's label; out_main carries x from chunk to chunk and ends as x_0; out_side
// gets the trajectory [T + 1, record, 2].
@compute @workgroup_size(64)
fn sample(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32) {
  let guided = p.kind == 1u;
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
      if (j < per && i < p.record) { out_side[2u * i] = x[j].x; out_side[2u * i + 1u] = x[j].y; }
    } else {
      let at = 2u * min(i, p.batch - 1u);
      x[j] = vec2f(out_main[at], out_main[at + 1u]);
    }
    label[j] = ids[min(i, p.batch - 1u)];
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
      for (var j = 0u; j < EVALS / 2u; j++) { epshat[j] = (p.scalar + 1.0) * eps[2u * j] - p.scalar * eps[2u * j + 1u]; }
    } else {
      epshat = forward_regs(x, t, label);
    }
    let row = t * SCHEDULE_WIDTH;
    for (var j = 0u; j < EVALS; j++) {
      let i = first + j;
      if (p.delta > 0.0) {
        let x0 = clamp((x[j] - schedule[row + 1u] * epshat[j]) / schedule[row], vec2f(-p.delta), vec2f(p.delta));
        x[j] = schedule[row + 5u] * x0 + schedule[row + 6u] * x[j];
      } else {
        x[j] = schedule[row + 2u] * (x[j] - schedule[row + 3u] * epshat[j]);
      }
      x[j] += schedule[row + 4u] * vec2f(sample_normal(2u * i, s, TAG_STEP), sample_normal(2u * i + 1u, s, TAG_STEP));
      if (j < per && i < p.record) {
        let at = ((s + 1u) * p.record + i) * 2u;
        out_side[at] = x[j].x;
        out_side[at + 1u] = x[j].y;
      }
    }
  }
  for (var j = 0u; j < per; j++) {
    let i = first + j;
    if (i < p.batch) { out_main[2u * i] = x[j].x; out_main[2u * i + 1u] = x[j].y; }
  }
}
