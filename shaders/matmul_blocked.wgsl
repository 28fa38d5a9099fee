// C = op(A) op(B) (+ bias), register-blocked for CPU Vulkan drivers (lavapipe): each invocation
// computes ROWS x 4 outputs; all 64 invocations of a workgroup share the same ROWS rows, so every
// read of A has one address across the workgroup (a broadcast, not a gather), and each reads four
// adjacent columns of B. Workgroup (x, y, z) = (256-column tile, ROWS-row tile, batch).
// Same parameters and results as matmul.wgsl, which stays as the plain reference.

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: MatmulParams;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

struct MatmulParams {
  m: u32, n: u32, k: u32,
  a_sm: u32, a_sk: u32, a_sb: u32,
  b_sk: u32, b_sn: u32, b_sb: u32,
  c_sb: u32,
  accumulate: u32,
}

const ROWS: u32 = 8u;
const COLS: u32 = 4u;

fn col0_of(lid: vec3u, wid: vec3u) -> u32 { return (wid.x * 64u + lid.x) * COLS; }

fn blocked(lid: vec3u, wid: vec3u) -> array<vec4f, 8> {
  let row0 = wid.y * ROWS;
  let col0 = col0_of(lid, wid);
  let a_base = wid.z * p.a_sb;
  let b_base = wid.z * p.b_sb;
  var acc: array<vec4f, 8>;
  // Out-of-range rows and columns read a valid element (clamped) and are never stored.
  var cols: array<u32, 4>;
  for (var j = 0u; j < COLS; j++) { cols[j] = min(col0 + j, p.n - 1u) * p.b_sn; }
  var rows: array<u32, 8>;
  for (var r = 0u; r < ROWS; r++) { rows[r] = a_base + min(row0 + r, p.m - 1u) * p.a_sm; }
  for (var kk = 0u; kk < p.k; kk++) {
    let bk = b_base + kk * p.b_sk;
    let bv = vec4f(b[bk + cols[0]], b[bk + cols[1]], b[bk + cols[2]], b[bk + cols[3]]);
    let ak = kk * p.a_sk;
    for (var r = 0u; r < ROWS; r++) {
      acc[r] += a[rows[r] + ak] * bv;
    }
  }
  return acc;
}

fn store(lid: vec3u, wid: vec3u, acc: array<vec4f, 8>, bias4: vec4f) {
  let row0 = wid.y * ROWS;
  let col0 = col0_of(lid, wid);
  if (col0 >= p.n) { return; }
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row >= p.m) { break; }
    let base = wid.z * p.c_sb + row * p.n + col0;
    for (var j = 0u; j < COLS; j++) {
      if (col0 + j < p.n) {
        let value = acc[r][j] + bias4[j];
        c[base + j] = select(value, c[base + j] + value, p.accumulate == 1u);
      }
    }
  }
}

// C[b, m, n] (+)= sum_k A[b, m, k] B[b, k, n]
@compute @workgroup_size(64)
fn matmul(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  store(lid, wid, blocked(lid, wid), vec4f(0.0));
}

// C[b, m, n] = sum_k A[b, m, k] B[b, k, n] + bias[n]
@compute @workgroup_size(64)
fn matmul_bias(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let col0 = col0_of(lid, wid);
  var bias4: vec4f;
  for (var j = 0u; j < COLS; j++) { bias4[j] = bias[min(col0 + j, p.n - 1u)]; }
  store(lid, wid, blocked(lid, wid), bias4);
}
