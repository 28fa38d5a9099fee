// The declarative kernel definition: the WGSL header it writes, the checks every dispatch gets
// (a missing, extra or mistyped binding or parameter is an Error naming it), the pipeline cache
// keyed by name and code, and compile errors that show the failing source line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph, type Emitter, type Tensor } from '../src/core/graph.js';
import { Program } from '../src/core/program.js';
import { declaredKernels, packParams, pipelineFor, shaderModule } from '../src/core/kernel.js';
import '../src/index.js';
import { testGpu } from './device.js';
import { randomValues } from './harness.js';

const t = suite('kernel');

const SCALE = shaderModule({
  name: 'test_scale',
  source: `
@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i < p.n) { out[i] = p.factor * x[i] + f32(OFFSET); }
}`,
  constants: { OFFSET: 3 },
  bindings: { x: 'read', out: 'read_write', ids: 'read u32' },
  params: { n: 'u32', factor: 'f32' },
});
const KERNEL = SCALE.kernel('scale', { uses: ['x', 'out'] });

/** Compiles a graph of one op whose forward is `dispatch` (x an f32 input, u a u32 one, y its output). */
async function compileWith(dispatch: (e: Emitter, x: Tensor, y: Tensor, u: Tensor) => void): Promise<Program> {
  const { device } = await testGpu();
  const g = new Graph('kernel contract');
  const x = g.input('x', [5]);
  const u = g.input('u', [5], 'u32');
  const y = g.activation('y', [5]);
  g.add({ type: 'scale', inputs: [x, u], outputs: [y], forward: (e) => dispatch(e, x, y, u) });
  return Program.compile(device, g, { keep: [y] });
}
const run = (e: Emitter, bindings: unknown, params: unknown) =>
  e.dispatch(KERNEL, bindings as never, params as never, 5);

