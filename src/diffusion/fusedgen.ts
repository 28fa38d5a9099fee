// The two-pixel UNet's forward pass for a CPU driver, generated as WGSL: activations are named
// values (lavapipe keeps those in vector registers, but turns each access to a dynamically
// indexed private array into a per-lane gather), and weights come from a uniform buffer as vec4s
// at indices every lane shares (free there, where a storage read costs a per-lane loop). Loops
// stay only where the generated code would otherwise grow past what LLVM compiles in seconds.
// Appended to shaders/twopixel.wgsl, whose loop version `forward` stays the readable reference
// the tests compare this one against.
import { BLOCK_CHANNELS } from '../nn/twopixel.js';

const [C1, C2, C3] = BLOCK_CHANNELS;
const GROUPS = [4, 32, 4] as const;
/** Floats the uniform weight block holds (64 KiB, WebGPU's guaranteed uniform binding size). */
export const WEIGHT_BLOCK = 16384;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const lane = (k: number) => 'xyzw'[k & 3];

/** `fn forward_regs(x: vec2f, t: u32, label: u32) -> vec2f`: eps_theta(x, t, label). */
export function forwardRegs(): string {
  const lines: string[] = [];
  const emit = (s: string) => lines.push(`  ${s}`);
  // Weight k of a parameter at a constant position; `base_*` are the vec4 indices of each parameter.
  const w = (base: string, k: number) => `wts[${base} + ${k >> 2}u].${lane(k)}`;
  const bias = (c: string) =>
    `(ptable[pt + ${c}] + select(select(qtable[256u + ${c}], qtable[128u + ${c}], label == 1u), qtable[${c}], label == 0u))`;
  const silu = (a: string) => `${a} / (1.0 + exp(-${a}))`;
  // GroupNorm + affine + SiLU over the vec2f values pre{L}_c; defines h{L}_c.
  const normSilu = (L: number, channels: number, groups: number, gamma: string, beta: string) => {
    const per = channels / groups;
    for (let g = 0; g < groups; g++) {
      const cs = range(per).map((i) => g * per + i);
      emit(`let m${L}_${g} = (${cs.map((c) => `pre${L}_${c}.x + pre${L}_${c}.y`).join(' + ')}) * ${1 / (2 * per)};`);
      emit(`let r${L}_${g} = inverseSqrt((${cs.map((c) => `dot(pre${L}_${c} - m${L}_${g}, pre${L}_${c} - m${L}_${g})`).join(' + ')}) * ${1 / (2 * per)} + 1e-5);`);
      for (const c of cs) {
        emit(`let a${L}_${c} = (pre${L}_${c} - m${L}_${g}) * r${L}_${g} * ${w(gamma, c)} + ${w(beta, c)};`);
        emit(`let h${L}_${c} = ${silu(`a${L}_${c}`)};`);
      }
    }
  };

  emit('let pt = t * 128u;');
  for (const f of ['w1', 'b1', 'g1', 'e1', 'w2', 'b2', 'g2', 'e2', 'w3', 'b3', 'g3', 'e3', 'w4', 'b4']) {
    emit(`let base_${f} = (p.o_${f} - p.lo) / 4u;`);
  }
  // Block 1 and its GroupNorm, written out.
  for (const c of range(C1)) {
    emit(`let b1_${c} = ${w('base_b1', c)} + ${bias(`${c}u`)};`);
    emit(`let pre1_${c} = vec2f(b1_${c} + ${w('base_w1', 2 * c)} * x.x + ${w('base_w1', 2 * c + 1)} * x.y, b1_${c} + ${w('base_w1', 2 * c)} * x.y);`);
  }
  normSilu(1, C1, GROUPS[0], 'base_g1', 'base_e1');
  // Block 2, four output channels (two GroupNorm groups) per iteration; W2 is [64][32].
  emit(`for (var blk = 0u; blk < p.n32 / 2u; blk++) {`);
  emit(`  let bb = wts[base_b2 + blk];`);
  emit(`  let gm = wts[base_g2 + blk];`);
  emit(`  let bt = wts[base_e2 + blk];`);
  for (const j of range(4)) {
    const c = `(4u * blk + ${j}u)`;
    const rows = range(C1 / 4).map((v) => `wts[base_w2 + ${c} * ${C1 / 4}u + ${v}u]`);
    emit(`  let r${j} = array<vec4f, ${C1 / 4}>(${rows.join(', ')});`);
    emit(`  let q${j} = vec2f(bb.${lane(j)} + ${bias(`${C1}u + ${c}`)}) + ${range(C1).map((ci) => `r${j}[${ci >> 2}].${lane(ci)} * h1_${ci}`).join(' + ')};`);
  }
  for (const g of [0, 1]) {
    const [a, b] = [2 * g, 2 * g + 1];
    emit(`  let m${g} = (q${a}.x + q${a}.y + q${b}.x + q${b}.y) * 0.25;`);
    emit(`  let s${g} = inverseSqrt((dot(q${a} - m${g}, q${a} - m${g}) + dot(q${b} - m${g}, q${b} - m${g})) * 0.25 + 1e-5);`);
    for (const j of [a, b]) {
      emit(`  let a${j} = (q${j} - m${g}) * s${g} * gm.${lane(j)} + bt.${lane(j)};`);
      emit(`  h2v[4u * blk + ${j}u] = ${silu(`a${j}`)};`);
    }
  }
  emit(`}`);
  for (const ci of range(C2)) emit(`let h2_${ci} = h2v[${ci}];`);
  // Block 3, four output channels per iteration; W3 is [64][32] (input-major), one vec4 per input.
  emit(`for (var blk = 0u; blk < p.n32 / 4u; blk++) {`);
  emit(`  let bb = wts[base_b3 + blk];`);
  for (const j of range(4)) emit(`  var acc${j} = vec2f(bb.${lane(j)} + ${bias(`${C1 + C2}u + 4u * blk + ${j}u`)});`);
  for (const ci of range(C2)) {
    emit(`  let v${ci} = wts[base_w3 + ${ci * (C3 / 4)}u + blk];`);
    emit(`  ${range(4).map((j) => `acc${j} += v${ci}.${lane(j)} * h2_${ci};`).join(' ')}`);
  }
  for (const j of range(4)) emit(`  pre3v[4u * blk + ${j}u] = acc${j};`);
  emit(`}`);
  for (const c of range(C3)) emit(`let pre3_${c} = pre3v[${c}];`);
  normSilu(3, C3, GROUPS[2], 'base_g3', 'base_e3');
  const out = [...range(C3).map((ci) => `${w('base_w4', ci)} * h3_${ci}`), ...range(C1).map((ci) => `${w('base_w4', C3 + ci)} * h1_${ci}`)];
  emit(`return vec2f(${w('base_b4', 0)}) + ${out.join(' + ')};`);
  return [
    `@group(0) @binding(9) var<uniform> wts: array<vec4f, ${WEIGHT_BLOCK / 4}>;`,
    `var<private> h2v: array<vec2f, ${C2}>;`,
    `var<private> pre3v: array<vec2f, ${C3}>;`,
    '',
    `fn forward_regs(x: vec2f, t: u32, label: u32) -> vec2f {\n${lines.join('\n')}\n}\n`,
  ].join('\n');
}
