// The two-pixel UNet of SPEC section 3 fused into one invocation per sample: the network lives
// in private memory, every weight read has the same address across lanes (a broadcast), and a
// whole training step or a whole reverse trajectory runs without leaving the kernel. The
// op-by-op graph (src/nn/twopixel.ts) is the reference these entry points are tested against.
// Activations are [channel][position] with 2 positions: index c * 2 + l.

struct FusedParams {
  batch: u32,       // samples (training batch, or samples drawn)
  steps: u32,       // T
  threads: u32,     // training: invocations sharing the batch (each keeps partial gradients)
  stream: u32,      // Philox stream
  scalar: f32,      // training: label dropout probability; sampling: guidance strength w
  kind: u32,        // training: loss (0 MSE, 1 L1, 2 Huber); sampling: 1 = classifier-free guidance
  delta: f32,       // Huber threshold
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
  // whole network (unrolled, lavapipe spends about a minute compiling each entry point).
  n32: u32, n64: u32,
}

@group(0) @binding(0) var<storage, read> params: array<f32>;
@group(0) @binding(1) var<storage, read> ptable: array<f32>;   // P [T + 1, 128]: time part of the block biases
@group(0) @binding(2) var<storage, read> qtable: array<f32>;   // Q [3, 128]: class part
@group(0) @binding(3) var<storage, read> state: array<u32>;
@group(0) @binding(4) var<storage, read> schedule: array<f32>; // rows of SCHEDULE_WIDTH, as in ddpm.wgsl
@group(0) @binding(5) var<storage, read_write> out_main: array<f32>;  // training: partial gradients; sampling: x_0
@group(0) @binding(6) var<storage, read_write> out_side: array<f32>;  // training: per-sample bias gradients [B, 128]; sampling: trajectory
@group(0) @binding(7) var<storage, read_write> ids: array<u32>;       // training: t * 3 + label per sample; sampling: labels
@group(0) @binding(8) var<uniform> p: FusedParams;

const SCHEDULE_WIDTH: u32 = 7u;
const BIAS_WIDTH: u32 = 128u;
const NO_LABEL: u32 = 2u;
const TAG_START: u32 = 0u;
const TAG_STEP: u32 = 1u;

var<private> bias: array<f32, 128>;
var<private> pre: array<f32, 128>;
var<private> n1: array<f32, 128>;
var<private> h1: array<f32, 128>;
var<private> n2: array<f32, 128>;
var<private> h2: array<f32, 128>;
var<private> n3: array<f32, 128>;
var<private> h3: array<f32, 128>;
var<private> rstd1: array<f32, 32>;
var<private> rstd2: array<f32, 32>;
var<private> rstd3: array<f32, 32>;

fn w(o: u32) -> f32 { return params[o]; }
fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }

fn load_bias(t: u32, label: u32) {
  for (var c = 0u; c < 2u * p.n64; c++) {
    bias[c] = ptable[t * BIAS_WIDTH + c] + qtable[label * BIAS_WIDTH + c];
  }
}

// GroupNorm (biased variance, eps 1e-5) then affine and SiLU over `pre`: n = normalised, h = output.
fn norm_silu(n: ptr<private, array<f32, 128>>, h: ptr<private, array<f32, 128>>, rstd: ptr<private, array<f32, 32>>,
             channels: u32, groups: u32, o_gamma: u32, o_beta: u32) {
  let span = channels / groups * 2u;
  for (var g = 0u; g < groups; g++) {
    var sum = 0.0;
    for (var i = 0u; i < span; i++) { sum += pre[g * span + i]; }
    let mean = sum / f32(span);
    var sq = 0.0;
    for (var i = 0u; i < span; i++) { let d = pre[g * span + i] - mean; sq += d * d; }
    let r = 1.0 / sqrt(sq / f32(span) + 1e-5);
    (*rstd)[g] = r;
    for (var i = 0u; i < span; i++) {
      let k = g * span + i;
      let c = k / 2u;
      let nk = (pre[k] - mean) * r;
      (*n)[k] = nk;
      let a = nk * w(o_gamma + c) + w(o_beta + c);
      (*h)[k] = a * sigmoid(a);
    }
  }
}

