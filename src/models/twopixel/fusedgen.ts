// The fused two-pixel kernels' network code, generated as WGSL for a CPU driver. What lavapipe
// rewards (measured in bench/README.md): values it can keep in vector registers, so activations
// are named values, not dynamically indexed private arrays (each such access becomes a per-lane
// gather); few memory reads, so weights come from a uniform block as vec4s at constant indices
// (the only reads lavapipe makes once for all lanes), and in the loops, where the index depends
// on the loop counter, one vec4 per lane shared through subgroup broadcasts where the device
// allows (sg). Loops remain only where straight-line code would grow past what LLVM compiles in
// seconds (the 64-channel block). shaders/twopixel.wgsl holds the rest of the
// kernels; the op-by-op graph (unet.ts) is the reference the tests compare against. The widths,
// groups and parameters come from the spec (spec.ts); the generator is written for its shape
// (three normalised blocks and an output layer over [block 3, block 1]) and checks it.
import { BROADCAST_LANES } from '../../gpu/gpu.js';
import { TWO_PIXEL, unetParamSpecs } from './spec.js';

const [C1, C2, C3] = TWO_PIXEL.blocks.map((b) => b.cout);
const GROUPS = TWO_PIXEL.blocks.map((b) => b.groups!);
{
  const [b1, b2, b3] = TWO_PIXEL.blocks;
  const out = TWO_PIXEL.output;
  const shape = [
    b1.cin,
    b1.kernel,
    b2.cin,
    b2.kernel,
    b3.cin,
    b3.kernel,
    out.cin,
    out.cout,
    out.kernel,
    TWO_PIXEL.length,
    GROUPS[1] * 2,
    C2 % 4,
  ];
  if (shape.join() !== [1, 2, C1, 1, C2, 1, C3 + C1, 1, 1, 2, C2, 0].join()) {
    throw new Error(
      'fused two-pixel kernels: the spec is not the network the generator is written for (1 -> C1 kernel 2, C1 -> C2 and C2 -> C3 kernel 1, groups of 2 channels in block 2, an output over [C3, C1])',
    );
  }
}
/** Floats the uniform weight block holds (64 KiB, WebGPU's guaranteed uniform binding size). */
export const WEIGHT_BLOCK = 16384;
/**
 * Network evaluations per sampler invocation: EVALS samples, or EVALS / 2 under guidance. With
 * the loops' weights read through subgroup broadcasts four are faster than eight (fewer values
 * spilled; eight were 25 % faster while every lane read every weight) and two, and compile in
 * about a third of the time.
 */
export const EVALS = 4;
/**
 * Training samples one invocation carries through forward and backward together: one, since the
 * broadcasts made weight reads cheap (two spilled more than they saved in reads).
 */
export const TRAIN_EVALS = 1;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const lane = (k: number) => 'xyzw'[k & 3];
const w = (base: string, k: number) => `weights[base_${base} + ${k >> 2}u].${lane(k)}`;
const silu = (a: string) => `${a} / (1.0 + exp(-${a}))`;
/**
 * Under subgroup broadcasts (sg), values every lane needs but the compiler cannot prove shared
 * (their index depends on a loop counter, so lavapipe would read them once per lane) are read
 * once per subgroup: lane i reads the i-th of eight and the others take it with
 * subgroupBroadcast. `lane` is the invocation's lane (local index mod 8, lavapipe's SIMD lane).
 */
const laneSelect = (indices: string[]) =>
  indices.slice(1).reduce((acc, x, i) => `select(${acc}, ${x}, lane == ${i + 1}u)`, indices[0]);
if (C1 / 4 !== BROADCAST_LANES || C3 / 4 !== BROADCAST_LANES)
  throw new Error('fused two-pixel kernels: the broadcast reads expect rows of W2 and W3 of eight vec4s');
/**
 * vec4 k of row 4 blk + j of W2 or W3 ([64][32], eight vec4s per row): read directly, or (sg)
 * broadcast from lane k of sh_{m}_{j}, the row read one vec4 per lane.
 */
const rowVec4 = (sg: boolean, m: 'w2' | 'w3', j: number, k: number) =>
  sg ? `subgroupBroadcast(sh_${m}_${j}, ${k}u)` : `weights[base_${m} + (4u * blk + ${j}u) * 8u + ${k}u]`;
