import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sampleMixture } from '../src/data/mixture.js';
import {
  TRUE_MEAN_LOG_DENSITY,
  formatMetricsTable,
  labelAccuracy,
  meanLogDensity,
  mmdRbf,
  modeStats,
  sampleMetrics,
} from '../src/diffusion/metrics.js';

const t = suite('metrics');

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

function shifted(xy: Float32Array, by: number): Float32Array {
  return xy.map((v) => v + by);
}

t('modeStats on true samples recovers weights, means and stds', () => {
  const n = 20000;
  const modes = modeStats(sampleMixture(n, 11).xy);
  const expected = [
    { w: 0.35, mean: [-0.35, 0.65] },
    { w: 0.65, mean: [0.75, -0.45] },
  ];
  modes.forEach((m, k) => {
    assert.is(m.label, k);
    close(m.weight, expected[k].w, 4 * Math.sqrt((0.35 * 0.65) / n), `weight ${k}`);
    assert.is(m.count, Math.round(m.weight * n));
    for (const axis of [0, 1]) {
      close(m.mean[axis], expected[k].mean[axis], (4 * 0.1) / Math.sqrt(m.count), `mean ${k}.${axis}`);
      close(m.std[axis], 0.1, (4 * 0.1) / Math.sqrt(2 * m.count), `std ${k}.${axis}`);
    }
    close(m.pooledStd, Math.sqrt((m.std[0] ** 2 + m.std[1] ** 2) / 2), 1e-15, `pooled ${k}`);
  });
});

t('a set on one peak gives weights 1 / 0 and labelAccuracy 1', () => {
  const { xy } = sampleMixture(3000, 12, 1);
  const [m0, m1] = modeStats(xy);
  assert.is(m1.weight, 1);
  assert.is(m0.weight, 0);
  assert.is(m0.count, 0);
  assert.ok(Number.isNaN(m0.mean[0]), 'an empty mode has no mean');
  assert.is(labelAccuracy(xy, 1), 1);
  assert.is(labelAccuracy(xy, 0), 0);
});

t('the mean log-density of true samples is the entropy value', () => {
  close(TRUE_MEAN_LOG_DENSITY, 1.1198, 1e-4, 'closed form');
  close(meanLogDensity(sampleMixture(20000, 13).xy), TRUE_MEAN_LOG_DENSITY, 0.03, 'sampled');
});

t('MMD of true vs true is near zero; a shifted set is far above the floor', () => {
  const metrics = sampleMetrics(sampleMixture(2000, 14).xy, 15);
  const scale = Math.max(Math.abs(metrics.mmdFloor), 1e-4);
  assert.ok(Math.abs(metrics.mmd) < 1e-3, `true vs true MMD ${metrics.mmd}`);
  assert.ok(Math.abs(metrics.mmdFloor) < 1e-3, `floor ${metrics.mmdFloor}`);
  const off = sampleMetrics(shifted(sampleMixture(2000, 14).xy, 0.2), 15);
  assert.ok(off.mmd > 10 * scale, `shifted MMD ${off.mmd} vs floor ${metrics.mmdFloor}`);
  assert.ok(off.meanLogDensity < metrics.meanLogDensity - 1, 'a shifted set is less likely');
});

t('MMD is symmetric in its two sets and depends on the bandwidth', () => {
  const a = sampleMixture(300, 16).xy,
    b = shifted(sampleMixture(300, 17).xy, 0.05);
  close(mmdRbf(a, b), mmdRbf(b, a), 1e-12, 'symmetry');
  assert.ok(mmdRbf(a, b, 0.5) !== mmdRbf(a, b), 'the bandwidth matters');
});

// Speed belongs in bench/ (about 1 s here, quiet); this bound only catches a hang or a
// quadratic blow-up beyond the pairwise sum, with room for a loaded 2-core machine.
t('MMD of 5000 vs 5000 finishes (a hang guard, not a timing)', () => {
  const a = sampleMixture(5000, 18).xy,
    b = sampleMixture(5000, 19).xy;
  const start = performance.now();
  const v = mmdRbf(a, b);
  const ms = performance.now() - start;
  assert.ok(Number.isFinite(v) && Math.abs(v) < 1e-3, `two draws of one mixture: MMD ${v}`);
  assert.ok(ms < 30_000, `took ${ms.toFixed(0)} ms`);
});

t('the weight standard error is sqrt(0.35 * 0.65 / n)', () => {
  const m = sampleMetrics(sampleMixture(5000, 20).xy, 21);
  assert.is(m.n, 5000);
  close(m.weightStdError, Math.sqrt((0.35 * 0.65) / 5000), 1e-15, 'formula');
  close(m.weightStdError, 0.0067, 5e-5, 'SPEC value at 5000');
});

t('bad input throws naming what was wrong', () => {
  assert.throws(
    () => modeStats([0, 1, 2]),
    (e: Error) => e.message.includes('3') && e.message.includes('even'),
  );
  assert.throws(
    () => meanLogDensity([0, NaN]),
    (e: Error) => e.message.includes('NaN') && e.message.includes('[1]'),
  );
  assert.throws(
    () => mmdRbf([0, 0, 1, 1], [0, Infinity, 1, 1]),
    (e: Error) => e.message.includes('second'),
  );
  assert.throws(
    () => mmdRbf([0, 0], [0, 0, 1, 1]),
    (e: Error) => e.message.includes('at least 2'),
  );
  assert.throws(
    () => mmdRbf([0, 0, 1, 1], [0, 0, 1, 1], 0),
    (e: Error) => e.message.includes('bandwidth'),
  );
  assert.throws(
    () => labelAccuracy([0, 0], 3),
    (e: Error) => e.message.includes('3'),
  );
  assert.throws(
    () => modeStats([]),
    (e: Error) => e.message.includes('at least 1'),
  );
});

t('the table has a line per row, naming each', () => {
  const rows = [
    { name: 'true samples', metrics: sampleMetrics(sampleMixture(500, 22).xy, 23) },
    { name: 'T=5', metrics: sampleMetrics(sampleMixture(500, 24, 0).xy, 25) },
  ];
  const table = formatMetricsTable(rows);
  for (const { name } of rows) assert.ok(table.includes(name), `missing ${name}`);
  for (const column of ['w0', 'w1', 'mean0', 'std1', 'mean log p', 'MMD', 'floor']) assert.ok(table.includes(column));
  const lines = table.split('\n');
  assert.is(lines.length, 2 + 1 + rows.length);
  assert.ok(
    lines.every((l) => l.length === lines[0].length),
    'fixed width',
  );
  assert.ok(table.includes('-'), 'an empty mode prints a dash');
});

t.run();
