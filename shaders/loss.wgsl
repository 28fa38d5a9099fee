// Losses and their gradients. The loss runs in one workgroup of WG = 256 invocations: each walks a
// strided slice in order, then a fixed tree sums the partials, so the loss is bit-identical run to
// run; the loss of step s goes to loss[s % history] (the host reads the history now and then).
// The gradient with respect to the prediction is a second kernel, one invocation per element
// (or row), written or added (accumulate) where the backward pass wants it.
// KIND_MSE, KIND_L1, KIND_HUBER, KIND_WEIGHTED_SUM: src/core/ops/loss.ts.

var<workgroup> partial: array<f32, WG>;

fn reduce_and_store(lid: u32, value: f32) {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[state[0] % p.history] = partial[0]; }
}

// d = pred - target. MSE: mean d^2; L1: mean |d|; Huber(delta): mean of d^2/2 (|d| <= delta),
// delta (|d| - delta/2) otherwise. Weighted sum (tests, guidance): sum pred * target.
// vec2f(value, d value / d pred) of element i.
fn regression_term(i: u32) -> vec2f {
  let inv_n = 1.0 / f32(p.n);
  let d = pred[i] - target_values[i];
  switch p.kind {
    case KIND_MSE: { return vec2f(d * d, 2.0 * d) * inv_n; }
    case KIND_L1: { return vec2f(abs(d), sign(d)) * inv_n; }
    case KIND_HUBER: {
      if (abs(d) <= p.delta) { return vec2f(0.5 * d * d, d) * inv_n; }
      return vec2f(p.delta * (abs(d) - 0.5 * p.delta), p.delta * sign(d)) * inv_n;
    }
    default: { return vec2f(pred[i] * target_values[i], target_values[i]); }
  }
}

@compute @workgroup_size(WG)
fn regression_loss(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var acc = 0.0;
  for (var i = lid; i < p.n; i += WG) { acc += regression_term(i).x; }
  reduce_and_store(lid, acc);
}

@compute @workgroup_size(WG)
fn regression_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let g = regression_term(i).y;
  grad[i] = select(g, grad[i] + g, p.accumulate == 1u);
}

// Softmax cross-entropy over p.rows rows of p.classes logits; labels hold the class indices.
// loss = -mean_r log softmax(z_r)[y_r]; grad = (softmax(z_r) - onehot(y_r)) / rows.
fn log_norm(base: u32) -> f32 {
  var zmax = pred[base];
  for (var c = 1u; c < p.classes; c++) { zmax = max(zmax, pred[base + c]); }
  var sum = 0.0;
  for (var c = 0u; c < p.classes; c++) { sum += exp(pred[base + c] - zmax); }
  return zmax + log(sum);
}

@compute @workgroup_size(WG)
fn cross_entropy_loss(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var acc = 0.0;
  for (var r = lid; r < p.rows; r += WG) {
    let base = r * p.classes;
    acc += (log_norm(base) - pred[base + labels[r]]) / f32(p.rows);
  }
  reduce_and_store(lid, acc);
}

// One invocation per row.
@compute @workgroup_size(WG)
fn cross_entropy_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat_index(gid, nwg);
  if (r >= p.rows) { return; }
  let base = r * p.classes;
  let norm = log_norm(base);
  for (var c = 0u; c < p.classes; c++) {
    let g = (exp(pred[base + c] - norm) - select(0.0, 1.0, c == labels[r])) / f32(p.rows);
    grad[base + c] = select(g, grad[base + c] + g, p.accumulate == 1u);
  }
}