/** The UNet's parameters, in store order (spec.ts), each with its short name in the generated code: w, b, g (gamma), e (beta) and the layer's number. */
const PARAMS = unetParamSpecs();
const BASES = PARAMS.map((q) => {
  const [layer, , part] = q.name.split('.');
  const L = [...TWO_PIXEL.blocks, TWO_PIXEL.output].findIndex((b) => b.name === layer) + 1;
  return `${{ w: 'w', b: 'b', gamma: 'g', beta: 'e' }[part]}${L}`;
});
/** Floats of each fused parameter, in BASES order. */
const SIZES = PARAMS.map((q) => q.shape.reduce((a, b) => a * b, 1));
/** The fused parameters' names in the order the generated code and FusedParams' offsets use. */
export const FUSED_PARAM_NAMES = PARAMS.map((q) => q.name);
/** The offset field of parameter i in the kernels' parameter struct. */
export const offsetField = (i: number) => `o_${BASES[i]}`;
/**
 * Where each fused parameter starts in the uniform weight block: a fixed layout (each start a
 * multiple of 4), so the generated code reads weights at constant indices the compiler can fold.
 */
const WEIGHT_STARTS: number[] = [];
for (let i = 0, at = 0; i < SIZES.length; at += Math.ceil(SIZES[i] / 4) * 4, i++) WEIGHT_STARTS.push(at);
/** Floats of the weight block the fused parameters fill. */
export const PACKED_FLOATS = WEIGHT_STARTS[SIZES.length - 1] + SIZES[SIZES.length - 1];
/** Where the sampler's copy of the class table Q [3, 128] starts in the block, then P [T + 1, 128]. */
const Q_START = Math.ceil(PACKED_FLOATS / 4) * 4;
const P_START = Q_START + 3 * 128;
/** Rows of the time table P the sampler's uniform block holds beside the weights and Q: the steps one sampler dispatch runs. */
export const SAMPLER_ROWS = Math.floor((WEIGHT_BLOCK - P_START) / 128);

class Code {
  readonly lines: string[] = [];
  emit(indent: number, s: string) {
    this.lines.push(' '.repeat(indent) + s);
  }
  toString() {
    return this.lines.join('\n');
  }
}

/**
 * The forward pass for E evaluations with inputs x_e (vec2f values), step rows pt4_e = t_e * 32
 * (in vec4s; training) and labels label_e. Defines n{L}_{c}_{e}, a{L}_{c}_{e}, h{L}_{c}_{e} for
 * blocks 1 and 3 and out_e. Training keeps block 2's normalised values for its backward pass in
 * the private array `${v}n2` [e][channel / 4] (a mat4x2f: four channels at both positions, one
 * access where there were four) and 1/std of its groups in `${v}r2` [e][group / 2].
 */
