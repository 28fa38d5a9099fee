#!/usr/bin/env node
// Writes a checkpoint's sampling weights (no optimiser state) where the runners look for shipped
// weights, and prints its size and sha256 for README.md:
//   node scripts/ship-weights.mjs out/models/mnist-T200-16-32-32-32-e64.safetensors weights/mnist-cpu.safetensors
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { exportWeights } from '../dist/engine.js';

const [from, to] = process.argv.slice(2);
if (!from || !to || process.argv.length !== 4) {
  console.error('usage: node scripts/ship-weights.mjs CHECKPOINT OUT');
  process.exit(2);
}
const count = exportWeights(from, to);
const bytes = readFileSync(to);
console.log(
  `${to}: ${count} weights, ${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`,
);
