// GroupNorm as PyTorch defines it: x [B, C, L] in G groups of C/G channels; per (b, group) the
// biased mean and variance, rstd = 1/sqrt(var + eps), y = (x - mean) rstd gamma[c] + beta[c].
// One invocation per (b, group) walks its elements in order; stats [B, G, 2] keep (mean, rstd)
// for the backward pass.
// What follows the norm comes from a small library the op writes (src/core/ops/groupnorm.ts):
// act_out(xhat, c, bc, at), the value stored at element at, channel c, sample-channel bc (plain:
// xhat gamma[c] + beta[c]; fused: SiLU of it, plus bias[bc] or residual[at] where the op adds one),
// and act_grad(xhat, c, dy), the gradient at the norm's output given dy at the op's (plain: dy;
// fused: dy SiLU'(z), z recomputed from xhat). One pass over memory instead of three or four.

fn group_span() -> u32 { return (p.channels / p.groups) * p.length; }

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let bg = flat_index(gid, nwg);
  if (bg >= p.batch * p.groups) { return; }
  let span = group_span();
  let base = bg * span; // groups are contiguous: channels of a group are adjacent
  var sum = 0.0;
  for (var i = 0u; i < span; i++) { sum += x[base + i]; }
  let mean = sum / f32(span);
  var sq = 0.0;
  for (var i = 0u; i < span; i++) { let d = x[base + i] - mean; sq += d * d; }
  let rstd = 1.0 / sqrt(sq / f32(span) + p.eps);
  stats_out[bg * 2u] = mean;
  stats_out[bg * 2u + 1u] = rstd;
  let c0 = (bg % p.groups) * (p.channels / p.groups);
  let bc0 = bg * (p.channels / p.groups); // (b, c0) as a sample-channel index
  for (var i = 0u; i < span; i++) {
    out[base + i] = act_out((x[base + i] - mean) * rstd, c0 + i / p.length, bc0 + i / p.length, base + i);
  }
}

// dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dz gamma, xhat = (x - mean) rstd, dz =
// act_grad(xhat, c, dy).
@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let bg = flat_index(gid, nwg);
  if (bg >= p.batch * p.groups) { return; }
  let span = group_span();
  let base = bg * span;
  let mean = stats[bg * 2u];
  let rstd = stats[bg * 2u + 1u];
  let c0 = (bg % p.groups) * (p.channels / p.groups);
  var m1 = 0.0;
  var m2 = 0.0;
  for (var i = 0u; i < span; i++) {
    let c = c0 + i / p.length;
    let xhat = (x[base + i] - mean) * rstd;
    let g = act_grad(xhat, c, dy[base + i]) * gamma[c];
    m1 += g;
    m2 += g * xhat;
  }
  m1 /= f32(span);
  m2 /= f32(span);
  for (var i = 0u; i < span; i++) {
    let c = c0 + i / p.length;
    let xhat = (x[base + i] - mean) * rstd;
    let g = act_grad(xhat, c, dy[base + i]) * gamma[c];
    let v = rstd * (g - m1 - xhat * m2);
    out[base + i] = select(v, out[base + i] + v, p.accumulate == 1u);
  }
}

// Per channel c: (sum_{b, l} dz xhat, sum_{b, l} dz), the gradients of gamma[c] and beta[c].
fn affine_sums(c: u32) -> vec2f {
  let group = c / (p.channels / p.groups);
  var acc = vec2f(0.0);
  for (var b = 0u; b < p.batch; b++) {
    let s = (b * p.groups + group) * 2u;
    let base = (b * p.channels + c) * p.length;
    for (var l = 0u; l < p.length; l++) {
      let xhat = (x[base + l] - stats[s]) * stats[s + 1u];
      acc += act_grad(xhat, c, dy[base + l]) * vec2f(xhat, 1.0);
    }
  }
  return acc;
}

// dgamma[c] (+)= sum_{b, l} dz xhat (p.what 0), or dbeta[c] (+)= sum_{b, l} dz (p.what 1).
@compute @workgroup_size(WG)
fn backward_gamma(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_index(gid, nwg);
  if (c >= p.channels) { return; }
  let v = affine_sums(c);
  let acc = select(v.x, v.y, p.what == 1u);
  out[c] = select(acc, out[c] + acc, p.accumulate == 1u);
}

// Both in one pass: dgamma into out, dbeta into out2 (p.accumulate2).
@compute @workgroup_size(WG)
fn backward_affine(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_index(gid, nwg);
  if (c >= p.channels) { return; }
  let v = affine_sums(c);
  out[c] = select(v.x, out[c] + v.x, p.accumulate == 1u);
  out2[c] = select(v.y, out2[c] + v.y, p.accumulate2 == 1u);
}
