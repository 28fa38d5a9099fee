#!/usr/bin/env node
// What a memory read costs on this adapter, against arithmetic on values held in registers: the
// measurements behind the fused two-pixel kernels' design (bench/README.md). Each lane runs eight
// independent multiply-add chains of 4096 steps; the variants differ only in where the multiplier
// comes from. Not a test: `node bench/memory.js [--adapter NAME]`.
import { defaultKernelConfig, getNodeGpu } from '../dist/engine.js';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const gpu = await getNodeGpu({ adapter: flag('--adapter') });
const device = gpu.device;
const N = 4096;
const LANES = 8192;

const chains = (w) =>
  [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `c${i} = c${i} * ${w[i % w.length]} + ${w[(i + 1) % w.length]};`).join(' ');
// The loop counter k is the same in every lane, but lavapipe makes a read at any address it
// cannot prove constant once per lane (only constant offsets and push constants count as
// uniform for it): compare the uniform read at k with one at a constant index, and with a read
// shared through subgroup broadcasts (lane i reads component i % 4 of the vec4, every lane takes
// all four), where the device has subgroups of 8.
const variants = {
  'registers (constants)': chains(['0.999', '1.0001', '0.998', '1.0002']),
  'uniform buffer, one vec4 per 8 chains': `let w = wu[k]; ${chains(['w.x', 'w.y', 'w.z', 'w.w'])}`,
  'uniform buffer at a constant index, one vec4 per 8 chains': `let w = wu[5]; ${chains(['w.x', 'w.y', 'w.z', 'w.w'])}`,
  ...(defaultKernelConfig(device).broadcasts
    ? {
        'uniform buffer, one vec4 per 8 chains read one float per lane and shared by subgroup broadcasts': `let f = wu[k][lane & 3u]; let w = vec4f(${[0, 1, 2, 3].map((i) => `subgroupBroadcast(f, ${i}u)`).join(', ')}); ${chains(['w.x', 'w.y', 'w.z', 'w.w'])}`,
      }
    : {}),
  'storage buffer, four f32 per 8 chains': `let w = vec4f(ws[4u * k], ws[4u * k + 1u], ws[4u * k + 2u], ws[4u * k + 3u]); ${chains(['w.x', 'w.y', 'w.z', 'w.w'])}`,
  'private array, dynamic index': `let w = vec4f(pa[k & 63u], pa[(k + 1u) & 63u], pa[(k + 2u) & 63u], pa[(k + 3u) & 63u]); ${chains(['w.x', 'w.y', 'w.z', 'w.w'])}`,
};

console.error(`adapter: ${gpu.adapterName} (${gpu.kind}); ${LANES} lanes x ${N / 4} steps x 8 chains`);
const results = [];
for (const [name, body] of Object.entries(variants)) {
  const sg = body.includes('subgroupBroadcast');
  const code = `${sg ? 'enable subgroups;' : ''}
@group(0) @binding(0) var<storage, read> ws: array<f32>;
@group(0) @binding(1) var<uniform> wu: array<vec4f, ${N / 4}>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<private> pa: array<f32, 64>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3u${sg ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {
  for (var i = 0u; i < 64u; i++) { pa[i] = 1.0 - f32(i) * 1e-5; }
  var c0 = f32(gid.x) * 1e-6; var c1 = c0 + 0.1; var c2 = c0 + 0.2; var c3 = c0 + 0.3;
  var c4 = c0 + 0.4; var c5 = c0 + 0.5; var c6 = c0 + 0.6; var c7 = c0 + 0.7;
  for (var k = 0u; k < ${N / 4}u; k++) { ${body} }
  out[gid.x] = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + ws[0] + wu[0].x;
}`;
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
  });
  const make = (usage, bytes) => device.createBuffer({ size: bytes, usage: usage | GPUBufferUsage.COPY_DST });
  const ws = make(GPUBufferUsage.STORAGE, N * 4);
  const wu = make(GPUBufferUsage.UNIFORM, N * 4);
  const out = make(GPUBufferUsage.STORAGE, LANES * 4);
  device.queue.writeBuffer(ws, 0, new Float32Array(N).fill(0.999));
  device.queue.writeBuffer(wu, 0, new Float32Array(N).fill(0.999));
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [ws, wu, out].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const run = async () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(LANES / 64);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run();
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    await run();
    best = Math.min(best, performance.now() - t0);
  }
  const rate = (LANES * N * 2) / (best / 1000) / 1e9;
  results.push({ name, ms: best, rate });
  [ws, wu, out].forEach((b) => b.destroy());
}
const base = results[0].ms;
console.log('| multiplier read from | ms | lane multiply-adds per ns | time vs registers |');
console.log('| --- | --- | --- | --- |');
for (const r of results)
  console.log(`| ${r.name} | ${r.ms.toFixed(1)} | ${r.rate.toFixed(2)} | ${(r.ms / base).toFixed(1)}x |`);
process.exit(0);
