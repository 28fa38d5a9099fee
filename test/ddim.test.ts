// The DDIM sampler (Song et al. 2021) on a toy noise predictor eps(x) = c * x (elementwise), so
// that the whole reverse chain has a float64 reference: x_T from the same Philox draws, each step
// x' = sqrt(ab') x0 + sqrt(1 - ab' - sigma^2) eps + sigma z. Deterministic at eta = 0; with
// guidance, clipping and eta > 0 as well.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { Program } from '../src/core/program.js';
import { mul } from '../src/core/ops/elementwise.js';
import { ddimPrepare, ddimTimes, ddimUpdate, STREAM_SAMPLE, SAMPLER_TAGS } from '../src/diffusion/ops.js';
import { scheduleTable, SCHEDULE_WIDTH } from '../src/diffusion/tables.js';
import { makeSchedule } from '../src/diffusion/schedule.js';
import { philox4x32, seedKey, toNormalPair } from '../src/core/philox.js';
import { assertClose, randomValues } from './harness.js';
import { testGpu } from './device.js';

const t = suite('DDIM');
const [n, dims, T] = [3, 8, 40];

interface Case {
  count: number;
  eta: number;
  guidance: number | null;
  clip: number;
}

/** Runs the sampler on the device: the final x [n, dims] and the trajectory [count + 1, n, dims]. */
async function run(c: Case, coef: Float64Array, seed: number) {
  const { device } = await testGpu();
  const times = ddimTimes(T, c.count);
  const net = c.guidance === null ? n : 2 * n;
  const g = new Graph('ddim');
  const x = g.input('x', [net, dims]);
  const tt = g.input('t', [net], 'u32');
  const schedule = g.input('schedule', [T + 1, SCHEDULE_WIDTH], 'f32', { constant: true });
  const trajectory = g.input('trajectory', [c.count + 1, n, dims]);
  const ts = g.input('times', [times.length], 'u32', { constant: true });
  const c2 = g.input('coef', [net, dims], 'f32', { constant: true });
  const x0s = g.input('x0s', [c.count, n, dims]);
  const o = { n, dims, T, guidance: c.guidance, record: n, clip: c.clip, eta: c.eta, recordX0: n };
  ddimPrepare(g, { x, t: tt, schedule, trajectory, times: ts }, o);
  const eps = mul(g, x, c2, 'toy_eps');
  ddimUpdate(g, { x, t: tt, schedule, trajectory, times: ts, x0s }, eps, o);
  const p = await Program.compile(device, g, { seed, keep: [tt] });
  p.write(schedule, scheduleTable('cosine', T));
  p.write(ts, times);
  p.write(c2, coef);
  p.fill(trajectory, Number.NaN);
  p.fill(x0s, Number.NaN);
  p.run(c.count);
  const out = {
    x: (await p.readF32(x)).slice(0, n * dims),
    trajectory: await p.readF32(trajectory),
    x0s: await p.readF32(x0s),
  };
  p.destroy();
  p.store.destroy();
  return out;
}

/** The same chain in float64. */
function reference(c: Case, coef: Float64Array, seed: number) {
  const s = makeSchedule('cosine', T);
  const times = ddimTimes(T, c.count);
  const key = seedKey(seed);
  const normal = (e: number, step: number, tag: number) =>
    toNormalPair(...(Array.from(philox4x32([e, STREAM_SAMPLE, step, tag], key)).slice(0, 2) as [number, number]))[0];
  const x = Float64Array.from({ length: n * dims }, (_, e) => normal(e, 0, SAMPLER_TAGS.TAG_START));
  const rows = [Float64Array.from(x)];
  const x0s: number[] = [];
  for (let k = 0; k < c.count; k++) {
    const [a, b] = [s.alphasCumprod[times[k]], times[k + 1] === 0 ? 1 : s.alphasCumprod[times[k + 1]]];
    const sigma = c.eta * Math.sqrt((1 - b) / (1 - a)) * Math.sqrt(1 - a / b);
    for (let e = 0; e < n * dims; e++) {
      const cond = coef[e] * x[e];
      let eps = c.guidance === null ? cond : (c.guidance + 1) * cond - c.guidance * coef[n * dims + e] * x[e];
      let x0 = (x[e] - Math.sqrt(1 - a) * eps) / Math.sqrt(a);
      if (c.clip > 0) {
        x0 = Math.min(c.clip, Math.max(-c.clip, x0));
        eps = (x[e] - Math.sqrt(a) * x0) / Math.sqrt(1 - a);
      }
      x0s.push(x0);
      x[e] = Math.sqrt(b) * x0 + Math.sqrt(Math.max(0, 1 - b - sigma * sigma)) * eps;
      if (sigma > 0) x[e] += sigma * normal(e, k, SAMPLER_TAGS.TAG_STEP);
    }
    rows.push(Float64Array.from(x));
  }
  return { x, trajectory: Float64Array.from(rows.flatMap((r) => [...r])), x0s: Float64Array.from(x0s) };
}

const cases: [string, Case][] = [
  ['10 of 40 steps, eta = 0', { count: 10, eta: 0, guidance: null, clip: 0 }],
  ['every step, eta = 1, guidance w = 2', { count: 40, eta: 1, guidance: 2, clip: 0 }],
  ['7 steps, eta = 0.5, x0 clipped to [-1, 1]', { count: 7, eta: 0.5, guidance: null, clip: 1 }],
];
for (const [what, c] of cases) {
  t(`${what}: the chain and its trajectory follow the float64 reference`, async () => {
    const net = c.guidance === null ? n : 2 * n;
    const coef = Float64Array.from(randomValues(net * dims, 3), (v) => 0.5 * v);
    const got = await run(c, coef, 9);
    const want = reference(c, coef, 9);
    assertClose(got.trajectory, want.trajectory, 2e-5, 2e-4, 'trajectory');
    assertClose(got.x, want.x, 2e-5, 2e-4, 'final x');
    assertClose(got.x0s, want.x0s, 2e-5, 2e-4, 'the predicted x_0 of every step');
  });
}

t('eta = 0 is deterministic given x_T: the same seed gives the same bits, another seed another x_T', async () => {
  const c = { count: 8, eta: 0, guidance: null, clip: 1 };
  const coef = Float64Array.from(randomValues(n * dims, 4), (v) => 0.5 * v);
  const [a, b, other] = [await run(c, coef, 5), await run(c, coef, 5), await run(c, coef, 6)];
  assert.ok(Buffer.from(a.trajectory.buffer).equals(Buffer.from(b.trajectory.buffer)), 'same seed, same bits');
  assert.not.ok(Buffer.from(a.x.buffer).equals(Buffer.from(other.x.buffer)), 'another seed');
});

t('the DDIM steps: T down to 0, evenly spaced; bad counts refused', () => {
  assert.equal(Array.from(ddimTimes(200, 4)), [200, 150, 100, 50, 0]);
  assert.equal(Array.from(ddimTimes(10, 10)), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assert.throws(() => ddimTimes(200, 0), /0 sampling steps, expected an integer from 1 to T = 200/);
  assert.throws(() => ddimTimes(200, 201), /201 sampling steps/);
});

t.run();
