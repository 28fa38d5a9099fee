// GroupNorm as PyTorch defines it: x [B, C, L] in G groups of C/G channels; per (b, group) the
// biased mean and variance, rstd = 1/sqrt(var + eps), y = (x - mean) rstd gamma[c] + beta[c].
// One invocation per (b, group) walks its elements in order; stats [B, G, 2] keep (mean, rstd)
// for the backward pass.

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
  for (var i = 0u; i < span; i++) {
    let c = c0 + i / p.length;
    out[base + i] = (x[base + i] - mean) * rstd * gamma[c] + beta[c];
  }
}

// dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy gamma, xhat = (x - mean) rstd.
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
    let g = dy[base + i] * gamma[c0 + i / p.length];
    m1 += g;
    m2 += g * (x[base + i] - mean) * rstd;
  }
  m1 /= f32(span);
  m2 /= f32(span);
  for (var i = 0u; i < span; i++) {
    let g = dy[base + i] * gamma[c0 + i / p.length];
    let xhat = (x[base + i] - mean) * rstd;
    let v = rstd * (g - m1 - xhat * m2);
    out[base + i] = select(v, out[base + i] + v, p.accumulate == 1u);
  }
}

// dgamma[c] (+)= sum_{b, l} dy xhat.
@compute @workgroup_size(WG)
fn backward_gamma(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_index(gid, nwg);
  if (c >= p.channels) { return; }
  let group = c / (p.channels / p.groups);
  var acc = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    let s = (b * p.groups + group) * 2u;
    let base = (b * p.channels + c) * p.length;
    for (var l = 0u; l < p.length; l++) {
      acc += dy[base + l] * (x[base + l] - stats[s]) * stats[s + 1u];
    }
  }
  out[c] = select(acc, out[c] + acc, p.accumulate == 1u);
}
