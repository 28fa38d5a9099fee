// The DDPM update of SPEC section 5 driven by the mixture's exact noise predictor: what it gives
// is the sampler's own error, the floor under every trained model of the study.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { exactEps, exactGamma, GAMMA_REFERENCE_POINTS, referenceGamma, sampleOracle } from '../src/diffusion/oracle.js';
import { modeStats } from '../src/diffusion/metrics.js';
import { analyticVariance, makeSchedule, sigmas } from '../src/diffusion/schedule.js';
import { MIXTURE, mixtureLogPdf } from '../src/data/mixture.js';
import { scheduleTable, SCHEDULE_WIDTH } from '../src/diffusion/tables.js';

const t = suite('exact-score sampler');

t('exact eps is -sqrt(1 - alphabar) times the score of the noised mixture (finite differences)', () => {
  const ab = 0.37;
  const s = Math.sqrt(ab);
  const v = ab * MIXTURE.sigma ** 2 + (1 - ab);
  const logp = (x: number, y: number) => {
    let total = 0;
    for (const c of MIXTURE.components) {
      total +=
        (c.weight * Math.exp(-((x - s * c.mean[0]) ** 2 + (y - s * c.mean[1]) ** 2) / (2 * v))) / (2 * Math.PI * v);
    }
    return Math.log(total);
  };
  for (const [x, y] of [
    [0.1, -0.3],
    [-0.5, 0.9],
    [1.2, -0.2],
  ]) {
    const h = 1e-5;
    const gx = (logp(x + h, y) - logp(x - h, y)) / (2 * h);
    const gy = (logp(x, y + h) - logp(x, y - h)) / (2 * h);
    const [ex, ey] = exactEps(x, y, ab);
    assert.ok(
      Math.abs(ex + Math.sqrt(1 - ab) * gx) < 1e-6 && Math.abs(ey + Math.sqrt(1 - ab) * gy) < 1e-6,
      `at (${x}, ${y})`,
    );
  }
});

t('the schedule table rows the kernels read agree with the schedule', () => {
  const T = 50;
  const s = makeSchedule('cosine', T);
  const table = scheduleTable('cosine', T, 'beta');
  for (const step of [1, 2, 25, 49, 50]) {
    const r = table.subarray(step * SCHEDULE_WIDTH, (step + 1) * SCHEDULE_WIDTH);
    const want = [
      Math.sqrt(s.alphasCumprod[step]),
      Math.sqrt(1 - s.alphasCumprod[step]),
      1 / Math.sqrt(s.alphas[step]),
      s.betas[step] / Math.sqrt(1 - s.alphasCumprod[step]),
      step === 1 ? 0 : Math.sqrt(s.betas[step]),
    ];
    want.forEach((w, i) =>
      assert.ok(Math.abs(r[i] - w) <= 1e-6 * Math.max(1, Math.abs(w)), `t=${step} column ${i}: ${r[i]} vs ${w}`),
    );
  }
});

t('with the exact score, T = 50 and sigma^2 = beta reproduce the mixture (weights, means, spread)', () => {
  const xy = sampleOracle(5000, 50, 'cosine', 'beta', 1);
  const modes = modeStats(xy);
  for (const m of modes) {
    const c = MIXTURE.components[m.label];
    assert.ok(Math.abs(m.weight - c.weight) < 3 * 0.0067, `weight ${m.weight}`);
    assert.ok(Math.abs(m.mean[0] - c.mean[0]) < 0.01 && Math.abs(m.mean[1] - c.mean[1]) < 0.01, `mean ${m.mean}`);
    assert.ok(m.pooledStd > 0.095 && m.pooledStd < 0.115, `std ${m.pooledStd}`);
  }
});

t('with the posterior variance at T = 50 the exact-score samples are too narrow (std about 0.08)', () => {
  const xy = sampleOracle(3000, 50, 'cosine', 'posterior', 2);
  for (const m of modeStats(xy)) assert.ok(m.pooledStd > 0.07 && m.pooledStd < 0.09, `std ${m.pooledStd}`);
  let mean = 0;
  for (let i = 0; i < xy.length; i += 2) mean += mixtureLogPdf(xy[i], xy[i + 1]);
  assert.ok(mean / (xy.length / 2) > 1.3, 'narrow samples sit higher on the density than true ones');
});

t('the analytic variance lies between betatilde and beta and follows its formula where unclipped', () => {
  const s = makeSchedule('cosine', 50);
  const gamma = exactGamma(s, 4000, 3);
  const v = analyticVariance(s, gamma);
  let interior = 0;
  for (let step = 1; step <= 50; step++) {
    assert.ok(gamma[step] > 0 && gamma[step] < 1.001, `Gamma_${step} = ${gamma[step]}`);
    assert.ok(v[step] >= s.posteriorVariance[step] && v[step] <= s.betas[step], `sigma^2_${step} = ${v[step]}`);
    const raw =
      s.posteriorVariance[step] +
      (s.betas[step] ** 2 / (s.alphas[step] * (1 - s.alphasCumprod[step]))) * (1 - gamma[step]);
    if (raw > s.posteriorVariance[step] && raw < s.betas[step]) {
      interior++;
      assert.ok(Math.abs(v[step] - raw) <= 1e-15, `t=${step}`);
    }
  }
  assert.ok(interior > 10, `only ${interior} steps are unclipped`);
  assert.ok(v[1] > 0, 'the analytic variance adds noise at the last step');
  assert.throws(() => analyticVariance(s, gamma.subarray(1)), /Gamma table has 50 entries, expected T \+ 1 = 51/);
  assert.throws(() => sigmas(s, 'analytic'), /needs the model's Gamma table/);
});

t('the reference Gamma table is the many-point exact table, and what sampleOracle uses without one', () => {
  const s = makeSchedule('cosine', 5);
  const reference = referenceGamma(s, 2);
  assert.equal(reference, exactGamma(s, GAMMA_REFERENCE_POINTS, 2));
  // Its noise at t = 1 (where 1 - Gamma_1 is about 0.17) is well under the 0.02 of a 2048-point table.
  const other = referenceGamma(s, 3);
  assert.ok(Math.abs(reference[1] - other[1]) < 0.006, `Gamma_1 ${reference[1]} vs ${other[1]} (seeds 2, 3)`);
  assert.equal(sampleOracle(50, 5, 'cosine', 'analytic', 2), sampleOracle(50, 5, 'cosine', 'analytic', 2, reference));
});

t('with the exact score, T = 50 and the analytic variance reproduce the mixture, log-density included', () => {
  const xy = sampleOracle(4000, 50, 'cosine', 'analytic', 4);
  for (const m of modeStats(xy)) assert.ok(m.pooledStd > 0.093 && m.pooledStd < 0.107, `std ${m.pooledStd}`);
  let mean = 0;
  for (let i = 0; i < xy.length; i += 2) mean += mixtureLogPdf(xy[i], xy[i + 1]);
  mean /= xy.length / 2;
  assert.ok(Math.abs(mean - 1.1198) < 0.05, `mean log-density ${mean}`);
});

t.run();