function forward(code: Code, E: number, v: string, training: boolean, sg: boolean) {
  const es = range(E);
  const at = (n: number, s: string) => code.emit(n, s);
  // The block bias of channel c = 4 v + k for every evaluation: P(t) + Q(label), component k of
  // vec4 v of the table rows. Training reads the tables from storage (table4), P at each
  // sample's own step, one vec4 per four channels (group: the name of those four's reads); the
  // sampler, whose evaluations share t, from the uniform block.
  const biases = (n: number, tag: string, group: string, v: string, k: number) => {
    const looped = group === 'b2';
    if (training) {
      if (k === 0) {
        const q = range(3).map((i) =>
          sg && looped ? `subgroupBroadcast(sh_q, ${i}u)` : `table4[q_row4 + ${i}u * ROW4 + ${v}]`,
        );
        at(n, `let qv${group} = array<vec4f, 3>(${q.join(', ')});`);
        for (const e of es) at(n, `let pv${group}_${e} = table4[pt4_${e} + ${v}];`);
      }
      at(n, `let qr${tag} = vec3f(qv${group}[0].${lane(k)}, qv${group}[1].${lane(k)}, qv${group}[2].${lane(k)});`);
    } else if (sg && looped) {
      at(n, `let qr${tag} = vec3f(sh_q0.${lane(k)}, sh_q1.${lane(k)}, sh_q2.${lane(k)});`);
      at(n, `let pr${tag} = sh_p.${lane(k)};`);
    } else {
      at(
        n,
        `let qr${tag} = vec3f(weights[Q_START + ${v}].${lane(k)}, weights[Q_START + ROW4 + ${v}].${lane(k)}, weights[Q_START + 2u * ROW4 + ${v}].${lane(k)});`,
      );
      at(n, `let pr${tag} = weights[p_row + ${v}].${lane(k)};`);
    }
    for (const e of es) {
      const pe = training ? `pv${group}_${e}.${lane(k)}` : `pr${tag}`;
      at(
        n,
        `let bias${tag}_${e} = ${pe} + select(select(qr${tag}.z, qr${tag}.y, label_${e} == 1u), qr${tag}.x, label_${e} == 0u);`,
      );
    }
  };
  const normSilu = (L: number, channels: number, groups: number) => {
    const per = channels / groups;
    for (let g = 0; g < groups; g++) {
      const cs = range(per).map((i) => g * per + i);
      for (const e of es) {
        const pre = (c: number) => `pre${L}_${c}_${e}`;
        at(2, `let m${L}_${g}_${e} = (${cs.map((c) => `${pre(c)}.x + ${pre(c)}.y`).join(' + ')}) * ${1 / (2 * per)};`);
        at(
          2,
          `let r${L}_${g}_${e} = inverseSqrt((${cs.map((c) => `dot(${pre(c)} - m${L}_${g}_${e}, ${pre(c)} - m${L}_${g}_${e})`).join(' + ')}) * ${1 / (2 * per)} + 1e-5);`,
        );
        for (const c of cs) {
          at(2, `let n${L}_${c}_${e} = (${pre(c)} - m${L}_${g}_${e}) * r${L}_${g}_${e};`);
          at(2, `let a${L}_${c}_${e} = n${L}_${c}_${e} * ${w(`g${L}`, c)} + ${w(`e${L}`, c)};`);
          at(2, `let h${L}_${c}_${e} = ${silu(`a${L}_${c}_${e}`)};`);
        }
      }
    }
  };
  // Block 1 (kernel 2, the right pad zero) and its GroupNorm, written out.
  for (const c of range(C1)) {
    biases(2, `1_${c}`, `1_${c >> 2}`, `${c >> 2}u`, c & 3);
    at(2, `let k1_${c} = vec3f(${w('w1', 2 * c)}, ${w('w1', 2 * c + 1)}, ${w('b1', c)});`);
    for (const e of es) {
      at(
        2,
        `let pre1_${c}_${e} = vec2f(k1_${c}.z + bias1_${c}_${e}) + vec2f(k1_${c}.x * x_${e}.x + k1_${c}.y * x_${e}.y, k1_${c}.x * x_${e}.y);`,
      );
    }
  }
  normSilu(1, C1, GROUPS[0]);
  if (training)
    for (const q of range(C1 / 4)) actWrite(code, es, 2, 'act_h1', C1, `${q}u`, (e, k) => `h1_${4 * q + k}_${e}`);
  // Block 3 accumulates inside block 2's loop, as each four of block 2's outputs are ready (W3 is
  // [64][32], input-major: row ci is eight vec4s), so that no private array holds them.
  for (const c of range(C3)) {
    biases(2, `3_${c}`, `3_${c >> 2}`, `${(C1 + C2) / 4 + (c >> 2)}u`, c & 3);
    for (const e of es) at(2, `var acc3_${c}_${e} = vec2f(${w('b3', c)} + bias3_${c}_${e});`);
  }
  // Block 2: four output channels (two GroupNorm groups) per iteration; W2 is [64][32].
  at(2, `for (var blk = 0u; blk < p.n32 / 2u; blk++) {`);
  const v2 = `${C1 / 4}u + blk`;
  if (sg) {
    // The loop's weights as subgroup broadcasts (laneSelect, rowVec4): rows 4 blk .. 4 blk + 3 of W2 and
    // W3, block 2's bias, gamma and beta, and the class (and, sampling, the step) bias rows.
    const small = ['base_b2 + blk', 'base_g2 + blk', 'base_e2 + blk'];
    if (!training) small.push(...range(3).map((i) => `Q_START + ${i}u * ROW4 + ${v2}`), `p_row + ${v2}`);
    at(4, `let sh_b = weights[${laneSelect(small)}];`);
    ['bb', 'gm', 'bt'].forEach((name, i) => at(4, `let ${name} = subgroupBroadcast(sh_b, ${i}u);`));
    if (training) at(4, `let sh_q = table4[q_row4 + min(lane, 2u) * ROW4 + ${v2}];`);
    else {
      range(3).forEach((i) => at(4, `let sh_q${i} = subgroupBroadcast(sh_b, ${3 + i}u);`));
      at(4, `let sh_p = subgroupBroadcast(sh_b, 6u);`);
    }
    for (const j of range(4))
      for (const m of ['w2', 'w3']) at(4, `let sh_${m}_${j} = weights[base_${m} + (4u * blk + ${j}u) * 8u + lane];`);
  } else {
    at(4, `let bb = weights[base_b2 + blk];`);
    at(4, `let gm = weights[base_g2 + blk];`);
    at(4, `let bt = weights[base_e2 + blk];`);
  }
  for (const j of range(4)) {
    biases(4, `${j}`, 'b2', v2, j);
    for (const k of range(C1 / 4)) at(4, `let r${j}_${k} = ${rowVec4(sg, 'w2', j, k)};`);
    for (const e of es) {
      at(
        4,
        `let q${j}_${e} = vec2f(bb.${lane(j)} + bias${j}_${e}) + ${range(C1)
          .map((ci) => `r${j}_${ci >> 2}.${lane(ci)} * h1_${ci}_${e}`)
          .join(' + ')};`,
      );
    }
  }
  for (const e of es) {
    for (const g of [0, 1]) {
      const [a, b] = [`q${2 * g}_${e}`, `q${2 * g + 1}_${e}`];
      at(4, `let m${g}_${e} = (${a}.x + ${a}.y + ${b}.x + ${b}.y) * 0.25;`);
      at(
        4,
        `let s${g}_${e} = inverseSqrt((dot(${a} - m${g}_${e}, ${a} - m${g}_${e}) + dot(${b} - m${g}_${e}, ${b} - m${g}_${e})) * 0.25 + 1e-5);`,
      );
      for (const j of [2 * g, 2 * g + 1]) {
        at(4, `let n${j}_${e} = (q${j}_${e} - m${g}_${e}) * s${g}_${e};`);
        at(4, `let a${j}_${e} = n${j}_${e} * gm.${lane(j)} + bt.${lane(j)};`);
        at(4, `let hb${j}_${e} = ${silu(`a${j}_${e}`)};`);
      }
    }
    // One store of each array per iteration: four channels' values as a mat4x2f (column j:
    // channel 4 blk + j at both positions), 1/std of the two groups as a vec2f.
    const four = (name: string) =>
      `mat4x2f(${range(4)
        .map((j) => `${name}${j}_${e}`)
        .join(', ')})`;
    if (training) {
      at(4, `${v}n2[${e}][blk] = ${four('n')};`);
      at(4, `${v}r2[${e}][blk] = vec2f(s0_${e}, s1_${e});`);
      actWrite(code, [e], 4, 'act_h2', C2, 'blk', (e, k) => `hb${k}_${e}`);
    }
  }
  for (const j of range(4)) {
    for (const q of range(C3 / 4)) at(4, `let w3r${j}_${q} = ${rowVec4(sg, 'w3', j, q)};`);
    for (const e of es)
      at(
        4,
        range(C3)
          .map((c) => `acc3_${c}_${e} += w3r${j}_${c >> 2}.${lane(c)} * hb${j}_${e};`)
          .join(' '),
      );
  }
  at(2, `}`);
  for (const e of es) for (const c of range(C3)) at(2, `let pre3_${c}_${e} = acc3_${c}_${e};`);
  normSilu(3, C3, GROUPS[2]);
  // The output conv over [h3, h1] (the skip connection).
  for (const ci of range(C3 + C1)) at(2, `let k4_${ci} = ${w('w4', ci)};`);
  for (const e of es) {
    const terms = [
      ...range(C3).map((ci) => `k4_${ci} * h3_${ci}_${e}`),
      ...range(C1).map((ci) => `k4_${C3 + ci} * h1_${ci}_${e}`),
    ];
    at(2, `let out_${e} = vec2f(${w('b4', 0)}) + ${terms.join(' + ')};`);
  }
}

