// The study's report: its verdicts follow the measured numbers, and a missing runner output is
// named rather than skipped silently.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildReport, composeReport, type Figures, type StudyOutputs } from '../src/study/report.js';
import type { MnistMetrics } from '../src/study/mnist.js';
import { readMetrics } from '../src/study/schema.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SampleMetrics } from '../src/diffusion/metrics.js';

const t = suite('report');

function metrics(w0: number, std: number, logp: number): SampleMetrics {
  const mode = (label: number, weight: number, mean: [number, number]) => ({
    label,
    weight,
    count: Math.round(5000 * weight),
    mean,
    std: [std, std] as [number, number],
    pooledStd: std,
  });
  return {
    n: 5000,
    modes: [mode(0, w0, [-0.35, 0.65]), mode(1, 1 - w0, [0.75, -0.45])],
    meanLogDensity: logp,
    mmd: 2e-4,
    mmdFloor: 1e-5,
    weightStdError: 0.0067,
  };
}

const settings = {
  seed: 7,
  batch: 1024,
  lr: 0.001,
  'p-uncond': 0.2,
  loss: 'mse',
  variance: 'analytic',
  clip: 3,
  steps: 0,
  samples: 5000,
  T: 50,
  starts: 4000,
  w: 1,
};

function outputs(w0: number, std: number, logp: number, guided = 1): StudyOutputs {
  const model = (T: number, m: SampleMetrics) => ({
    T,
    checkpoint: `models/T${T}.safetensors`,
    epsErrorByT: Array.from({ length: T }, () => 0.05),
    trained: true,
    trainSeconds: 10,
    finalLoss: 0.09,
    sampleSeconds: 1,
    metrics: m,
    exactScoreSampler: metrics(0.35, 0.1, 1.12),
  });
  const labels = (share: number) =>
    [0, 1].map((label) => ({ label, inMode: share, std: [0.1, 0.1] as [number, number] }));
  return {
    sweep: {
      runner: 'sweep-T',
      adapter: 'test adapter',
      settings,
      models: [model(50, metrics(w0, std, logp)), model(5, metrics(0.3, 0.2, -1.3))],
    },
    trajectory: {
      runner: 'trajectory',
      adapter: 'test adapter',
      checkpoint: 'models/T50.safetensors',
      trained: true,
      trainSeconds: 30,
      seconds: 41,
      settings,
      start: [0.5, 0.2],
      end: [-0.3, 0.5],
      densities: [
        { t: 50, fromData: 0.93, fromNoise: 0.04, point: [0.5, 0.2] },
        { t: 10, fromData: 0.2, fromNoise: 0.7, point: [-0.2, 0.4] },
        { t: 0, fromData: 0.05, fromNoise: 0.95, point: [-0.3, 0.5] },
      ],
      distanceFloor: 0.03,
      noiseFloor: 0.02,
    },
    guidance: {
      runner: 'guidance',
      adapter: 'test adapter',
      checkpoint: 'models/T50.safetensors',
      trained: false,
      trainSeconds: 0,
      seconds: 12,
      mode: 'cfg',
      settings,
      strengths: [
        { guidance: 'cfg', w: 0, labels: labels(0.98) },
        { guidance: 'cfg', w: 1, labels: labels(guided) },
      ],
    },
    classifier: null,
  };
}

const figures: Figures = {
  sweep: 'sweep-T/sweep-T.png',
  trajectory: null,
  guidance: 'guidance/guidance.png',
  classifier: null,
};
const verdict = (text: string, start: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`| ${start}`));
  if (!line) throw new Error(`no target line starting "${start}" in:\n${text}`);
  return line.endsWith('| met |') ? 'met' : line.endsWith('| **not met** |') ? 'not met' : `unclear: ${line}`;
};

