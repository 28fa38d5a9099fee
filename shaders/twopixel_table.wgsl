// The fused path's embedding table (src/diffusion/fusedtable.ts): E = [silu(A); Wc + bc], the
// time MLP's output for every step (A = F Wt + bt, [T + 1, D]) above the class embedding's
// three rows, and the backward of that: dA, and the gradients of bt, Wc, bc and of the block
// projection's bias bp (the sum of dPQ over the step rows), written into the gradient store.

@group(0) @binding(0) var<storage, read> a: array<f32>;            // A [T + 1, D]
@group(0) @binding(1) var<storage, read> class_w: array<f32>;      // Wc [3, D]
@group(0) @binding(2) var<storage, read> class_b: array<f32>;      // bc [D]
@group(0) @binding(3) var<storage, read_write> e: array<f32>;      // E [T + 4, D]
@group(0) @binding(4) var<uniform> p: TableParams;
@group(0) @binding(5) var<storage, read> de: array<f32>;           // dL/dE [T + 4, D]
@group(0) @binding(6) var<storage, read> dpq: array<f32>;          // dL/dPQ [T + 4, W]
@group(0) @binding(7) var<storage, read_write> da: array<f32>;     // dL/dA [T + 1, D]
@group(0) @binding(8) var<storage, read_write> grads: array<f32>;  // the gradient store

struct TableParams {
  steps: u32,   // T + 1: rows of A
  width: u32,   // D
  proj: u32,    // W: columns of PQ
  // gradient-store offsets of bt, Wc, bc, bp; whether each is written, and accumulated
  o_bt: u32, o_cw: u32, o_cb: u32, o_bp: u32,
  write: vec4u, accumulate: vec4u,
}

const LABELS: u32 = 3u;

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

fn put(at: u32, value: f32, k: u32) {
  if (p.write[k] == 1u) { grads[at] = select(value, grads[at] + value, p.accumulate[k] == 1u); }
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
    put(p.o_bt + j, sum, 0u);
    var class_sum = 0.0;
    for (var y = 0u; y < LABELS; y++) {
      let g = de[(p.steps + y) * p.width + j];
      put(p.o_cw + y * p.width + j, g, 1u);
      class_sum += g;
    }
    put(p.o_cb + j, class_sum, 2u);
  } else if (j < p.width + p.proj) {
    let k = j - p.width;
    var sum = 0.0;
    for (var r = 0u; r < p.steps; r++) { sum += dpq[r * p.proj + k]; }
    put(p.o_bp + k, sum, 3u);
  }
}