/**
 * Training: the sample-major activation rows the weight-gradient matmuls read (fused.ts), for
 * each live evaluation e: four channels c = 4 q .. 4 q + 3 of a width-wide row at each position,
 * acts[region / 4 + (2 i_e + position) * width / 4 + q] = vec4 of value(e, k) for k = 0..3 (one
 * vec4 store per lane where four scalar ones were).
 */
function actWrite(
  code: Code,
  es: number[],
  n: number,
  region: string,
  width: number,
  q: string,
  value: (e: number, k: number) => string,
) {
  for (const e of es) {
    const pos = (p: 'x' | 'y') =>
      `vec4f(${range(4)
        .map((k) => `${value(e, k)}.${p}`)
        .join(', ')})`;
    code.emit(
      n,
      `if (live_${e}) { let row = ${region} / 4u + 2u * i_${e} * ${width / 4}u + ${q}; acts[row] = ${pos('x')}; acts[row + ${width / 4}u] = ${pos('y')}; }`,
    );
  }
}

/** Training's private arrays (forward): block 2's normalised values and its groups' 1/std. */
function privates(v: string, E: number): string {
  const decl = (name: string, type: string, n: number) =>
    `var<private> ${v}${name}: array<array<${type}, ${n}>, ${E}>;`;
  return [decl('n2', 'mat4x2f', C2 / 4), decl('r2', 'vec2f', C2 / 4)].join('\n');
}

