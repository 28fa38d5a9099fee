// Nearest-neighbour upsampling by 2 of [planes, h, w] (planes = batch x channels) and its
// backward, one invocation per output element.
//   forward   y[p, Y, X] = x[p, Y / 2, X / 2]
//   backward  dx[p, y, x] (+)= sum of dy over the 2 x 2 block it was copied to

@compute @workgroup_size(WG)
fn upsample2x(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  let w2 = 2u * p.w;
  let plane = 4u * p.h * p.w;
  if (i >= p.planes * plane) { return; }
  let X = i % w2;
  let Y = (i % plane) / w2;
  dst[i] = src[(i / plane) * p.h * p.w + (Y / 2u) * p.w + X / 2u];
}

@compute @workgroup_size(WG)
fn upsample2x_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.planes * p.h * p.w) { return; }
  let x = i % p.w;
  let y = (i / p.w) % p.h;
  let at = (i / (p.h * p.w)) * 4u * p.h * p.w + 2u * y * 2u * p.w + 2u * x;
  let sum = src[at] + src[at + 1u] + src[at + 2u * p.w] + src[at + 2u * p.w + 1u];
  dst[i] = select(sum, dst[i] + sum, p.accumulate == 1u);
}
