// A classifier's training batch drawn on the device from a dataset held as bytes (four pixels to
// a u32 word, as shaders/image_batch.wgsl): example i of step `step` takes Philox counter
// (i, stream, step, 0) for its image index and a shift of dx, dy in [-shift, shift] pixels (the
// background -1 shifted in), so the classifier also reads digits a little off centre. Pixels
// scaled to [-1, 1]; x [batch, side, side], y [batch]. One invocation per element. Bindings and
// parameters: src/models/mnist/classifier.ts.

@compute @workgroup_size(WG)
fn digit_batch(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let dims = p.side * p.side;
  if (e >= p.batch * dims) { return; }
  let i = e / dims;
  let r = philox4x32(vec4u(i, p.stream, state[0], 0u), vec2u(state[1], state[2]));
  let id = to_index(r.x, p.count);
  let span = 2u * p.shift + 1u;
  let dx = i32(to_index(r.y, span)) - i32(p.shift);
  let dy = i32(to_index(r.z, span)) - i32(p.shift);
  let row = i32((e % dims) / p.side) - dy;
  let col = i32(e % p.side) - dx;
  var value = -1.0;
  if (row >= 0 && row < i32(p.side) && col >= 0 && col < i32(p.side)) {
    let at = id * dims + u32(row) * p.side + u32(col);
    value = f32((images[at / 4u] >> (8u * (at % 4u))) & 0xffu) * (2.0 / 255.0) - 1.0;
  }
  x[e] = value;
  if (e % dims == 0u) { y[i] = labels[id]; }
}