// eps_theta(x) with the block biases already in `bias`; keeps what the backward pass needs.
fn forward(x: vec2f) -> vec2f {
  for (var c = 0u; c < p.n32; c++) {
    let k0 = w(p.o_w1 + c * 2u);
    let k1 = w(p.o_w1 + c * 2u + 1u);
    let b = w(p.o_b1 + c) + bias[c];
    pre[c * 2u] = b + k0 * x.x + k1 * x.y;
    pre[c * 2u + 1u] = b + k0 * x.y; // the right zero pad
  }
  norm_silu(&n1, &h1, &rstd1, p.n32, 4u, p.o_g1, p.o_e1);
  for (var c = 0u; c < p.n64; c++) {
    var acc = vec2f(w(p.o_b2 + c) + bias[32u + c]);
    for (var ci = 0u; ci < p.n32; ci++) {
      acc += w(p.o_w2 + c * 32u + ci) * vec2f(h1[ci * 2u], h1[ci * 2u + 1u]);
    }
    pre[c * 2u] = acc.x;
    pre[c * 2u + 1u] = acc.y;
  }
  norm_silu(&n2, &h2, &rstd2, p.n64, p.n32, p.o_g2, p.o_e2);
  for (var c = 0u; c < p.n32; c++) {
    var acc = vec2f(w(p.o_b3 + c) + bias[96u + c]);
    for (var ci = 0u; ci < p.n64; ci++) {
      acc += w(p.o_w3 + ci * 32u + c) * vec2f(h2[ci * 2u], h2[ci * 2u + 1u]);
    }
    pre[c * 2u] = acc.x;
    pre[c * 2u + 1u] = acc.y;
  }
  norm_silu(&n3, &h3, &rstd3, p.n32, 4u, p.o_g3, p.o_e3);
  var out = vec2f(w(p.o_b4));
  for (var ci = 0u; ci < p.n32; ci++) {
    out += w(p.o_w4 + ci) * vec2f(h3[ci * 2u], h3[ci * 2u + 1u]);
    out += w(p.o_w4 + 32u + ci) * vec2f(h1[ci * 2u], h1[ci * 2u + 1u]);
  }
  return out;
}

// ---- training -------------------------------------------------------------------------------

var<private> d1: array<f32, 128>;
var<private> d2: array<f32, 128>;
var<private> d3: array<f32, 128>;
var<private> gw1: array<f32, 64>;
var<private> gb1: array<f32, 64>;
var<private> gg1: array<f32, 64>;
var<private> ge1: array<f32, 64>;
var<private> gw2: array<f32, 2048>;
var<private> gb2: array<f32, 64>;
var<private> gg2: array<f32, 64>;
var<private> ge2: array<f32, 64>;
var<private> gw3: array<f32, 2048>;
var<private> gb3: array<f32, 64>;
var<private> gg3: array<f32, 64>;
var<private> ge3: array<f32, 64>;
var<private> gw4: array<f32, 64>;
var<private> gb4: f32;

// Through SiLU, the affine and GroupNorm: d holds dL/dh on entry and dL/dpre on return;
// gamma and beta gradients accumulate.
fn norm_silu_backward(d: ptr<private, array<f32, 128>>, n: ptr<private, array<f32, 128>>, rstd: ptr<private, array<f32, 32>>,
                      gg: ptr<private, array<f32, 64>>, ge: ptr<private, array<f32, 64>>,
                      channels: u32, groups: u32, o_gamma: u32, o_beta: u32) {
  let span = channels / groups * 2u;
  for (var g = 0u; g < groups; g++) {
    var m1 = 0.0;
    var m2 = 0.0;
    for (var i = 0u; i < span; i++) {
      let k = g * span + i;
      let c = k / 2u;
      let gamma = w(o_gamma + c);
      let a = (*n)[k] * gamma + w(o_beta + c);
      let s = sigmoid(a);
      let da = (*d)[k] * s * (1.0 + a * (1.0 - s));
      (*gg)[c] += da * (*n)[k];
      (*ge)[c] += da;
      let dn = da * gamma;
      (*d)[k] = dn;
      m1 += dn;
      m2 += dn * (*n)[k];
    }
    m1 /= f32(span);
    m2 /= f32(span);
    for (var i = 0u; i < span; i++) {
      let k = g * span + i;
      (*d)[k] = (*rstd)[g] * ((*d)[k] - m1 - (*n)[k] * m2);
    }
  }
}