t('targets met by the numbers are marked met, at the largest T', () => {
  const text = buildReport(outputs(0.36, 0.1, 1.08), figures, 'test');
  assert.is(verdict(text, 'T = 50: mode weights'), 'met');
  assert.is(verdict(text, 'T = 50: per-mode'), 'met');
  assert.is(verdict(text, 'T = 50: mean log-density'), 'met');
  assert.is(verdict(text, 'classifier-free guidance'), 'met');
  assert.ok(text.includes('| 50 | 16000 (default) |'), 'the T = 50 row, with its default steps');
  assert.ok(text.includes('![samples and their density for each T](sweep-T/sweep-T.png)'));
  assert.ok(text.includes('two-pixel models: seed 7'));
});

t('each target fails on its own number', () => {
  assert.is(verdict(buildReport(outputs(0.375, 0.1, 1.08), figures, 'test'), 'T = 50: mode weights'), 'not met');
  assert.is(verdict(buildReport(outputs(0.36, 0.12, 1.08), figures, 'test'), 'T = 50: per-mode'), 'not met');
  assert.is(verdict(buildReport(outputs(0.36, 0.1, 1.0), figures, 'test'), 'T = 50: mean log-density'), 'not met');
  assert.is(verdict(buildReport(outputs(0.36, 0.1, 1.08), figures, 'test'), 'classifier-free guidance'), 'met');
  assert.is(
    verdict(buildReport(outputs(0.36, 0.1, 1.08, 0.985), figures, 'test'), 'classifier-free guidance'),
    'not met',
  );
});

t('the sentences follow the numbers', () => {
  const text = buildReport(outputs(0.3634, 0.1, 1.08), figures, 'test');
  assert.ok(text.includes('The weight of class 0 at T = 50 is 0.363 against 0.35: 2.0 standard errors'), text);
  assert.ok(text.includes('rises with T: -1.300 at T = 5, 1.080 at T = 50'), text);
  assert.ok(text.includes('ends at (-0.300, 0.500)'), text);
  assert.ok(
    text.includes('the trajectory 41 s (training its model 30 s); classifier-free guidance 12 s (its model reused)'),
    text,
  );
});

t('the trajectory page gives each t its distances from the data and from noise, and says where they cross', () => {
  const text = buildReport(outputs(0.36, 0.1, 1.08), figures, 'test');
  assert.ok(text.includes('| 10 | 0.200 | 0.700 | (-0.200, 0.400) | class 0, 0.292 |'), text);
  assert.ok(
    text.includes(
      'At t = 50 the learned density is 0.040 from N(0, I) (a KDE of as many N(0, I) draws is 0.020 from it) and 0.930 from the data',
    ),
    text,
  );
  assert.ok(text.includes('where a KDE of as many true samples is 0.030 from it'), text);
  assert.ok(text.includes('It is nearer the data than the noise from t = 10 down.'), text);
  const never = outputs(0.36, 0.1, 1.08);
  never.trajectory!.densities = never.trajectory!.densities.map((d) => ({ ...d, fromData: 0.99 }));
  assert.ok(buildReport(never, figures, 'test').includes('At no t shown is it nearer the data than the noise.'));
});

t('the guidance page puts both guidances in one table and says what stronger guidance does', () => {
  const o = outputs(0.36, 0.1, 1.08);
  const at = (guidance: 'cfg' | 'classifier', w: number, share: number, std: number) => ({
    guidance,
    w,
    labels: [0, 1].map((label) => ({ label, inMode: share, std: [std, std] as [number, number] })),
  });
  o.classifier = {
    ...o.guidance!,
    mode: 'classifier',
    strengths: [at('classifier', 0, 0.5, 0.3), at('classifier', 5, 0.999, 0.08), at('cfg', 0, 0.9, 0.1)],
  };
  o.guidance!.strengths = [at('cfg', 0, 0.97, 0.1), at('cfg', 0.5, 0.99, 0.095), at('cfg', 5, 1, 0.07)];
  const text = buildReport(o, { ...figures, classifier: 'guidance-classifier/guidance.png' }, 'test');
  assert.ok(text.includes('| 0.5 | 99.00 % / 99.00 % | 0.095 / 0.095 | - | - |'), text);
  assert.ok(text.includes('| 5 | 100.00 % / 100.00 % | 0.070 / 0.070 | 99.90 % / 99.90 % | 0.080 / 0.080 |'), text);
  assert.ok(
    text.includes(
      "from w = 0 to w = 5 the mean share in the label's mode goes from 97.00 % to 100.00 %, and the spread from 0.100 to 0.070: stronger guidance pushes",
    ),
    text,
  );
  assert.ok(text.includes('from s = 0 to s = 5 the mean share'), text);
  assert.ok(text.includes('<img src="guidance-classifier/guidance.png"'), text);
  assert.is(text.split('## Guidance').length - 1, 1, 'one page for both guidances');
  assert.is(verdict(text, 'classifier guidance'), 'met');
  // Weaker than the study's strength (--w 1), guidance is measured, not judged.
  o.guidance!.strengths[1] = at('cfg', 0.5, 0.6, 0.095);
  assert.is(verdict(buildReport(o, figures, 'test'), 'classifier-free guidance'), 'met');
  o.guidance!.strengths[2] = at('cfg', 5, 0.98, 0.07);
  assert.is(verdict(buildReport(o, figures, 'test'), 'classifier-free guidance'), 'not met');
});

