// C for the blocked matmul (matmul_blocked.wgsl): row `base` of C, columns col0 .. col0 + 7
// (those below n), one store per float at column stride c_sn.

fn put_row(base: u32, col0: u32, lo: vec4f, hi: vec4f) {
  let values = array<vec4f, 2>(lo, hi);
  for (var j = 0u; j < 8u; j++) {
    if (col0 + j < p.n) {
      let value = values[j / 4u][j % 4u];
      let at = base + (col0 + j) * p.c_sn;
      c[at] = select(value, c[at] + value, p.accumulate == 1u);
    }
  }
}
