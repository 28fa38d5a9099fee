// What a page draws of recorded two-pixel trajectories, computed where they are: points
// [sets, rows, n, 2] (set k's row s holds its n samples' x at the s-th visited step).
//   zero:      bins [rows, grid, grid] to 0.
//   histogram: one invocation per point; row s of every set counted into bins[s], cell
//              (floor((y - lo) * inv_cell), floor((x - lo) * inv_cell)) row-major from (lo, lo);
//              a point outside [lo, lo + grid / inv_cell) on either axis (or NaN) is not counted.
//   moments:   one workgroup per (set, row): sums of x, y, x^2 and y^2 over its n samples.
//   traces:    the first `traces` samples of every (set, row), [sets, rows, traces, 2].

@compute @workgroup_size(WG)
fn zero(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.grid * p.grid) { return; }
  atomicStore(&bins[i], 0u);
}

@compute @workgroup_size(WG)
fn histogram(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.sets * p.rows * p.n) { return; }
  // i = (set * rows + row) * n + sample: the points' own order.
  let row = (i / p.n) % p.rows;
  let f = (points[i] - vec2f(p.lo)) * p.inv_cell;
  // Comparisons with NaN are false: a NaN point is outside. Inside, f < grid, so cell < grid.
  if (!(all(f >= vec2f(0.0)) && all(f < vec2f(f32(p.grid))))) { return; }
  let cell = vec2u(f);
  atomicAdd(&bins[(row * p.grid + cell.y) * p.grid + cell.x], 1u);
}

var<workgroup> lane_sums: array<vec4f, WG>;

@compute @workgroup_size(WG)
fn moments(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  // Workgroup wid.x sums the samples of (set, row) = wid.x: each lane a stride, then a tree.
  let base = wid.x * p.n;
  var acc = vec4f(0.0);
  for (var j = lid.x; j < p.n; j += WG) {
    let v = points[base + j];
    acc += vec4f(v, v * v);
  }
  lane_sums[lid.x] = acc;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid.x < width) { lane_sums[lid.x] += lane_sums[lid.x + width]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { sums[wid.x] = lane_sums[0]; }
}

@compute @workgroup_size(WG)
fn traces(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.sets * p.rows * p.traces) { return; }
  lines[i] = points[(i / p.traces) * p.n + i % p.traces];
}
