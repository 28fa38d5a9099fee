#!/usr/bin/env node
// What Dawn's busy event pump costs (src/gpu/pump.ts): fused two-pixel training steps with
// dawn.node's polls spinning (the global setImmediate as Node has it) and throttled (as
// getNodeGpu installs it), swapped in one process between runs of 300 steps, three rounds. Not a
// test: `node bench/pump.js [--adapter NAME]`.
const spinning = globalThis.setImmediate;
const { getNodeGpu, TwoPixelTrainer, defaultTrainOptions, defaultTwoPixelConfig } = await import('../dist/engine.js');

const args = process.argv.slice(2);
const i = args.indexOf('--adapter');
const gpu = await getNodeGpu({ adapter: i >= 0 ? args[i + 1] : undefined });
const throttled = globalThis.setImmediate;
if (throttled === spinning) throw new Error('getNodeGpu installed no event pump');
const trainer = await TwoPixelTrainer.create(gpu.device, defaultTrainOptions(defaultTwoPixelConfig(50), 0));
await trainer.train(100);
const ms = { spinning: [], throttled: [] };
for (let round = 0; round < 3; round++) {
  for (const [name, pump] of [
    ['spinning', spinning],
    ['throttled', throttled],
  ]) {
    globalThis.setImmediate = pump;
    const t0 = performance.now();
    await trainer.train(300);
    ms[name].push((performance.now() - t0) / 300);
  }
}
globalThis.setImmediate = throttled;
console.log(`adapter: ${gpu.adapterName}; ms per fused training step, 3 rounds of 300 steps each\n`);
console.log('| event pump | ms per step, per round |\n| --- | --- |');
for (const [name, v] of Object.entries(ms)) console.log(`| ${name} | ${v.map((x) => x.toFixed(2)).join(', ')} |`);
trainer.destroy();
gpu.destroy();
