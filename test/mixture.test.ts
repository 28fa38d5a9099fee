import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MIXTURE, componentPdf, mixtureLogPdf, mixturePdf, sampleMixture } from '../src/data/mixture.js';

const t = suite('mixture');
const N = 20000;

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

t('the spec values: sigma 0.1, peaks and weights', () => {
  assert.is(MIXTURE.sigma, 0.1);
  assert.equal(
    MIXTURE.components.map((c) => [c.label, c.mean, c.weight]),
    [
      [0, [-0.35, 0.65], 0.35],
      [1, [0.75, -0.45], 0.65],
    ],
  );
});

t('the PDF integrates to 1 over [-2, 2]^2', () => {
  const h = 0.005;
  let sum = 0;
  for (let x = -2 + h / 2; x < 2; x += h) for (let y = -2 + h / 2; y < 2; y += h) sum += mixturePdf(x, y);
  close(sum * h * h, 1, 1e-3, 'integral');
});

t('the PDF is the weighted sum of the component PDFs', () => {
  for (const [x, y] of [
    [0, 0],
    [-0.35, 0.65],
    [0.75, -0.45],
    [0.3, 0.1],
  ]) {
    close(mixturePdf(x, y), 0.35 * componentPdf(0, x, y) + 0.65 * componentPdf(1, x, y), 1e-12, `(${x}, ${y})`);
  }
  close(componentPdf(0, -0.35, 0.65), 1 / (2 * Math.PI * 0.01), 1e-12, 'peak height');
  assert.throws(
    () => componentPdf(2, 0, 0),
    (e: Error) => e.message.includes('2'),
  );
});

t('logPdf is log(pdf) where pdf is not tiny, and finite far away', () => {
  for (let x = -1; x <= 1.5; x += 0.1)
    for (let y = -1; y <= 1.5; y += 0.1) {
      const p = mixturePdf(x, y);
      if (p > 1e-200)
        close(mixtureLogPdf(x, y), Math.log(p), 1e-9 * Math.max(1, Math.abs(Math.log(p))), `(${x}, ${y})`);
    }
  const far = mixtureLogPdf(100, 100);
  assert.ok(Number.isFinite(far) && far < -1e5, `logPdf(100, 100) = ${far}`);
  assert.is(mixturePdf(100, 100), 0);
});

t('samples match the mode weights, means and per-axis std', () => {
  const { xy, labels } = sampleMixture(N, 1);
  for (const c of MIXTURE.components) {
    let count = 0,
      sx = 0,
      sy = 0,
      sxx = 0,
      syy = 0;
    for (let i = 0; i < N; i++) {
      if (labels[i] !== c.label) continue;
      const x = xy[2 * i],
        y = xy[2 * i + 1];
      count++;
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
    }
    const mx = sx / count,
      my = sy / count;
    const stdX = Math.sqrt(sxx / count - mx * mx),
      stdY = Math.sqrt(syy / count - my * my);
    // Four standard errors: weight sqrt(w(1-w)/N), mean sigma/sqrt(count), std sigma/sqrt(2 count).
    close(count / N, c.weight, 4 * Math.sqrt((c.weight * (1 - c.weight)) / N), `weight ${c.label}`);
    close(mx, c.mean[0], (4 * 0.1) / Math.sqrt(count), `mean x ${c.label}`);
    close(my, c.mean[1], (4 * 0.1) / Math.sqrt(count), `mean y ${c.label}`);
    close(stdX, 0.1, (4 * 0.1) / Math.sqrt(2 * count), `std x ${c.label}`);
    close(stdY, 0.1, (4 * 0.1) / Math.sqrt(2 * count), `std y ${c.label}`);
  }
});

t('the mean log-density of true samples is about 1.11', () => {
  const { xy } = sampleMixture(N, 2);
  let sum = 0;
  for (let i = 0; i < N; i++) sum += mixtureLogPdf(xy[2 * i], xy[2 * i + 1]);
  close(sum / N, 1.11, 0.03, 'mean log p');
});

t('a label draws from that peak only', () => {
  const { xy, labels } = sampleMixture(2000, 3, 0);
  assert.ok(labels.every((l) => l === 0));
  let sx = 0;
  for (let i = 0; i < 2000; i++) sx += xy[2 * i];
  close(sx / 2000, -0.35, 0.01, 'mean x');
  assert.throws(
    () => sampleMixture(10, 3, 5),
    (e: Error) => e.message.includes('5'),
  );
});

t('same seed, same samples; another seed or stream, others', () => {
  const a = sampleMixture(500, 42),
    b = sampleMixture(500, 42);
  assert.equal(a.xy, b.xy);
  assert.equal(a.labels, b.labels);
  assert.not.equal(sampleMixture(500, 43).xy, a.xy);
  assert.not.equal(sampleMixture(500, 42, undefined, 1).xy, a.xy);
});

t('a bad n throws naming it', () => {
  for (const n of [-1, 2.5, NaN]) {
    assert.throws(
      () => sampleMixture(n, 0),
      (e: Error) => e.message.includes(String(n)),
    );
  }
  assert.is(sampleMixture(0, 0).xy.length, 0);
});

t.run();
