// Elementwise ops and their backward passes, one invocation per output element. `accumulate`
// makes gradient writes add to what an earlier op wrote (a tensor used twice).

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
// Channel ops see tensors as [batch, channels, length]; concat/slice: channels of `a`, of the
// output, and the channel offset of the slice.
struct ElementwiseParams { n: u32, accumulate: u32, batch: u32, channels: u32, length: u32, c_a: u32, c_out: u32, offset: u32 }
@group(0) @binding(3) var<uniform> p: ElementwiseParams;

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

// out[n, c, l] = a[n, c, l] for c < c_a, b[n, c - c_a, l] otherwise: concatenation along channels.
@compute @workgroup_size(WG)
fn concat_channels(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let l = i % p.length;
  let c = (i / p.length) % p.c_out;
  let n = i / (p.length * p.c_out);
  let c_b = p.c_out - p.c_a;
  if (c < p.c_a) { out[i] = a[(n * p.c_a + c) * p.length + l]; }
  else { out[i] = b[(n * c_b + c - p.c_a) * p.length + l]; }
}

// out[n, c, l] (+)= a[n, offset + c, l] for c < channels, a having c_out channels: the gradient
// of one input of a concatenation.
@compute @workgroup_size(WG)
fn slice_channels(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let l = i % p.length;
  let c = (i / p.length) % p.channels;
  let n = i / (p.length * p.channels);
  put(i, a[(n * p.c_out + p.offset + c) * p.length + l]);
}

// out[n, c, l] (+)= a[n, c - offset, l] for offset <= c < offset + channels, else (+)= 0, out having
// c_out channels: the gradient of a slice, written over the whole input so that the first of
// several slices' gradients also clears the channels the others then add.
@compute @workgroup_size(WG)
fn place_channels(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let l = i % p.length;
  let c = (i / p.length) % p.c_out;
  let n = i / (p.length * p.c_out);
  var value = 0.0;
  if (c >= p.offset && c < p.offset + p.channels) { value = a[(n * p.channels + c - p.offset) * p.length + l]; }
  put(i, value);
}