// Accumulates the parameter gradients of one sample given dL/d(output); writes dL/d(bias) of
// sample i to out_side.
fn backward(i: u32, x: vec2f, dout: vec2f) {
  gb4 += dout.x + dout.y;
  for (var ci = 0u; ci < p.n32; ci++) {
    let a3 = vec2f(h3[ci * 2u], h3[ci * 2u + 1u]);
    let a1 = vec2f(h1[ci * 2u], h1[ci * 2u + 1u]);
    gw4[ci] += dot(dout, a3);
    gw4[32u + ci] += dot(dout, a1);
    let k3 = w(p.o_w4 + ci);
    let k1 = w(p.o_w4 + 32u + ci);
    d3[ci * 2u] = k3 * dout.x;
    d3[ci * 2u + 1u] = k3 * dout.y;
    d1[ci * 2u] = k1 * dout.x;
    d1[ci * 2u + 1u] = k1 * dout.y;
  }
  norm_silu_backward(&d3, &n3, &rstd3, &gg3, &ge3, p.n32, 4u, p.o_g3, p.o_e3);
  for (var c = 0u; c < p.n32; c++) {
    let s = d3[c * 2u] + d3[c * 2u + 1u];
    gb3[c] += s;
    out_side[i * BIAS_WIDTH + 96u + c] = s;
  }
  for (var ci = 0u; ci < p.n64; ci++) {
    let a2 = vec2f(h2[ci * 2u], h2[ci * 2u + 1u]);
    var dh = vec2f(0.0);
    for (var c = 0u; c < p.n32; c++) {
      let dp = vec2f(d3[c * 2u], d3[c * 2u + 1u]);
      dh += w(p.o_w3 + ci * 32u + c) * dp;
      gw3[ci * 32u + c] += dot(dp, a2);
    }
    d2[ci * 2u] = dh.x;
    d2[ci * 2u + 1u] = dh.y;
  }
  norm_silu_backward(&d2, &n2, &rstd2, &gg2, &ge2, p.n64, p.n32, p.o_g2, p.o_e2);
  for (var c = 0u; c < p.n64; c++) {
    let s = d2[c * 2u] + d2[c * 2u + 1u];
    gb2[c] += s;
    out_side[i * BIAS_WIDTH + 32u + c] = s;
  }
  for (var ci = 0u; ci < p.n32; ci++) {
    let a1 = vec2f(h1[ci * 2u], h1[ci * 2u + 1u]);
    var dh = vec2f(d1[ci * 2u], d1[ci * 2u + 1u]);
    for (var c = 0u; c < p.n64; c++) {
      let dp = vec2f(d2[c * 2u], d2[c * 2u + 1u]);
      dh += w(p.o_w2 + c * 32u + ci) * dp;
      gw2[c * 32u + ci] += dot(dp, a1);
    }
    d1[ci * 2u] = dh.x;
    d1[ci * 2u + 1u] = dh.y;
  }
  norm_silu_backward(&d1, &n1, &rstd1, &gg1, &ge1, p.n32, 4u, p.o_g1, p.o_e1);
  for (var c = 0u; c < p.n32; c++) {
    let dp = vec2f(d1[c * 2u], d1[c * 2u + 1u]);
    gb1[c] += dp.x + dp.y;
    out_side[i * BIAS_WIDTH + c] = dp.x + dp.y;
    gw1[c * 2u] += dot(dp, x);
    gw1[c * 2u + 1u] += dp.x * x.y;
  }
}

fn put_partial(base: u32, offset: u32, value: f32) {
  out_main[base + offset - p.lo] = value;
}

