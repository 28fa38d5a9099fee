// Prepended to every kernel. Grids larger than 65535 workgroups fold into 2-D; `flat_index`
// recovers the element index (WG is the kernel's workgroup size, set by the kernel registry).

fn flat_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}
