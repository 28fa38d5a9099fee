// GroupNorm with workgroup reductions, for hardware adapters: one workgroup of WG invocations per
// (b, group) (per channel for the gamma gradient) strides over its span, the partial sums meet
// in workgroup memory by a tree reduction, and every invocation then writes its share. The same
// arithmetic as groupnorm.wgsl (one invocation per span, which suits a 2-core CPU driver and
// starves a GPU: 512 spans for the MNIST UNet's largest norm); tested against it and float64.
// act_out and act_grad: as groupnorm.wgsl.

var<workgroup> partial: array<vec2f, WG>;

// The sum over the workgroup of each invocation's v, returned to every invocation.
fn workgroup_sum(v: vec2f, lane: u32) -> vec2f {
  partial[lane] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) { partial[lane] += partial[lane + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn forward_wg(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let bg = wid.x + wid.y * nwg.x;
  let live = bg < p.batch * p.groups; // uniform across the workgroup
  let per = p.channels / p.groups;
  let span = per * p.length;
  let base = bg * span;
  var s = 0.0;
  if (live) { for (var i = lane; i < span; i += WG) { s += x[base + i]; } }
  let mean = workgroup_sum(vec2f(s, 0.0), lane).x / f32(span);
  var q = 0.0;
  if (live) { for (var i = lane; i < span; i += WG) { let d = x[base + i] - mean; q += d * d; } }
  let rstd = 1.0 / sqrt(workgroup_sum(vec2f(q, 0.0), lane).x / f32(span) + p.eps);
  if (!live) { return; }
  if (lane == 0u) {
    stats_out[bg * 2u] = mean;
    stats_out[bg * 2u + 1u] = rstd;
  }
  let c0 = (bg % p.groups) * per;
  let bc0 = bg * per;
  for (var i = lane; i < span; i += WG) {
    out[base + i] = act_out((x[base + i] - mean) * rstd, c0 + i / p.length, bc0 + i / p.length, base + i);
  }
}

@compute @workgroup_size(WG)
fn backward_input_wg(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let bg = wid.x + wid.y * nwg.x;
  let live = bg < p.batch * p.groups;
  let per = p.channels / p.groups;
  let span = per * p.length;
  let base = bg * span;
  let c0 = (bg % p.groups) * per;
  var mean = 0.0;
  var rstd = 0.0;
  var m = vec2f(0.0);
  if (live) {
    mean = stats[bg * 2u];
    rstd = stats[bg * 2u + 1u];
    for (var i = lane; i < span; i += WG) {
      let c = c0 + i / p.length;
      let xhat = (x[base + i] - mean) * rstd;
      let g = act_grad(xhat, c, dy[base + i]) * gamma[c];
      m += vec2f(g, g * xhat);
    }
  }
  m = workgroup_sum(m, lane) / f32(span);
  if (!live) { return; }
  for (var i = lane; i < span; i += WG) {
    let c = c0 + i / p.length;
    let xhat = (x[base + i] - mean) * rstd;
    let g = act_grad(xhat, c, dy[base + i]) * gamma[c];
    let v = rstd * (g - m.x - xhat * m.y);
    out[base + i] = select(v, out[base + i] + v, p.accumulate == 1u);
  }
}

// As groupnorm.wgsl's affine_sums, for channel c = the workgroup's, summed over the workgroup.
fn affine_sums_wg(c: u32, live: bool, lane: u32) -> vec2f {
  let group = c / (p.channels / p.groups);
  var acc = vec2f(0.0);
  if (live) {
    for (var k = lane; k < p.batch * p.length; k += WG) {
      let b = k / p.length;
      let s = (b * p.groups + group) * 2u;
      let at = (b * p.channels + c) * p.length + k % p.length;
      let xhat = (x[at] - stats[s]) * stats[s + 1u];
      acc += act_grad(xhat, c, dy[at]) * vec2f(xhat, 1.0);
    }
  }
  return workgroup_sum(acc, lane);
}

@compute @workgroup_size(WG)
fn backward_gamma_wg(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = wid.x + wid.y * nwg.x;
  let live = c < p.channels;
  let v = affine_sums_wg(c, live, lane);
  let total = select(v.x, v.y, p.what == 1u);
  if (live && lane == 0u) { out[c] = select(total, out[c] + total, p.accumulate == 1u); }
}

@compute @workgroup_size(WG)
fn backward_affine_wg(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = wid.x + wid.y * nwg.x;
  let live = c < p.channels;
  let v = affine_sums_wg(c, live, lane);
  if (live && lane == 0u) {
    out[c] = select(v.x, out[c] + v.x, p.accumulate == 1u);
    out2[c] = select(v.y, out2[c] + v.y, p.accumulate2 == 1u);
  }
}
