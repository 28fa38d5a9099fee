// The per-step state: [step, seed low word, seed high word, unused]. Ends every replay.

@compute @workgroup_size(WG)
fn advance_step() {
  state[0] = state[0] + 1u;
}
