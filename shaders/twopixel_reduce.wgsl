// Sums the fused training kernel's per-invocation partial gradients and losses in fixed order:
// grads[lo + j] (+)= sum_r partials[r][j] over the fused parameters' ranges, and the step's loss
// to loss[step % history]. One invocation per column j (the last column is the loss).

struct ReduceParams {
  rows: u32, width: u32, lo: u32, history: u32, accumulate: u32, ranges: u32, pad0: u32, pad1: u32,
  // (offset from lo, size) of each fused parameter: gaps between them stay untouched
  spans: array<vec4u, 8>,
}

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read> state: array<u32>;
@group(0) @binding(4) var<uniform> p: ReduceParams;

fn span_of(k: u32) -> vec2u {
  let v = p.spans[k / 2u];
  return select(v.zw, v.xy, k % 2u == 0u);
}

@compute @workgroup_size(WG)
fn reduce(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = flat_index(gid, nwg);
  if (j > p.width) { return; }
  var covered = j == p.width;
  for (var k = 0u; k < p.ranges; k++) {
    let s = span_of(k);
    covered = covered || (j >= s.x && j < s.x + s.y);
  }
  if (!covered) { return; }
  var acc = 0.0;
  for (var r = 0u; r < p.rows; r++) { acc += partials[r * (p.width + 1u) + j]; }
  if (j == p.width) {
    loss[state[0] % p.history] = acc;
  } else {
    grads[p.lo + j] = select(acc, grads[p.lo + j] + acc, p.accumulate == 1u);
  }
}
