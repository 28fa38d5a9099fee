// Conv1d and ConvTranspose1d with their backward passes, one invocation per output element, sums
// in fixed order. Shapes: x [B, Cin, Lin]; conv weight [Cout, Cin, K]; transposed-conv weight
// [Cin, Cout, K]; y [B, Cout, Lout]. Conv: Lout = (Lin + pad_left + pad_right - K) / stride + 1.
// Transposed: Lout = (Lin - 1) stride - 2 pad + K.
// Bindings: lhs and rhs are the two operands each entry names; out is written (or added to).

fn put(i: u32, value: f32) {
  out[i] = select(value, out[i] + value, p.accumulate == 1u);
}

// Conv input position of output l and tap k, or -1 when it falls in the zero padding.
fn conv_source(l: u32, k: u32) -> i32 {
  let pos = i32(l * p.stride + k) - i32(p.pad);
  return select(-1, pos, pos >= 0 && pos < i32(p.lin));
}

// conv: y[b, co, l] = bias[co] + sum_{ci, k} w[co, ci, k] x[b, ci, l stride + k - pad]. lhs = x, rhs = w.
@compute @workgroup_size(WG)
fn conv_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.batch * p.cout * p.lout) { return; }
  let l = i % p.lout;
  let co = (i / p.lout) % p.cout;
  let b = i / (p.lout * p.cout);
  var acc = bias[co];
  for (var ci = 0u; ci < p.cin; ci++) {
    for (var k = 0u; k < p.ksize; k++) {
      let pos = conv_source(l, k);
      if (pos >= 0) { acc += rhs[(co * p.cin + ci) * p.ksize + k] * lhs[(b * p.cin + ci) * p.lin + u32(pos)]; }
    }
  }
  out[i] = acc;
}

// conv: dx[b, ci, j] (+)= sum_{co, k, l: l stride + k - pad = j} w[co, ci, k] dy[b, co, l]. lhs = dy, rhs = w.
@compute @workgroup_size(WG)
fn conv_backward_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.batch * p.cin * p.lin) { return; }
  let j = i % p.lin;
  let ci = (i / p.lin) % p.cin;
  let b = i / (p.lin * p.cin);
  var acc = 0.0;
  for (var co = 0u; co < p.cout; co++) {
    for (var k = 0u; k < p.ksize; k++) {
      let num = i32(j + p.pad) - i32(k);
      if (num < 0 || u32(num) % p.stride != 0u) { continue; }
      let l = u32(num) / p.stride;
      if (l < p.lout) { acc += rhs[(co * p.cin + ci) * p.ksize + k] * lhs[(b * p.cout + co) * p.lout + l]; }
    }
  }
  put(i, acc);
}

// conv: dw[co, ci, k] (+)= sum_{b, l} dy[b, co, l] x[b, ci, l stride + k - pad]. lhs = dy, rhs = x.
@compute @workgroup_size(WG)
fn conv_backward_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.cout * p.cin * p.ksize) { return; }
  let k = i % p.ksize;
  let ci = (i / p.ksize) % p.cin;
  let co = i / (p.ksize * p.cin);
  var acc = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    for (var l = 0u; l < p.lout; l++) {
      let pos = conv_source(l, k);
      if (pos >= 0) { acc += lhs[(b * p.cout + co) * p.lout + l] * rhs[(b * p.cin + ci) * p.lin + u32(pos)]; }
    }
  }
  put(i, acc);
}

// transposed: y[b, co, j] = bias[co] + sum_{ci, k, i: i stride + k - pad = j} x[b, ci, i] w[ci, co, k]. lhs = x, rhs = w.
@compute @workgroup_size(WG)
fn transpose_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.batch * p.cout * p.lout) { return; }
  let j = i % p.lout;
  let co = (i / p.lout) % p.cout;
  let b = i / (p.lout * p.cout);
  var acc = bias[co];
  for (var ci = 0u; ci < p.cin; ci++) {
    for (var k = 0u; k < p.ksize; k++) {
      let num = i32(j + p.pad) - i32(k);
      if (num < 0 || u32(num) % p.stride != 0u) { continue; }
      let src = u32(num) / p.stride;
      if (src < p.lin) { acc += lhs[(b * p.cin + ci) * p.lin + src] * rhs[(ci * p.cout + co) * p.ksize + k]; }
    }
  }
  out[i] = acc;
}

// Output position of input i and tap k of the transposed conv, or -1 outside the output.
fn transpose_target(src: u32, k: u32) -> i32 {
  let pos = i32(src * p.stride + k) - i32(p.pad);
  return select(-1, pos, pos >= 0 && pos < i32(p.lout));
}

// transposed: dx[b, ci, i] (+)= sum_{co, k} w[ci, co, k] dy[b, co, i stride + k - pad]. lhs = dy, rhs = w.
@compute @workgroup_size(WG)
fn transpose_backward_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.batch * p.cin * p.lin) { return; }
  let src = i % p.lin;
  let ci = (i / p.lin) % p.cin;
  let b = i / (p.lin * p.cin);
  var acc = 0.0;
  for (var co = 0u; co < p.cout; co++) {
    for (var k = 0u; k < p.ksize; k++) {
      let pos = transpose_target(src, k);
      if (pos >= 0) { acc += rhs[(ci * p.cout + co) * p.ksize + k] * lhs[(b * p.cout + co) * p.lout + u32(pos)]; }
    }
  }
  put(i, acc);
}

// transposed: dw[ci, co, k] (+)= sum_{b, i} x[b, ci, i] dy[b, co, i stride + k - pad]. lhs = dy, rhs = x.
@compute @workgroup_size(WG)
fn transpose_backward_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.cin * p.cout * p.ksize) { return; }
  let k = i % p.ksize;
  let co = (i / p.ksize) % p.cout;
  let ci = i / (p.ksize * p.cout);
  var acc = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    for (var src = 0u; src < p.lin; src++) {
      let pos = transpose_target(src, k);
      if (pos >= 0) { acc += rhs[(b * p.cin + ci) * p.lin + src] * lhs[(b * p.cout + co) * p.lout + u32(pos)]; }
    }
  }
  put(i, acc);
}