const bases = (code: Code) => {
  BASES.forEach((f, i) => code.emit(2, `const base_${f} = ${WEIGHT_STARTS[i] / 4}u; // ${PARAMS[i].name}`));
};

/** `fn packed_source(k: u32) -> u32`: the flat-store index of weight-block float k (k < PACKED_FLOATS). */
function packedSource(): string {
  const lines = BASES.map(
    (_, i) =>
      `  if (k < ${WEIGHT_STARTS[i] + SIZES[i]}u) { return p.${offsetField(i)} + k - ${WEIGHT_STARTS[i]}u; } // ${PARAMS[i].name}`,
  );
  return `const PACKED_FLOATS: u32 = ${PACKED_FLOATS}u;\nconst ROW4: u32 = BIAS_WIDTH / 4u;\nconst Q_START: u32 = ${Q_START / 4}u;\nconst P_START: u32 = ${P_START / 4}u;\nfn packed_source(k: u32) -> u32 {\n${lines.join('\n')}\n  return p.${offsetField(BASES.length - 1)};\n}\n`;
}

/**
 * `fn forward_regs(x: array<vec2f, EVALS>, t: u32, label: array<u32, EVALS>) -> array<vec2f, EVALS>`:
 * eps_theta(x[e], t, label[e]) for every e at one step t; and the uniform weight block.
 */
export function forwardRegs(sg: boolean): string {
  const code = new Code();
  bases(code);
  code.emit(2, `let p_row = P_START + (t - p.t_lo) * ROW4;`);
  for (const e of range(EVALS)) code.emit(2, `let x_${e} = x[${e}]; let label_${e} = label[${e}];`);
  forward(code, EVALS, 's_', false, sg);
  code.emit(
    2,
    `return array<vec2f, ${EVALS}>(${range(EVALS)
      .map((e) => `out_${e}`)
      .join(', ')});`,
  );
  return [
    `const EVALS: u32 = ${EVALS}u;`,
    "// Lanes that run in step (subgroup broadcasts: lavapipe's SIMD batch of 8; else 1), and this invocation's.",
    `const LANES: u32 = ${sg ? BROADCAST_LANES : 1}u;`,
    'var<private> lane: u32;',
    packedSource(),
    '',
    `fn forward_regs(x: array<vec2f, ${EVALS}>, t: u32, label: array<u32, ${EVALS}>) -> array<vec2f, ${EVALS}> {\n${code}\n}\n`,
  ].join('\n');
}