async function rejects(f: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await f();
  } catch (err) {
    assert.ok(err instanceof Error, `threw ${String(err)}`);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

t('the header declares every binding in order, the parameter struct after them, and the shared constants', () => {
  const code = KERNEL.code;
  assert.match(code, /@group\(0\) @binding\(0\) var<storage, read> x: array<f32>;/);
  assert.match(code, /@group\(0\) @binding\(1\) var<storage, read_write> out: array<f32>;/);
  assert.match(code, /@group\(0\) @binding\(2\) var<storage, read> ids: array<u32>;/);
  assert.match(code, /struct Params \{ n: u32, factor: f32 \}/);
  assert.match(code, /@group\(0\) @binding\(3\) var<uniform> p: Params;/);
  assert.match(code, /const OFFSET: u32 = 3u;/);
  assert.match(code, /const WG: u32 = 64u;/);
  assert.equal(
    KERNEL.bindings.map((b) => b.name),
    ['x', 'out'],
  );
});

t('a dispatch runs with bindings and parameters by name', async () => {
  const values = randomValues(5, 1);
  let x: Tensor | null = null;
  let y: Tensor | null = null;
  const p = await compileWith((e, tx, ty) => {
    [x, y] = [tx, ty];
    e.dispatch(KERNEL, { x: tx, out: ty }, { n: 5, factor: 2 }, 5);
  });
  p.write(x!, values);
  p.fill(y!, NaN);
  p.run(1);
  const got = await p.readF32(y!);
  assert.equal(
    Array.from(got),
    Array.from(values).map((v) => Math.fround(Math.fround(2 * Math.fround(v)) + 3)),
  );
  p.destroy();
  p.store.destroy();
});

t('a missing, extra or mistyped binding is an Error naming it', async () => {
  const ok = { n: 5, factor: 1 };
  await rejects(() => compileWith((e, x) => run(e, { x }, ok)), /kernel test_scale\.scale: binding out is missing/);
  await rejects(
    () => compileWith((e, x, y, u) => run(e, { x, out: y, ids: u }, ok)),
    /kernel test_scale\.scale: unknown binding ids \(it binds x, out\)/,
  );
  await rejects(
    () => compileWith((e, _x, y, u) => run(e, { x: u, out: y }, ok)),
    /kernel test_scale\.scale: binding x \(array<f32>\) got u\[5\], which is u32/,
  );
  await rejects(() => compileWith((e) => run(e, { x: [1, 2], out: [3] }, ok)), /binding x is 1,2, expected a tensor/);
});

t('a missing, extra or mistyped parameter is an Error naming it', async () => {
  await rejects(
    () => compileWith((e, x, y) => run(e, { x, out: y }, { n: 5 })),
    /kernel test_scale\.scale: parameter factor \(f32\) is missing/,
  );
  await rejects(
    () => compileWith((e, x, y) => run(e, { x, out: y }, { n: 5, factor: 1, eps: 2 })),
    /kernel test_scale\.scale: unknown parameter eps \(it takes n, factor\)/,
  );
  await rejects(
    () => compileWith((e, x, y) => run(e, { x, out: y }, { n: 4.5, factor: 1 })),
    /parameter n = 4\.5 is not a u32/,
  );
  await rejects(
    () => compileWith((e, x, y) => run(e, { x, out: y }, { n: -1, factor: 1 })),
    /parameter n = -1 is not a u32/,
  );
  await rejects(
    () => compileWith((e, x, y) => run(e, { x, out: y }, { n: 5, factor: NaN })),
    /parameter factor = NaN is not a finite f32/,
  );
  await rejects(
    () => compileWith((e, x, y) => run(e, { x, out: y }, { n: [5, 6], factor: 1 })),
    /parameter n is \[5,6\], expected a u32/,
  );
});

t('parameters lay out as WGSL does: vec4s and arrays of them on 16-byte boundaries', () => {
  const k = shaderModule({
    name: 'layout',
    source: '',
    bindings: {},
    params: { a: 'u32', b: 'vec4u', c: 'f32', d: 'array<vec4f, 2>', e: 'vec2f' },
  }).kernel('none');
  assert.equal(
    k.params.map((f) => f.offset),
    [0, 16, 32, 48, 80],
  );
  assert.is(k.paramBytes, 96);
  const view = new DataView(new ArrayBuffer(k.paramBytes));
  packParams(k, { a: 1, b: [2, 3, 4, 5], c: 0.5, d: [1, 2, 3, 4, 5, 6, 7, 8], e: [9, 10] }, view);
  assert.equal(
    [
      view.getUint32(0, true),
      view.getUint32(28, true),
      view.getFloat32(32, true),
      view.getFloat32(76, true),
      view.getFloat32(84, true),
    ],
    [1, 5, 0.5, 8, 10],
  );
});

t('two kernels of one name and different code get their own pipelines', async () => {
  const { device } = await testGpu();
  const make = (factor: string) =>
    shaderModule({
      name: 'same_name',
      source: `@compute @workgroup_size(WG) fn run(@builtin(global_invocation_id) gid: vec3u) { if (gid.x < 4u) { out[gid.x] = ${factor}; } }`,
      bindings: { out: 'read_write' },
    }).kernel('run');
  const [one, two] = [make('1.0'), make('2.0')];
  assert.is(one.name, two.name);
  assert.is.not(one.key, two.key);
  assert.is.not(await pipelineFor(device, one), await pipelineFor(device, two));
  assert.is(
    await pipelineFor(device, one),
    await pipelineFor(device, make('1.0')),
    'the same code shares one pipeline',
  );
});

t('a compile error names the kernel and shows the failing line of its source', async () => {
  const { device } = await testGpu();
  const broken = shaderModule({
    name: 'broken',
    source: '@compute @workgroup_size(WG)\nfn run() {\n  let v = undefined_name + 1.0;\n}',
    bindings: {},
  }).kernel('run');
  await rejects(
    () => pipelineFor(device, broken),
    /kernel broken\.run failed to compile: source line 3: [^\n]*\n\s+let v = undefined_name \+ 1\.0;/,
  );
});

t("the registry scripts/wgsl.mjs writes out holds the engine's kernels, the generated fused ones whole", () => {
  const names = new Set(declaredKernels().map((k) => k.name));
  for (const n of ['optim.adam', 'twopixel.train', 'twopixel.sample', 'conv2d.conv2d_forward', 'groupnorm.forward'])
    assert.ok(names.has(n), `${n} is declared`);
  const train = declaredKernels().find((k) => k.name === 'twopixel.train')!;
  assert.match(train.code, /struct Params \{/);
  assert.match(train.code, /fn train\(/);
});

t('a kernel may not use a binding its module does not declare', () => {
  assert.throws(
    () => SCALE.kernel('scale', { uses: ['x', 'nope' as 'x'] }),
    /kernel test_scale\.scale: uses "nope", which module test_scale does not declare/,
  );
  assert.throws(
    () => shaderModule({ name: 'bad', source: '', bindings: { x: 'write' } }),
    /binding x: "write" is not 'read', 'read_write' or 'uniform' with a type/,
  );
  assert.throws(
    () => shaderModule({ name: 'bad', source: '', bindings: { bins: 'read atomic<u32>' } }),
    /binding bins: atomic<u32> elements need 'read_write', not 'read'/,
  );
  assert.throws(
    () => shaderModule({ name: 'bad', source: '', bindings: { x: 'read_write atomic<f32>' } }),
    /binding x: element type "atomic<f32>" is not f32, u32, a vector or a matrix of them, or atomic<u32>/,
  );
  assert.throws(
    () => shaderModule({ name: 'bad', source: '', bindings: {}, constants: { K: 1.5 } }).kernel('k'),
    /shader constant K = 1\.5 is not a u32/,
  );
});

t.run();
