// Fixed-order sums for bias-like gradients: out[c] (+)= sum_{b, l} x[b, c, l]. One invocation per
// c walks b and l in order, so results are bit-identical run to run (no float atomics).

@compute @workgroup_size(WG)
fn sum_batch_length(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_index(gid, nwg);
  if (c >= p.channels) { return; }
  var acc = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    let base = (b * p.channels + c) * p.length;
    for (var l = 0u; l < p.length; l++) {
      acc += x[base + l];
    }
  }
  out[c] = select(acc, out[c] + acc, p.accumulate == 1u);
}

// The same sums for hardware adapters (KernelConfig.reductions 'workgroup'): one workgroup of WG
// invocations per c strides over (b, l), and the partial sums meet in workgroup memory by a tree
// reduction (fixed order, so as reproducible as the above). One invocation per channel leaves a
// GPU with 16 to 128 busy lanes walking 50 000 values each.
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn sum_batch_length_wg(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = wid.x + wid.y * nwg.x;
  let live = c < p.channels; // uniform across the workgroup
  let span = p.batch * p.length;
  var acc = 0.0;
  if (live) {
    for (var i = lane; i < span; i += WG) { acc += x[((i / p.length) * p.channels + c) * p.length + i % p.length]; }
  }
  partial[lane] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) { partial[lane] += partial[lane + stride]; }
    workgroupBarrier();
  }
  if (live && lane == 0u) { out[c] = select(partial[0], out[c] + partial[0], p.accumulate == 1u); }
}
