// Losses fused with their gradient. One workgroup of 256 invocations: each walks a strided slice
// in order, then a fixed tree sums the partials, so the loss is bit-identical run to run. The
// loss of step s goes to loss[s % history] (the host reads the history now and then).

@group(0) @binding(0) var<storage, read> pred: array<f32>;
@group(0) @binding(1) var<storage, read> target_values: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read> state: array<u32>;
// label_bits: cross-entropy labels are u32 bit patterns (1) or class indices stored as f32 (0).
struct LossParams { n: u32, kind: u32, delta: f32, history: u32, rows: u32, classes: u32, label_bits: u32 }
@group(0) @binding(5) var<uniform> p: LossParams;

const KIND_MSE: u32 = 0u;
const KIND_L1: u32 = 1u;
const KIND_HUBER: u32 = 2u;
const KIND_WEIGHTED_SUM: u32 = 3u;

var<workgroup> partial: array<f32, 256>;

fn reduce_and_store(lid: u32, value: f32) {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[state[0] % p.history] = partial[0]; }
}

// d = pred - target. MSE: mean d^2; L1: mean |d|; Huber(delta): mean of d^2/2 (|d| <= delta),
// delta (|d| - delta/2) otherwise. Weighted sum (tests, guidance): sum pred * target.
// grad = d loss / d pred.
@compute @workgroup_size(256)
fn regression(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let inv_n = 1.0 / f32(p.n);
  var acc = 0.0;
  for (var i = lid; i < p.n; i += 256u) {
    let d = pred[i] - target_values[i];
    var value: f32;
    var slope: f32;
    switch p.kind {
      case KIND_MSE: { value = d * d * inv_n; slope = 2.0 * d * inv_n; }
      case KIND_L1: { value = abs(d) * inv_n; slope = sign(d) * inv_n; }
      case KIND_HUBER: {
        if (abs(d) <= p.delta) { value = 0.5 * d * d * inv_n; slope = d * inv_n; }
        else { value = p.delta * (abs(d) - 0.5 * p.delta) * inv_n; slope = p.delta * sign(d) * inv_n; }
      }
      default: { value = pred[i] * target_values[i]; slope = target_values[i]; }
    }
    grad[i] = slope;
    acc += value;
  }
  reduce_and_store(lid, acc);
}

// Softmax cross-entropy over `rows` rows of `classes` logits; target holds the class indices.
// loss = -mean_r log softmax(z_r)[y_r]; grad = (softmax(z_r) - onehot(y_r)) / rows.
@compute @workgroup_size(256)
fn cross_entropy(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let inv_rows = 1.0 / f32(p.rows);
  var acc = 0.0;
  for (var r = lid; r < p.rows; r += 256u) {
    let base = r * p.classes;
    var zmax = pred[base];
    for (var c = 1u; c < p.classes; c++) { zmax = max(zmax, pred[base + c]); }
    var sum = 0.0;
    for (var c = 0u; c < p.classes; c++) { sum += exp(pred[base + c] - zmax); }
    let label = select(u32(target_values[r]), bitcast<u32>(target_values[r]), p.label_bits == 1u);
    let log_norm = zmax + log(sum);
    for (var c = 0u; c < p.classes; c++) {
      let prob = exp(pred[base + c] - log_norm);
      grad[base + c] = (prob - select(0.0, 1.0, c == label)) * inv_rows;
    }
    acc += (log_norm - pred[base + label]) * inv_rows;
  }
  reduce_and_store(lid, acc);
}
