// Elementwise ops and their backward passes, one invocation per output element. `accumulate`
// makes gradient writes add to what an earlier op wrote (a tensor used twice).

// Channel ops see tensors as [batch, channels, length]; concat/slice: channels of `a`, of the
// output, and the channel offset of the slice.

fn put(i: u32, value: f32) {
  out[i] = select(value, out[i] + value, p.accumulate == 1u);
}

fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }

// out = a + b
@compute @workgroup_size(WG)
fn add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < p.n) { put(i, a[i] + b[i]); }
}

// out (+)= a b (forward of multiply, and each of its input gradients)
@compute @workgroup_size(WG)
fn mul(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < p.n) { put(i, a[i] * b[i]); }
}

// out (+)= a (a gradient passed through unchanged, e.g. both inputs of add)
@compute @workgroup_size(WG)
fn copy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < p.n) { put(i, a[i]); }
}

// SiLU: out = a sigmoid(a)
@compute @workgroup_size(WG)
fn silu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < p.n) { let x = a[i]; put(i, x * sigmoid(x)); }
}

// SiLU backward: out (+)= b s (1 + a (1 - s)), s = sigmoid(a); a = x, b = dy.
@compute @workgroup_size(WG)
fn silu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < p.n) { let x = a[i]; let s = sigmoid(x); put(i, b[i] * s * (1.0 + x * (1.0 - s))); }
}

// out[n, c, l] = a[n, c, l] + b[n, c]: a per-sample, per-channel bias (the embedding projection).
@compute @workgroup_size(WG)
fn add_channel_bias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < p.n) { put(i, a[i] + b[i / p.length]); }
}

// Element i of an [N, channels, length] tensor as (n, c, l).
fn channel_coords(i: u32, channels: u32) -> vec3u {
  return vec3u(i / (p.length * channels), (i / p.length) % channels, i % p.length);
}

// out[n, c, l] = a[n, c, l] for c < c_a, b[n, c - c_a, l] otherwise: concatenation along channels.
@compute @workgroup_size(WG)
fn concat_channels(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let x = channel_coords(i, p.c_out);
  if (x.y < p.c_a) { out[i] = a[(x.x * p.c_a + x.y) * p.length + x.z]; }
  else { out[i] = b[(x.x * (p.c_out - p.c_a) + x.y - p.c_a) * p.length + x.z]; }
}

// out[n, c, l] (+)= a[n, offset + c, l] for c < channels, a having c_out channels: the gradient
// of one input of a concatenation.
@compute @workgroup_size(WG)
fn slice_channels(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let x = channel_coords(i, p.channels);
  put(i, a[(x.x * p.c_out + p.offset + x.y) * p.length + x.z]);
}

// out[n, c, l] (+)= a[n, c - offset, l] for offset <= c < offset + channels, else (+)= 0, out having
// c_out channels: the gradient of a slice, written over the whole input so that the first of
// several slices' gradients also clears the channels the others then add.
@compute @workgroup_size(WG)
fn place_channels(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let x = channel_coords(i, p.c_out);
  var value = 0.0;
  if (x.y >= p.offset && x.y < p.offset + p.channels) { value = a[(x.x * p.channels + x.y - p.offset) * p.length + x.z]; }
  put(i, value);
}
