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

/** Network evaluations per invocation: each weight read then serves this many of them. */
export const EVALS = 4;

/**
 * `fn forward_regs(x: array<vec2f, EVALS>, t: u32, label: array<u32, EVALS>) -> array<vec2f, EVALS>`:
 * eps_theta(x[e], t, label[e]) for every e, at one step t.
 */
export function forwardRegs(): string {
  const E = range(EVALS);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(`  ${s}`);
  const w = (base: string, k: number) => `wts[${base} + ${k >> 2}u].${lane(k)}`;
  const silu = (a: string) => `${a} / (1.0 + exp(-${a}))`;
  // The block bias of channel `c` for every evaluation: P(t) + Q(label), defines bias${tag}_e.
  const biases = (indent: string, tag: string, c: string) => {
    emit(`${indent}let pq${tag} = vec4f(ptable[pt + ${c}], qtable[${c}], qtable[128u + ${c}], qtable[256u + ${c}]);`);
    for (const e of E) emit(`${indent}let bias${tag}_${e} = pq${tag}.x + select(select(pq${tag}.w, pq${tag}.z, label[${e}] == 1u), pq${tag}.y, label[${e}] == 0u);`);
  };
  // GroupNorm + affine + SiLU over pre{L}_{c}_{e}; defines h{L}_{c}_{e}.
  const normSilu = (L: number, channels: number, groups: number, gamma: string, beta: string) => {
    const per = channels / groups;
    for (let g = 0; g < groups; g++) {
      const cs = range(per).map((i) => g * per + i);
      for (const e of E) {
        const v = (c: number) => `pre${L}_${c}_${e}`;
        emit(`let m${L}_${g}_${e} = (${cs.map((c) => `${v(c)}.x + ${v(c)}.y`).join(' + ')}) * ${1 / (2 * per)};`);
        emit(`let r${L}_${g}_${e} = inverseSqrt((${cs.map((c) => `dot(${v(c)} - m${L}_${g}_${e}, ${v(c)} - m${L}_${g}_${e})`).join(' + ')}) * ${1 / (2 * per)} + 1e-5);`);
        for (const c of cs) {
          emit(`let a${L}_${c}_${e} = (${v(c)} - m${L}_${g}_${e}) * r${L}_${g}_${e} * ${w(gamma, c)} + ${w(beta, c)};`);
          emit(`let h${L}_${c}_${e} = ${silu(`a${L}_${c}_${e}`)};`);
        }
      }
    }
  };

  emit('let pt = t * 128u;');
  for (const f of ['w1', 'b1', 'g1', 'e1', 'w2', 'b2', 'g2', 'e2', 'w3', 'b3', 'g3', 'e3', 'w4', 'b4']) {
    emit(`let base_${f} = (p.o_${f} - p.lo) / 4u;`);
  }
  // Block 1 and its GroupNorm, written out.
  for (const c of range(C1)) {
    biases('', `1_${c}`, `${c}u`);
    emit(`let k1_${c} = vec3f(${w('base_w1', 2 * c)}, ${w('base_w1', 2 * c + 1)}, ${w('base_b1', c)});`);
    for (const e of E) {
      emit(`let pre1_${c}_${e} = vec2f(k1_${c}.z + bias1_${c}_${e}) + vec2f(k1_${c}.x * x[${e}].x + k1_${c}.y * x[${e}].y, k1_${c}.x * x[${e}].y);`);
    }
  }
  normSilu(1, C1, GROUPS[0], 'base_g1', 'base_e1');
  // Block 2, four output channels (two GroupNorm groups) per iteration; W2 is [64][32].
  emit(`for (var blk = 0u; blk < p.n32 / 2u; blk++) {`);
  emit(`  let bb = wts[base_b2 + blk];`);
  emit(`  let gm = wts[base_g2 + blk];`);
  emit(`  let bt = wts[base_e2 + blk];`);
  for (const j of range(4)) {
    const c = `(4u * blk + ${j}u)`;
    biases('  ', `${j}`, `${C1}u + ${c}`);
    for (const v of range(C1 / 4)) emit(`  let r${j}_${v} = wts[base_w2 + ${c} * ${C1 / 4}u + ${v}u];`);
    for (const e of E) {
      emit(`  let q${j}_${e} = vec2f(bb.${lane(j)} + bias${j}_${e}) + ${range(C1).map((ci) => `r${j}_${ci >> 2}.${lane(ci)} * h1_${ci}_${e}`).join(' + ')};`);
    }
  }
  for (const e of E) {
    for (const g of [0, 1]) {
      const [a, b] = [`q${2 * g}_${e}`, `q${2 * g + 1}_${e}`];
      emit(`  let m${g}_${e} = (${a}.x + ${a}.y + ${b}.x + ${b}.y) * 0.25;`);
      emit(`  let s${g}_${e} = inverseSqrt((dot(${a} - m${g}_${e}, ${a} - m${g}_${e}) + dot(${b} - m${g}_${e}, ${b} - m${g}_${e})) * 0.25 + 1e-5);`);
      for (const j of [2 * g, 2 * g + 1]) {
        emit(`  let a${j}_${e} = (q${j}_${e} - m${g}_${e}) * s${g}_${e} * gm.${lane(j)} + bt.${lane(j)};`);
        emit(`  h2v[${e}u][4u * blk + ${j}u] = ${silu(`a${j}_${e}`)};`);
      }
    }
  }
  emit(`}`);
  for (const e of E) for (const ci of range(C2)) emit(`let h2_${ci}_${e} = h2v[${e}][${ci}];`);
  // Block 3, four output channels per iteration; W3 is [64][32] (input-major), one vec4 per input.
  emit(`for (var blk = 0u; blk < p.n32 / 4u; blk++) {`);
  emit(`  let bb = wts[base_b3 + blk];`);
  for (const j of range(4)) {
    biases('  ', `${j}`, `${C1 + C2}u + 4u * blk + ${j}u`);
    for (const e of E) emit(`  var acc${j}_${e} = vec2f(bb.${lane(j)} + bias${j}_${e});`);
  }
  for (const ci of range(C2)) {
    emit(`  let v${ci} = wts[base_w3 + ${ci * (C3 / 4)}u + blk];`);
    for (const e of E) emit(`  ${range(4).map((j) => `acc${j}_${e} += v${ci}.${lane(j)} * h2_${ci}_${e};`).join(' ')}`);
  }
  for (const j of range(4)) for (const e of E) emit(`  pre3v[${e}u][4u * blk + ${j}u] = acc${j}_${e};`);
  emit(`}`);
  for (const e of E) for (const c of range(C3)) emit(`let pre3_${c}_${e} = pre3v[${e}][${c}];`);
  normSilu(3, C3, GROUPS[2], 'base_g3', 'base_e3');
  for (const ci of range(C3 + C1)) emit(`let k4_${ci} = ${w('base_w4', ci)};`);
  const outs = E.map((e) => `vec2f(${w('base_b4', 0)}) + ${[...range(C3).map((ci) => `k4_${ci} * h3_${ci}_${e}`), ...range(C1).map((ci) => `k4_${C3 + ci} * h1_${ci}_${e}`)].join(' + ')}`);
  emit(`return array<vec2f, ${EVALS}>(\n    ${outs.join(',\n    ')});`);
  return [
    `@group(0) @binding(9) var<uniform> wts: array<vec4f, ${WEIGHT_BLOCK / 4}>;`,
    `const EVALS: u32 = ${EVALS}u;`,
    `var<private> h2v: array<array<vec2f, ${C2}>, ${EVALS}>;`,
    `var<private> pre3v: array<array<vec2f, ${C3}>, ${EVALS}>;`,
    '',
    `fn forward_regs(x: array<vec2f, ${EVALS}>, t: u32, label: array<u32, ${EVALS}>) -> array<vec2f, ${EVALS}> {\n${lines.join('\n')}\n}\n`,
  ].join('\n');
}
