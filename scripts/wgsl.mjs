#!/usr/bin/env node
// Writes the whole WGSL of every kernel the engine declares (the generated header with its
// bindings, parameter struct and constants, the libraries, then the source) to out/wgsl/, one
// file per kernel, for a reader or a WGSL tool. The fused two-pixel kernels are generated from
// the model's spec (src/models/twopixel/fusedgen.ts): this is where their code can be read.
// Kernels declared on first use (the blocked matmul's variants, by operand layout) are listed
// once a program in this process has compiled them; the rest are declared when the engine loads.
//   node scripts/build.mjs && node scripts/wgsl.mjs [--out DIR]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { declaredKernels } from '../dist/engine.js';

const args = process.argv.slice(2);
const at = args.indexOf('--out');
const out = at >= 0 ? args[at + 1] : 'out/wgsl';
if (!out || (args.length > 0 && at < 0)) {
  console.error(`usage: node scripts/wgsl.mjs [--out DIR]  (got ${args.join(' ')})`);
  process.exit(2);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const kernels = declaredKernels().sort((a, b) => a.name.localeCompare(b.name));
const seen = new Map();
for (const k of kernels) {
  // Two kernels of one name differ in their code (a variant's constants): number the later ones.
  const n = (seen.get(k.name) ?? 0) + 1;
  seen.set(k.name, n);
  const file = `${k.name}${n > 1 ? `.${n}` : ''}.wgsl`;
  const head = `// ${k.name}: entry point ${k.entry}, workgroup size ${k.workgroupSize}; pipeline key ${k.key}\n`;
  writeFileSync(join(out, file), head + k.code);
}
console.log(`${kernels.length} kernels written to ${out}/`);
