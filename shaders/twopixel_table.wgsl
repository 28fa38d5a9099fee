// The fused path's embedding table (src/models/twopixel/table.ts): E = [silu(A); Wc + bc], the
// time MLP's output for every step (A = F Wt + bt, [T + 1, D]) above the class embedding's
// three rows, and the backward of that: dA, and the gradients of bt, Wc, bc and of the block
// projection's bias bp (the sum of dPQ over the step rows). Bindings: src/models/twopixel/table.ts.

@compute @workgroup_size(WG)
fn table_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= (p.steps + LABELS) * p.width) { return; }
  let r = i / p.width;
  let j = i % p.width;
  if (r < p.steps) {
    let v = a[i];
    e[i] = v / (1.0 + exp(-v));
  } else {
    e[i] = class_w[(r - p.steps) * p.width + j] + class_b[j];
  }
}

// Gradient k (bt, Wc, bc, bp) at `at`, where the backward pass wants it (p.write[k]).
fn put(k: u32, at: u32, value: f32) {
  if (p.write[k] == 0u) { return; }
  let add = p.accumulate[k] == 1u;
  switch k {
    case 0u: { d_time_b[at] = select(value, d_time_b[at] + value, add); }
    case 1u: { d_class_w[at] = select(value, d_class_w[at] + value, add); }
    case 2u: { d_class_b[at] = select(value, d_class_b[at] + value, add); }
    default: { d_proj_b[at] = select(value, d_proj_b[at] + value, add); }
  }
}

// Invocation j < D: column j of dA, bt, Wc and bc; invocation D + k: column k of bp.
@compute @workgroup_size(WG)
fn table_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = flat_index(gid, nwg);
  if (j < p.width) {
    var sum = 0.0;
    for (var r = 0u; r < p.steps; r++) {
      let at = r * p.width + j;
      let v = a[at];
      let s = 1.0 / (1.0 + exp(-v));
      let g = de[at] * s * (1.0 + v * (1.0 - s));
      da[at] = g;
      sum += g;
    }
    put(0u, j, sum);
    var class_sum = 0.0;
    for (var y = 0u; y < LABELS; y++) {
      let g = de[(p.steps + y) * p.width + j];
      put(1u, y * p.width + j, g);
      class_sum += g;
    }
    put(2u, j, class_sum);
  } else if (j < p.width + p.proj) {
    let k = j - p.width;
    var sum = 0.0;
    for (var r = 0u; r < p.steps; r++) { sum += dpq[r * p.proj + k]; }
    put(3u, k, sum);
  }
}