// One training step's forward and backward over the samples tid, tid + threads, ...: the batch
// is drawn exactly as ddpm.wgsl's two_pixel_batch draws it. Writes this invocation's partial
// parameter gradients and loss to row tid of out_main (the layout of the flat store from lo),
// each sample's bias gradient to out_side and its table row t * 3 + label to ids.
@compute @workgroup_size(64)
fn train(@builtin(global_invocation_id) gid: vec3u) {
  let tid = gid.x;
  if (tid >= p.threads) { return; }
  let key = vec2u(state[1], state[2]);
  let inv_n = 1.0 / f32(2u * p.batch);
  var loss = 0.0;
  for (var i = tid; i < p.batch; i += p.threads) {
    let r_data = philox4x32(vec4u(i, p.stream, state[0], 0u), key);
    let r_noise = philox4x32(vec4u(i, p.stream + 1u, state[0], 0u), key);
    let cls = select(1u, 0u, to_uniform(r_data.x) < p.weight0);
    let peak = select(vec2f(p.mean1_x, p.mean1_y), vec2f(p.mean0_x, p.mean0_y), cls == 0u);
    let x0 = peak + p.sigma * to_normal_pair(r_data.y, r_data.z);
    let t = 1u + to_index(r_noise.x, p.steps);
    let eps = to_normal_pair(r_noise.z, r_noise.w);
    let label = select(cls, NO_LABEL, to_uniform(r_noise.y) < p.scalar);
    let row = t * SCHEDULE_WIDTH;
    let xt = schedule[row] * x0 + schedule[row + 1u] * eps;
    load_bias(t, label);
    let d = forward(xt) - eps;
    var slope: vec2f;
    switch p.kind {
      case 0u: { loss += dot(d, d) * inv_n; slope = 2.0 * d * inv_n; }
      case 1u: { loss += (abs(d.x) + abs(d.y)) * inv_n; slope = sign(d) * inv_n; }
      default: {
        let ad = abs(d);
        let quadratic = ad <= vec2f(p.delta);
        let value = select(p.delta * (ad - 0.5 * p.delta), 0.5 * d * d, quadratic);
        loss += (value.x + value.y) * inv_n;
        slope = select(p.delta * sign(d), d, quadratic) * inv_n;
      }
    }
    backward(i, xt, slope);
    ids[i] = t * 3u + label;
  }
  let base = tid * (p.width + 1u);
  for (var k = 0u; k < p.n64; k++) { put_partial(base, p.o_w1 + k, gw1[k]); put_partial(base, p.o_w4 + k, gw4[k]); }
  for (var k = 0u; k < p.n32; k++) {
    put_partial(base, p.o_b1 + k, gb1[k]); put_partial(base, p.o_g1 + k, gg1[k]); put_partial(base, p.o_e1 + k, ge1[k]);
    put_partial(base, p.o_b3 + k, gb3[k]); put_partial(base, p.o_g3 + k, gg3[k]); put_partial(base, p.o_e3 + k, ge3[k]);
  }
  for (var k = 0u; k < p.n64; k++) {
    put_partial(base, p.o_b2 + k, gb2[k]); put_partial(base, p.o_g2 + k, gg2[k]); put_partial(base, p.o_e2 + k, ge2[k]);
  }
  for (var k = 0u; k < p.n32 * p.n64; k++) { put_partial(base, p.o_w2 + k, gw2[k]); put_partial(base, p.o_w3 + k, gw3[k]); }
  put_partial(base, p.o_b4, gb4);
  out_main[base + p.width] = loss;
}

// ---- sampling -------------------------------------------------------------------------------

// The fused parameters (from lo, width floats) copied to out_main, which the sampler then binds as
// the uniform weight block of forward_regs (src/diffusion/fusedgen.ts).
@compute @workgroup_size(64)
fn pack(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.width) { out_main[gid.x] = params[p.lo + gid.x]; }
}

fn sample_normal(e: u32, step: u32, tag: u32) -> f32 {
  let r = philox4x32(vec4u(e, p.stream, step, tag), vec2u(state[1], state[2]));
  return to_normal_pair(r.x, r.y).x;
}

// Whole reverse trajectories (SPEC section 5), with the same draws as the op-by-op sampler
// (ddpm.wgsl): x_T, then for t = T..1 the DDPM update with epshat = eps(x, t, y), or
// (w + 1) eps(x, t, y) - w eps(x, t, none) under guidance. One invocation runs EVALS network
// evaluations at a time (forward_regs): EVALS samples, or EVALS / 2 under guidance.
// ids holds each sample's label; out_main gets x_0; out_side the trajectory [T + 1, record, 2].
@compute @workgroup_size(64)
fn sample(@builtin(global_invocation_id) gid: vec3u) {
  let guided = p.kind == 1u;
  let per = select(EVALS, EVALS / 2u, guided);
  let first = gid.x * per;
  if (first >= p.batch) { return; }
  var x: array<vec2f, EVALS>;
  var label: array<u32, EVALS>;
  for (var j = 0u; j < EVALS; j++) {
    let i = first + j;
    x[j] = vec2f(sample_normal(2u * i, 0u, TAG_START), sample_normal(2u * i + 1u, 0u, TAG_START));
    label[j] = ids[min(i, p.batch - 1u)];
    if (j < per && i < p.record) { out_side[2u * i] = x[j].x; out_side[2u * i + 1u] = x[j].y; }
  }
  for (var s = 0u; s < p.steps; s++) {
    let t = p.steps - s;
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