t("the MNIST section reports the classifier's reading of the generated digits, digit by digit, and its targets", () => {
  const mnist = {
    runner: 'train-mnist',
    date: '2026-12-02T00:00:00Z',
    adapter: 'test adapter',
    preset: 'cpu',
    settings: {
      channels: [16, 32, 32, 32],
      embed: 64,
      T: 200,
      steps: 3000,
      batch: 32,
      lr: 0.002,
      warmup: 100,
      ema: 0.995,
      'p-uncond': 0.1,
      guidance: 2,
      'eval-samples': 200,
    },
    checkpoint: 'x.safetensors',
    trained: true,
    trainSeconds: 600,
    finalLoss: 0.05,
    sampler: { kind: 'ddim', steps: 50, eta: 0, guidance: 2, seconds: 40 },
    classifier: 'weights/mnist-classifier.safetensors',
    accuracy: 0.42,
    accuracyPerDigit: [0.9, 0.8, 0.1, 0.3, 0.4, 0.2, 0.5, 0.6, 0.0, 0.4],
    frechetDistance: 1500,
    frechetFloor: 100,
    diversity: 17,
    realDiversity: 18,
    diversityPerDigit: [17, 17, 17, 20, 17, 17, 17, 9, 17, 17],
    realDiversityPerDigit: [18, 18, 18, 18, 18, 18, 18, 18, 18, 18],
    emergence: {
      tolerance: 0.2,
      samples: 50,
      patchSpread: 10,
      transitionWidth: 100,
      ratio: 0.1,
      answer: 'all at once: the regions ...',
      t: [],
      settled: [],
      patchSettled: [],
      settleT: [],
    },
    totalSeconds: 700,
  } as unknown as MnistMetrics;
  const text = buildReport(
    { sweep: null, trajectory: null, guidance: null, classifier: null, mnist },
    { ...figures, mnistDigits: 'mnist/digits.png' },
    'test',
  );
  assert.ok(text.includes('<img src="mnist/digits.png" alt="ten generated digits per row, 0 to 9">'), text);
  assert.ok(text.includes('reads 42.00 % of the samples as the digit they were conditioned on'), text);
  assert.ok(text.includes('best 0, worst 8'), text);
  assert.ok(text.includes('15.0 times the floor'), text);
  assert.ok(text.includes('the most varied samples are the 3s (1.11x) and the least varied the 7s (0.50x)'), text);
  assert.ok(text.includes('All at once: the regions'), text);
  assert.ok(text.includes('| MNIST: at least 90 % read as their conditioned digit | 42.00 % | **not met** |'), text);
  assert.ok(
    text.includes('| MNIST: Frechet distance within 10x its floor | 1500.0 (floor 100.0) | **not met** |'),
    text,
  );
  assert.ok(!text.includes('Two-pixel models'), 'no two-pixel settings without two-pixel outputs');
  assert.match(text, /missing: .*`node runners\/sweep-T\.js`/);
  assert.is(
    composeReport({ sweep: null, trajectory: null, guidance: null, classifier: null, mnist }, figures, 't').unmet,
    2,
  );
  assert.ok(text.includes('the digit it reads worst is 8 (0.00 %)'), text);
  // Tied digits are all named, the same on the MNIST page and under the limitations.
  const tied = buildReport(
    {
      sweep: null,
      trajectory: null,
      guidance: null,
      classifier: null,
      mnist: { ...mnist, accuracyPerDigit: [0, 0.2, 1, 0.2, 0, 0, 1, 0.2, 0.2, 0] },
    },
    figures,
    'test',
  );
  assert.ok(tied.includes('best 2 and 6, worst 0, 4, 5 and 9.'), tied);
  assert.ok(tied.includes('the digits it reads worst are 0, 4, 5 and 9 (0.00 %)'), tied);
  // A reused checkpoint has no final loss to report.
  const reused = buildReport(
    {
      sweep: null,
      trajectory: null,
      guidance: null,
      classifier: null,
      mnist: { ...mnist, trained: false, finalLoss: null },
    },
    figures,
    'test',
  );
  assert.ok(reused.includes('label dropout 0.1) (a reused checkpoint); 200 samples by ddim'), reused);
});