/**
 * The body of the training entry point's sample loop for TRAIN_EVALS samples at once: given
 * x_e (x_t), pt4_e, label_e, slope_e = dL/d(output) (zero for a sample past the batch), i_e and
 * live_e, it runs the forward pass, then accumulates the parameter gradients into the private
 * accumulators (gw1 ... gb4 of shaders/twopixel.wgsl), writes each live sample's block-bias
 * gradient to bias_grads4 and the activation rows of W2's and W3's gradients to acts (for the
 * matmul of fused.ts: a private accumulator of 2 x 2048 floats per invocation, updated at a
 * dynamic index, was 40 % of the kernel). The forward's output is out_e (the loss is taken in
 * between, so the caller splits the body into forward and backward).
 */
function trainBody(sg: boolean): { forward: string; backward: string; privates: string } {
  const E = TRAIN_EVALS;
  const es = range(E);
  const fwd = new Code();
  bases(fwd);
  forward(fwd, E, 't_', true, sg);
  const code = new Code();
  const at = (n: number, s: string) => code.emit(n, s);
  const sumE = (f: (e: number) => string) => es.map(f).join(' + ');
  // A live sample's block-bias gradient for four channels (vec4 v of its row): one vec4 store.
  const biasGrad4 = (n: number, v: string, value: (e: number, k: number) => string) => {
    for (const e of es)
      at(
        n,
        `if (live_${e}) { bias_grads4[i_${e} * ROW4 + ${v}] = vec4f(${range(4)
          .map((k) => value(e, k))
          .join(', ')}); }`,
      );
  };
  // Through SiLU, the affine and GroupNorm of a straight-line block: d{L}_{c}_{e} = dL/dh on
  // entry; defines dp{L}_{c}_{e} = dL/dpre and accumulates gamma and beta gradients.
  const normBackward = (L: number, channels: number, groups: number, d: (c: number, e: number) => string) => {
    const per = channels / groups;
    for (let g = 0; g < groups; g++) {
      const cs = range(per).map((i) => g * per + i);
      for (const c of cs) {
        for (const e of es) {
          at(2, `let sg${L}_${c}_${e} = 1.0 / (1.0 + exp(-a${L}_${c}_${e}));`);
          at(
            2,
            `let da${L}_${c}_${e} = ${d(c, e)} * sg${L}_${c}_${e} * (1.0 + a${L}_${c}_${e} * (1.0 - sg${L}_${c}_${e}));`,
          );
          at(2, `let dn${L}_${c}_${e} = da${L}_${c}_${e} * ${w(`g${L}`, c)};`);
        }
        at(2, `gg${L}[${c}] += ${sumE((e) => `dot(da${L}_${c}_${e}, n${L}_${c}_${e})`)};`);
        at(2, `ge${L}[${c}] += ${sumE((e) => `da${L}_${c}_${e}.x + da${L}_${c}_${e}.y`)};`);
      }
      for (const e of es) {
        at(
          2,
          `let m1_${L}_${g}_${e} = (${cs.map((c) => `dn${L}_${c}_${e}.x + dn${L}_${c}_${e}.y`).join(' + ')}) * ${1 / (2 * per)};`,
        );
        at(
          2,
          `let m2_${L}_${g}_${e} = (${cs.map((c) => `dot(dn${L}_${c}_${e}, n${L}_${c}_${e})`).join(' + ')}) * ${1 / (2 * per)};`,
        );
        for (const c of cs) {
          at(
            2,
            `let dp${L}_${c}_${e} = r${L}_${g}_${e} * (dn${L}_${c}_${e} - m1_${L}_${g}_${e} - n${L}_${c}_${e} * m2_${L}_${g}_${e});`,
          );
        }
      }
    }
  };

  // Output conv: its weight and bias gradients, and dL/dh3, dL/dh1 (skip).
  at(2, `gb4 += ${sumE((e) => `slope_${e}.x + slope_${e}.y`)};`);
  for (const ci of range(C3)) at(2, `gw4[${ci}] += ${sumE((e) => `dot(slope_${e}, h3_${ci}_${e})`)};`);
  for (const ci of range(C1)) at(2, `gw4[${C3 + ci}] += ${sumE((e) => `dot(slope_${e}, h1_${ci}_${e})`)};`);
  // Block 3's norm, then its bias gradients.
  normBackward(3, C3, GROUPS[2], (c, e) => `(k4_${c} * slope_${e})`);
  for (const q of range(C3 / 4)) actWrite(code, es, 2, 'act_dp3', C3, `${q}u`, (e, k) => `dp3_${4 * q + k}_${e}`);
  for (const c of range(C3)) at(2, `gb3[${c}] += ${sumE((e) => `dp3_${c}_${e}.x + dp3_${c}_${e}.y`)};`);
  for (const q of range(C3 / 4))
    biasGrad4(2, `${(C1 + C2) / 4 + q}u`, (e, k) => `dp3_${4 * q + k}_${e}.x + dp3_${4 * q + k}_${e}.y`);
  // Block 1's input gradient collects from block 2 (below) and the skip connection.
  for (const ci of range(C1)) for (const e of es) at(2, `var dh1_${ci}_${e} = k4_${C3 + ci} * slope_${e};`);
  // Blocks 3 and 2 backward, four block-2 channels c = 4 blk + j per iteration: dL/dh2_c from
  // block 3 (row c of W3), block 2's norm, its bias gradients and activation rows, and the
  // contribution to dL/dh1 (row c of W2).
  at(2, `for (var blk = 0u; blk < p.n32 / 2u; blk++) {`);
  if (sg) {
    at(4, `let sh_b = weights[${laneSelect(['base_g2 + blk', 'base_e2 + blk'])}];`);
    at(4, `let gm = subgroupBroadcast(sh_b, 0u);`);
    at(4, `let bt = subgroupBroadcast(sh_b, 1u);`);
    for (const j of range(4))
      for (const m of ['w2', 'w3']) at(4, `let sh_${m}_${j} = weights[base_${m} + (4u * blk + ${j}u) * 8u + lane];`);
  } else {
    at(4, `let gm = weights[base_g2 + blk];`);
    at(4, `let bt = weights[base_e2 + blk];`);
  }
  for (const j of range(4)) {
    for (const k of range(C3 / 4)) at(4, `let u${j}_${k} = ${rowVec4(sg, 'w3', j, k)};`);
    for (const e of es) {
      at(
        4,
        `let dh2_${j}_${e} = ${range(C3)
          .map((c3) => `u${j}_${c3 >> 2}.${lane(c3)} * dp3_${c3}_${e}`)
          .join(' + ')};`,
      );
    }
  }
  for (const e of es) {
    at(4, `let n2q_${e} = t_n2[${e}][blk];`);
    at(4, `let r2q_${e} = t_r2[${e}][blk];`);
    for (const g of [0, 1]) {
      const js = [2 * g, 2 * g + 1];
      for (const j of js) {
        at(4, `let n${j}_${e} = n2q_${e}[${j}];`);
        at(4, `let a${j}_${e} = n${j}_${e} * gm.${lane(j)} + bt.${lane(j)};`);
        at(4, `let sg${j}_${e} = 1.0 / (1.0 + exp(-a${j}_${e}));`);
        at(4, `let da${j}_${e} = dh2_${j}_${e} * sg${j}_${e} * (1.0 + a${j}_${e} * (1.0 - sg${j}_${e}));`);
        at(4, `let dn${j}_${e} = da${j}_${e} * gm.${lane(j)};`);
      }
      at(4, `let mb1_${g}_${e} = (${js.map((j) => `dn${j}_${e}.x + dn${j}_${e}.y`).join(' + ')}) * 0.25;`);
      at(4, `let mb2_${g}_${e} = (${js.map((j) => `dot(dn${j}_${e}, n${j}_${e})`).join(' + ')}) * 0.25;`);
      for (const j of js)
        at(4, `let dp${j}_${e} = r2q_${e}.${lane(g)} * (dn${j}_${e} - mb1_${g}_${e} - n${j}_${e} * mb2_${g}_${e});`);
    }
  }
  actWrite(code, es, 4, 'act_dp2', C2, 'blk', (e, k) => `dp${k}_${e}`);
  biasGrad4(4, `${C1 / 4}u + blk`, (e, k) => `dp${k}_${e}.x + dp${k}_${e}.y`);
  for (const j of range(4)) {
    const c = `(4u * blk + ${j}u)`;
    at(4, `gg2[${c}] += ${sumE((e) => `dot(da${j}_${e}, n${j}_${e})`)};`);
    at(4, `ge2[${c}] += ${sumE((e) => `da${j}_${e}.x + da${j}_${e}.y`)};`);
    at(4, `gb2[${c}] += ${sumE((e) => `dp${j}_${e}.x + dp${j}_${e}.y`)};`);
    for (const k of range(C1 / 4)) at(4, `let r${j}_${k} = ${rowVec4(sg, 'w2', j, k)};`);
    for (const ci of range(C1)) {
      for (const e of es) at(4, `dh1_${ci}_${e} += r${j}_${ci >> 2}.${lane(ci)} * dp${j}_${e};`);
    }
  }
  at(2, `}`);
  // Block 1's norm, bias and conv gradients.
  normBackward(1, C1, GROUPS[0], (c, e) => `dh1_${c}_${e}`);
  for (const c of range(C1)) {
    at(2, `gb1[${c}] += ${sumE((e) => `dp1_${c}_${e}.x + dp1_${c}_${e}.y`)};`);
    at(2, `gw1[${2 * c}] += ${sumE((e) => `dot(dp1_${c}_${e}, x_${e})`)};`);
    at(2, `gw1[${2 * c + 1}] += ${sumE((e) => `dp1_${c}_${e}.x * x_${e}.y`)};`);
  }
  for (const q of range(C1 / 4)) biasGrad4(2, `${q}u`, (e, k) => `dp1_${4 * q + k}_${e}.x + dp1_${4 * q + k}_${e}.y`);
  return { forward: fwd.toString(), backward: code.toString(), privates: privates('t_', E) };
}

