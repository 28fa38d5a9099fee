// One value from each of the 8 lanes of a subgroup, to every lane (needs `enable subgroups` and
// a workgroup that is one subgroup of 8 lanes, lane i being invocation i, as on lavapipe): lane
// i reads what row i of a tile needs, and all take the eight values from there; one read per lane
// where a read at a shared, non-constant address costs lavapipe one per lane anyway.
fn spread(v: f32) -> array<f32, 8> {
  return array<f32, 8>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                       subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}
