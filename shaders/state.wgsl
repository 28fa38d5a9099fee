// The per-step state: [step, seed low word, seed high word, unused]. Ends every replay.

@group(0) @binding(0) var<storage, read_write> state: array<u32>;

@compute @workgroup_size(1)
fn advance_step() {
  state[0] = state[0] + 1u;
}
