#!/usr/bin/env node
// Where the blocked matmul's B operand is read from: a storage buffer (as the engine's kernel
// does, shaders/matmul_blocked.wgsl) or an rgba32float texture through textureLoad. Both kernels
// have the engine's tiling (8 x 8 outputs per invocation, workgroups of 8, A read at addresses the
// whole workgroup shares); they differ only in the two vec4 reads of B per k. A probe for the
// engine's next step (bench/README.md), not used by it. Not a test:
//   node bench/texture.js [--adapter NAME] [--n 1024]
import { getNodeGpu } from '../dist/engine.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const gpu = await getNodeGpu({ adapter: flag('--adapter') });
const device = gpu.device;
const n = Number(flag('--n', 1024));
if (!(Number.isInteger(n) && n >= 64 && n % 64 === 0 && n <= 4096))
  throw new Error(`--n ${n}: expected a multiple of 64 from 64 to 4096`);

const kernel = (readB) => `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4f>;
@group(0) @binding(3) var bt: texture_2d<f32>;
const N: u32 = ${n}u;
@compute @workgroup_size(8)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row0 = wid.y * 8u;
  let q0 = (wid.x * 8u + lid.x) * 2u; // this invocation's first vec4 column of B and C
  var lo: array<vec4f, 8>;
  var hi: array<vec4f, 8>;
  for (var k = 0u; k < N; k++) {
    ${readB}
    for (var r = 0u; r < 8u; r++) {
      let av = a[(row0 + r) * N + k];
      lo[r] += av * blo;
      hi[r] += av * bhi;
    }
  }
  for (var r = 0u; r < 8u; r++) {
    c[(row0 + r) * (N / 4u) + q0] = lo[r];
    c[(row0 + r) * (N / 4u) + q0 + 1u] = hi[r];
  }
}`;
const variants = {
  'storage buffer (vec4 reads)': 'let blo = b4[k * (N / 4u) + q0]; let bhi = b4[k * (N / 4u) + q0 + 1u];',
  'rgba32float texture (textureLoad)':
    'let blo = textureLoad(bt, vec2u(q0, k), 0); let bhi = textureLoad(bt, vec2u(q0 + 1u, k), 0);',
};

const A = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
const B = Float32Array.from({ length: n * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
const buffer = (data, usage) => {
  const buf = device.createBuffer({ size: data.byteLength, usage: usage | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buf, 0, data);
  return buf;
};
const a = buffer(A, GPUBufferUsage.STORAGE);
const b = buffer(B, GPUBufferUsage.STORAGE);
const c = device.createBuffer({ size: n * n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
const tex = device.createTexture({
  size: [n / 4, n],
  format: 'rgba32float',
  usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
});
device.queue.writeTexture({ texture: tex }, B, { bytesPerRow: n * 4 }, [n / 4, n]);

const runs = {};
for (const [name, readB] of Object.entries(variants)) {
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: kernel(readB) }), entryPoint: 'main' },
  });
  const used = name.startsWith('storage')
    ? [
        [0, a],
        [1, b],
        [2, c],
      ]
    : [
        [0, a],
        [2, c],
        [3, tex],
      ];
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: used.map(([binding, r]) => ({
      binding,
      resource: r instanceof GPUTexture ? r.createView() : { buffer: r },
    })),
  });
  runs[name] = async (reps) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < reps; i++) pass.dispatchWorkgroups(n / 64, n / 8);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
}

async function readC() {
  const staging = device.createBuffer({ size: n * n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(c, 0, staging, 0, n * n * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}

// Both compute C = A B: spot-check entries against float64.
for (const [name, run] of Object.entries(runs)) {
  await run(1);
  const out = await readC();
  for (const [r, col] of [
    [0, 0],
    [n - 1, n - 1],
    [n >> 1, 37],
  ]) {
    let ref = 0;
    for (let k = 0; k < n; k++) ref += A[r * n + k] * B[k * n + col];
    if (Math.abs(out[r * n + col] - ref) > 1e-3 * Math.max(1, Math.abs(ref)))
      throw new Error(`${name}: C[${r}, ${col}] = ${out[r * n + col]}, expected ${ref}`);
  }
}

// Alternating, five rounds: the median GFLOP/s of each.
const reps = n >= 2048 ? 1 : 3;
const rates = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
for (let round = 0; round < 5; round++) {
  for (const [name, run] of Object.entries(runs)) {
    const t0 = performance.now();
    await run(reps);
    rates[name].push((2 * n ** 3 * reps) / ((performance.now() - t0) / 1000) / 1e9);
  }
}
console.log(
  `adapter: ${gpu.adapterName}; ${n}^3, alternating, 5 rounds\n\n| B read from | GFLOP/s (median) | rounds |\n| --- | --- | --- |`,
);
for (const [name, v] of Object.entries(rates)) {
  const sorted = [...v].sort((x, y) => x - y);
  console.log(`| ${name} | ${sorted[2].toFixed(2)} | ${v.map((x) => x.toFixed(1)).join(', ')} |`);
}
gpu.destroy();
