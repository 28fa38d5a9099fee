// A for the blocked matmul (matmul_blocked.wgsl) through subgroup broadcasts (needs `enable
// subgroups` and a workgroup that is one subgroup of 8 lanes, lane i being invocation i, as on
// lavapipe; src/gpu/gpu.ts: broadcasts): lane i reads row i of the tile at k, in any layout of
// A, and every lane takes the eight values from the lanes that read them (spread,
// shaders/spread.wgsl). lavapipe issues a read
// per lane even where all lanes read one address (it broadcasts only reads at constant
// addresses), so this is 8 reads per k where matmul_a.wgsl makes 64.

// This lane's row of A; past m it reads row m - 1, never stored.
struct ARef { row: u32 }

fn a_ref(lid: vec3u, wid: vec3u) -> ARef { return ARef(p.a_off + wid.z * p.a_sb + min(wid.y * ROWS + lid.x, p.m - 1u) * p.a_sm); }

fn a_column(r: ARef, ak: u32) -> array<f32, 8> {
  return spread(a[r.row + ak]);
}
