// The backward of the fused kernel's two lookups in the bias table PQ (rows 0..T: P(t), then
// three rows Q(label)): each sample's bias-gradient row dy[b] is added to row t and row T + 1 +
// label of the table's gradient (ids[b] = t * 3 + label), in fixed order, without float atomics,
// in two passes.
// Pass 1 (partial): workgroup (chunk, column block) adds its chunk of samples, in sample order,
// into a table of its own in workgroup memory (each invocation owns one column of it) and writes
// it out; a block is 32 columns, fewer where the rows would not fit (rows * columns <= 4096). Pass 2 (total): one invocation per (row, column) sums the chunks in chunk order.

var<workgroup> table: array<vec4f, 1024>;

@compute @workgroup_size(WG)
fn partial_rows(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let rows = p.p_rows + LABELS;
  let col = wid.y * p.columns4 + lid.x;
  if (lid.x >= p.columns4 || col >= p.width4) { return; }
  for (var r = 0u; r < rows; r++) { table[r * p.columns4 + lid.x] = vec4f(0.0); }
  let first = wid.x * p.chunk;
  let last = min(first + p.chunk, p.batch);
  for (var b = first; b < last; b++) {
    let id = ids[b];
    let v = dy[b * p.width4 + col];
    let at_t = (id / LABELS) * p.columns4 + lid.x;
    let at_y = (p.p_rows + id % LABELS) * p.columns4 + lid.x;
    table[at_t] += v;
    table[at_y] += v;
  }
  let base = wid.x * rows * p.width4 + col;
  for (var r = 0u; r < rows; r++) { partial[base + r * p.width4] = table[r * p.columns4 + lid.x]; }
}

@compute @workgroup_size(WG)
fn total_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  let rows = p.p_rows + LABELS;
  if (i >= rows * p.width4) { return; }
  var acc = vec4f(0.0);
  for (var c = 0u; c < p.chunks; c++) { acc += partial[c * rows * p.width4 + i]; }
  out[i] = select(acc, out[i] + acc, p.accumulate == 1u);
}
