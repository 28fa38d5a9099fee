// C for the blocked matmul (matmul_blocked.wgsl) where its rows are contiguous (c_sn = 1; n,
// c_sm, c_sb and c_off multiples of 4): row `base` of C, columns col0 .. col0 + 7 (col0 a
// multiple of 8) as two vec4 stores, the second only where those columns exist.

fn put_row(base: u32, col0: u32, lo: vec4f, hi: vec4f) {
  let at = (base + col0) / 4u;
  let add = p.accumulate == 1u;
  c4[at] = select(lo, c4[at] + lo, add);
  if (col0 + 4u < p.n) { c4[at + 1u] = select(hi, c4[at + 1u] + hi, add); }
}
