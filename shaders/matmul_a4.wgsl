// A for the blocked matmul (matmul_blocked.wgsl) where A is stored transposed (a_sm = 1; a_sk,
// a_sb and a_off multiples of 4): the tile's eight rows at k as two vec4 reads at an address all
// lanes share. Rows past m read whatever follows them; those rows are never stored.

struct ARef { base4: u32 }

fn a_ref(lid: vec3u, wid: vec3u) -> ARef { return ARef((p.a_off + wid.z * p.a_sb + wid.y * ROWS) / 4u); }

fn a_column(r: ARef, ak: u32) -> array<f32, 8> {
  let lo = a4[r.base4 + ak / 4u];
  let hi = a4[r.base4 + ak / 4u + 1u];
  return array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
}
