import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeSchedule, sigmas, type ScheduleKind } from '../src/diffusion/schedule.js';
import { PhiloxStream } from '../src/core/philox.js';

const t = suite('schedule');
const KINDS: ScheduleKind[] = ['cosine', 'linear'];
const LENGTHS = [1, 2, 5, 10, 50, 200, 1000];

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

t('cosine T = 5 gives the SPEC betas', () => {
  const s = makeSchedule('cosine', 5);
  const expected = [0.101294, 0.279544, 0.473635, 0.724052, 0.999];
  expected.forEach((b, i) => close(s.betas[i + 1], b, 1e-6, `beta_${i + 1}`));
});

t('cosine T = 50 gives beta_1 = 0.001748', () => {
  close(makeSchedule('cosine', 50).betas[1], 0.001748, 1e-6, 'beta_1');
});

t('index 0 is the clean image', () => {
  for (const kind of KINDS) {
    const s = makeSchedule(kind, 10);
    assert.is(s.betas[0], 0);
    assert.is(s.alphas[0], 1);
    assert.is(s.alphasCumprod[0], 1);
    assert.is(s.alphasCumprodPrev[0], 1);
    assert.is(s.sqrtAlphasCumprod[0], 1);
    assert.is(s.sqrtOneMinusAlphasCumprod[0], 0);
    assert.is(s.posteriorVariance[0], 0);
  }
});

t('every table has length T + 1', () => {
  for (const kind of KINDS)
    for (const T of LENGTHS) {
      const s = makeSchedule(kind, T);
      for (const table of [
        s.betas,
        s.alphas,
        s.alphasCumprod,
        s.alphasCumprodPrev,
        s.sqrtAlphasCumprod,
        s.sqrtOneMinusAlphasCumprod,
        s.posteriorVariance,
        sigmas(s, 'posterior'),
        sigmas(s, 'beta'),
      ]) {
        assert.is(table.length, T + 1);
      }
    }
});

t('each table satisfies its defining identity at random t', () => {
  const rng = new PhiloxStream(7, 0);
  for (const kind of KINDS)
    for (const T of LENGTHS) {
      const s = makeSchedule(kind, T);
      for (let draw = 0; draw < 20; draw++) {
        const i = 1 + Math.floor(rng.uniform() * T);
        const at = `${kind} T=${T} t=${i}`;
        close(s.alphas[i], 1 - s.betas[i], 1e-15, `alpha ${at}`);
        close(s.alphasCumprod[i], s.alphasCumprod[i - 1] * s.alphas[i], 1e-15, `alphabar ${at}`);
        assert.is(s.alphasCumprodPrev[i], s.alphasCumprod[i - 1], `alphabar_prev ${at}`);
        close(s.sqrtAlphasCumprod[i] ** 2, s.alphasCumprod[i], 1e-14, `sqrt alphabar ${at}`);
        close(s.sqrtOneMinusAlphasCumprod[i] ** 2, 1 - s.alphasCumprod[i], 1e-14, `sqrt(1 - alphabar) ${at}`);
        const posterior = ((1 - s.alphasCumprod[i - 1]) / (1 - s.alphasCumprod[i])) * s.betas[i];
        close(s.posteriorVariance[i], posterior, 1e-15, `posterior variance ${at}`);
        close(sigmas(s, 'posterior')[i] ** 2, s.posteriorVariance[i], 1e-14, `sigma^2 posterior ${at}`);
        close(sigmas(s, 'beta')[i] ** 2, i === 1 ? 0 : s.betas[i], 1e-14, `sigma^2 beta ${at} (no noise at t = 1)`);
      }
    }
});

t('alphabar is the product of the clipped alphas', () => {
  const s = makeSchedule('cosine', 5);
  let product = 1;
  for (let i = 1; i <= 5; i++) product *= 1 - s.betas[i];
  close(s.alphasCumprod[5], product, 1e-18, 'alphabar_T');
  close(s.alphasCumprod[5], 0.001 * s.alphasCumprod[4], 1e-18, 'last step clipped to 0.999');
});

t('betas lie in (0, 0.999] and alphabar strictly decreases', () => {
  // Linear at the largest T is left out: its alphabar underflows to 0 long before t = T.
  const cases: [ScheduleKind, number][] = [
    ...KINDS.flatMap((k) => LENGTHS.map((T): [ScheduleKind, number] => [k, T])),
    ['cosine', 100000],
  ];
  for (const [kind, T] of cases) {
    const s = makeSchedule(kind, T);
    for (let i = 1; i <= T; i++) {
      assert.ok(s.betas[i] > 0 && s.betas[i] <= 0.999, `${kind} T=${T} beta_${i} = ${s.betas[i]}`);
      assert.ok(s.alphasCumprod[i] < s.alphasCumprod[i - 1], `${kind} T=${T} alphabar_${i} does not decrease`);
    }
  }
});

t('posterior variance is 0 at t = 1 and below beta_t', () => {
  for (const kind of KINDS)
    for (const T of LENGTHS) {
      const s = makeSchedule(kind, T);
      assert.is(s.posteriorVariance[1], 0);
      for (let i = 1; i <= T; i++) assert.ok(s.posteriorVariance[i] <= s.betas[i]);
    }
});

t('linear betas run from 1e-4 to 0.02 evenly', () => {
  const s = makeSchedule('linear', 1000);
  close(s.betas[1], 1e-4, 1e-15, 'beta_1');
  close(s.betas[1000], 0.02, 1e-15, 'beta_T');
  close(s.betas[501] - s.betas[500], (0.02 - 1e-4) / 999, 1e-15, 'step');
  close(makeSchedule('linear', 1).betas[1], 1e-4, 0, 'T = 1');
});

t('a bad T throws naming the value', () => {
  for (const T of [0, -1, 2.5, NaN, 100001, Infinity]) {
    assert.throws(
      () => makeSchedule('cosine', T),
      (e: Error) => e.message.includes(String(T)) && e.message.includes('integer'),
    );
  }
});

t('a bad kind throws naming it', () => {
  assert.throws(
    () => makeSchedule('quadratic' as ScheduleKind, 10),
    (e: Error) => e.message.includes('quadratic'),
  );
  const s = makeSchedule('cosine', 10);
  assert.throws(
    () => sigmas(s, 'learned' as 'beta'),
    (e: Error) => e.message.includes('learned'),
  );
});

t.run();