t(
  'the limitations say by how much the learned models fall short of the exact-score sampler, and where one scores higher',
  () => {
    const o = outputs(0.36, 0.1, 1.08);
    const text = buildReport(o, figures, 'test');
    assert.ok(
      text.includes('fall short of the exact-score sampler by up to 2.42 in mean log-density (at T = 5)'),
      text,
    );
    assert.not.ok(text.includes('higher than it'), text);
    const at = (T: number) => o.sweep!.models.find((m) => m.T === T)!;
    at(50).metrics = { ...at(50).metrics, meanLogDensity: 1.2 };
    const over = buildReport(o, figures, 'test');
    assert.ok(over.includes('by up to 2.42 in mean log-density (at T = 5)'), over);
    assert.ok(over.includes('At T = 50 the learned model scores 0.08 higher than it'), over);
    assert.ok(over.includes('is 2.42 at T = 5, -0.08 at T = 50, largest in size at T = 5'), over);
    at(5).metrics = { ...at(5).metrics, meanLogDensity: 1.5 };
    const none = buildReport(o, figures, 'test');
    assert.ok(none.includes('No learned two-pixel model falls short of the exact-score sampler'), none);
    assert.ok(none.includes('At T = 5 the learned model scores 0.38 higher than it'), none);
  },
);

t('a reused model (no training, so no final loss: null in the JSON) is reported without one', () => {
  const o = outputs(0.36, 0.1, 1.08);
  o.sweep!.models = o.sweep!.models.map((m) => ({ ...m, trained: false, finalLoss: null }));
  const text = buildReport(o, figures, 'test');
  assert.ok(text.includes('| 50 | 16000 (default) | reused | - |'), text);
});

t('missing runner outputs are named, and none at all is an error', () => {
  const text = buildReport({ ...outputs(0.36, 0.1, 1.08, 1), trajectory: null }, figures, 'test');
  assert.match(text, /missing: `node runners\/trajectory\.js`/);
  assert.throws(
    () => buildReport({ sweep: null, trajectory: null, guidance: null, classifier: null }, figures, 'test'),
    /run node runners\/sweep-T\.js/,
  );
});

t('a metrics file without a field the report reads is refused, naming the file and the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
  try {
    const m = outputs(0.36, 0.1, 1.08).trajectory!;
    writeFileSync(join(dir, 'metrics.json'), JSON.stringify({ ...m, densities: [{ t: 50, fromData: 0.9 }] }));
    assert.throws(
      () => readMetrics(dir, 'trajectory'),
      /metrics\.json: densities\[0\]\.fromNoise is missing, expected a number/,
    );
    writeFileSync(join(dir, 'metrics.json'), JSON.stringify(m));
    assert.equal(readMetrics(dir, 'trajectory')?.distanceFloor, 0.03);
    assert.throws(() => readMetrics(dir, 'sweep-T'), /written by "trajectory", expected the sweep-T runner/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
