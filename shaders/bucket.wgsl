// Scattering per-sample rows back into a table (the backward of a row lookup) in fixed order
// without float atomics: first a stable counting sort of the samples by row, then one
// invocation per (row, column) sums exactly the samples of its row.
// sorted = [B sample indices ordered by row | rows + 1 start offsets].

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read_write> sorted: array<u32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// Row of sample b: (ids[b] / id_div) % id_mod.
struct BucketParams { batch: u32, rows: u32, width: u32, id_div: u32, id_mod: u32, accumulate: u32 }
@group(0) @binding(4) var<uniform> p: BucketParams;

fn row_of(b: u32) -> u32 { return (ids[b] / p.id_div) % p.id_mod; }

@compute @workgroup_size(256)
fn bucket(@builtin(local_invocation_id) lid: vec3u) {
  let starts = p.batch;
  for (var r = lid.x; r < p.rows; r += 256u) {
    var count = 0u;
    for (var b = 0u; b < p.batch; b++) { count += select(0u, 1u, row_of(b) == r); }
    sorted[starts + 1u + r] = count;
  }
  storageBarrier();
  workgroupBarrier();
  if (lid.x == 0u) {
    var running = 0u;
    for (var r = 0u; r < p.rows; r++) {
      let count = sorted[starts + 1u + r];
      sorted[starts + r] = running;
      running += count;
    }
    sorted[starts + p.rows] = running;
  }
  storageBarrier();
  workgroupBarrier();
  for (var r = lid.x; r < p.rows; r += 256u) {
    var at = sorted[starts + r];
    for (var b = 0u; b < p.batch; b++) {
      if (row_of(b) == r) { sorted[at] = b; at++; }
    }
  }
}

// out[r, d] (+)= sum over the samples b of row r, in sample order, of dy[b, d].
@compute @workgroup_size(WG)
fn scatter_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.width) { return; }
  let r = i / p.width;
  let d = i % p.width;
  var acc = 0.0;
  for (var j = sorted[p.batch + r]; j < sorted[p.batch + r + 1u]; j++) {
    acc += dy[sorted[j] * p.width + d];
  }
  out[i] = select(acc, out[i] + acc, p.accumulate == 1u);
}