/**
 * The training entry point: each invocation takes TRAIN_EVALS samples at a time (samples tid * E,
 * tid * E + 1, ..., then threads * E further on), draws them as the op-by-op batch does (twopixel_draw.wgsl),
 * and accumulates its partial gradients (written out by write_partials, shaders/twopixel.wgsl).
 */
export function trainEntry(sg: boolean): string {
  const E = TRAIN_EVALS;
  const es = range(E);
  const body = trainBody(sg);
  const pre = new Code();
  for (const e of es) {
    pre.emit(4, `let i_${e} = first + ${e}u;`);
    pre.emit(4, `let live_${e} = in_use && i_${e} < p.batch;`);
    pre.emit(4, `let draw_${e} = draw_sample(i_${e}, key);`);
    pre.emit(4, `let x_${e} = draw_${e}.xt;`);
    pre.emit(4, `let pt4_${e} = draw_${e}.t * ROW4;`);
    pre.emit(4, `let label_${e} = draw_${e}.label;`);
  }
  const post = new Code();
  for (const e of es) {
    post.emit(4, `let ls_${e} = loss_and_slope(out_${e} - draw_${e}.eps, inv_n);`);
    post.emit(4, `if (live_${e}) { loss += ls_${e}.x; ids[i_${e}] = draw_${e}.t * LABELS + label_${e}; }`);
    post.emit(4, `let slope_${e} = select(vec2f(0.0), ls_${e}.yz, live_${e});`);
  }
  const indent = (text: string) =>
    text
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n');
  return [
    body.privates,
    '',
    '@compute @workgroup_size(WG)',
    'fn train(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32) {',
    '  let tid = gid.x;',
    '  lane = li % LANES;',
    '  // Whole groups of LANES lanes run or return together (their broadcasts need every lane).',
    '  if (tid - lane >= p.threads) { return; }',
    '  let in_use = tid < p.threads;',
    '  let key = vec2u(state[1], state[2]);',
    '  let inv_n = 1.0 / f32(2u * p.batch);',
    `  let act_h1 = 0u; let act_dp3 = ${2 * C1}u * p.batch; let act_dp2 = ${4 * C1}u * p.batch; let act_h2 = act_dp2 + ${2 * C2}u * p.batch;`,
    '  let q_row4 = (p.steps + 1u) * ROW4;',
    '  var loss = 0.0;',
    `  let rounds = (p.batch + p.threads * ${E}u - 1u) / (p.threads * ${E}u);`,
    `  for (var round = 0u; round < rounds; round++) {`,
    `    let first = (round * p.threads + tid) * ${E}u;`,
    pre.toString(),
    indent(body.forward),
    post.toString(),
    indent(body.backward),
    '  }',
    '  if (in_use) { write_partials(tid, loss); }',
    '}',
    '',
  ].join('\n');
}
