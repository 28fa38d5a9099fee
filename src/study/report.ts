// The study's report (out/report.md): the runners' figures and measured numbers, the targets of
// the study checked against them, and what they show, every sentence built from the numbers in
// the runners' metrics.json files. Reads only; `node runners/report.js` after the runners.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { COMMON_FLAGS, runCommand } from '../cli/main.js';
import type { FlagSpec } from '../cli/flags.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  readMetrics,
  type GuidanceLabel,
  type GuidanceStrength,
  type GuidanceMetrics,
  type MnistMetrics,
  type SweepMetrics,
  type TrajectoryMetrics,
} from './schema.js';
import { printPdf, reportHtml } from './reportfiles.js';
import { ensureFolder } from '../io/folders.js';
import { sweepMain } from './sweep.js';
import { trajectoryMain } from './trajectory.js';
import { guidanceMain } from './guidance.js';
import { mnistMain } from './mnist.js';
import { MIXTURE } from '../data/mixture.js';
import { TRUE_MEAN_LOG_DENSITY, type SampleMetrics } from '../diffusion/metrics.js';
import { defaultSteps } from './flags.js';

export const REPORT_FLAGS = {
  in: {
    type: 'string',
    default: '',
    help: "folder holding the runners' output folders (sweep-T, trajectory, guidance, guidance-classifier, mnist; default out, or out/quick with --quick)",
  },
  out: {
    type: 'string',
    default: '',
    help: 'folder of report.md, report.html (figures embedded) and report.pdf (default <in>/report)',
  },
  quick: {
    type: 'bool',
    default: false,
    help: "run what is missing with short trainings (minutes, not the study's defaults), marked as such on every page; --in defaults to out/quick",
  },
  'no-run': { type: 'bool', default: false, help: 'only report what the runners already wrote; run nothing' },
  'no-pdf': { type: 'bool', default: false, help: 'write only report.md and report.html (the PDF needs Chromium)' },
} as const satisfies Record<string, FlagSpec>;

/** The study's targets (issue 3): at the largest T, and for guided samples. */
export const TARGETS = {
  weightTolerance: 0.02,
  std: [0.09, 0.115],
  logDensityTolerance: 0.1,
  guidedShare: 0.99,
  /** MNIST: the share the classifier reads as the conditioned digit, and the Frechet distance's bound in floors. */
  mnistAccuracy: 0.9,
  frechetFloors: 10,
} as const;

type Sweep = SweepMetrics;
type Trajectory = TrajectoryMetrics;
type Guidance = GuidanceMetrics;
type Mnist = MnistMetrics;

/** What the runners left in one folder each; null where a runner has not been run. */
export interface StudyOutputs {
  sweep: Sweep | null;
  trajectory: Trajectory | null;
  guidance: Guidance | null;
  classifier: Guidance | null;
  mnist?: Mnist | null;
}

/** The figure of each section, relative to the report (null: no figure). */
export interface Figures {
  sweep: string | null;
  trajectory: string | null;
  guidance: string | null;
  classifier: string | null;
  mnistDigits?: string | null;
  mnistTrajectory?: string | null;
  mnistEmergence?: string | null;
}

const f3 = (v: number) => v.toFixed(3);
const pct = (v: number) => `${(100 * v).toFixed(2)} %`;
/** The digits whose value is `pick` (Math.min or Math.max) of `values`, every one of a tie: "0", "2 and 7", "1, 4 and 9". */
function digitsAt(values: readonly number[], pick: (...v: number[]) => number): string {
  const at = values.flatMap((v, d) => (v === pick(...values) ? [String(d)] : []));
  return at.length === 1 ? at[0] : `${at.slice(0, -1).join(', ')} and ${at[at.length - 1]}`;
}
const yes = (ok: boolean) => (ok ? 'met' : '**not met**');
const range = (vs: number[]) =>
  Math.min(...vs) === Math.max(...vs) ? f3(vs[0]) : `${f3(Math.min(...vs))}-${f3(Math.max(...vs))}`;
const sci = (v: number) => v.toExponential(1);
const loss = (v: number | null) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '-');

function modeOf(m: SampleMetrics, label: number) {
  const mode = m.modes.find((x) => x.label === label);
  if (!mode) throw new Error(`metrics without a mode for label ${label}`);
  return mode;
}

function trueWeight(label: number): number {
  return MIXTURE.components.find((c) => c.label === label)!.weight;
}

/** How each sequence moves: "rises", "falls" or "moves" (not monotone). */
function trend(vs: number[]): string {
  const steps = vs.slice(1).map((v, i) => v - vs[i]);
  if (steps.every((d) => d > 0)) return 'rises';
  if (steps.every((d) => d < 0)) return 'falls';
  return 'moves';
}

function sweepSection(s: Sweep, figure: string | null, verdicts: string[][]): string[] {
  const models = [...s.models].sort((a, b) => a.T - b.T);
  const out: string[] = ['## Sweep over T (SPEC 6.2)', ''];
  if (figure) out.push(`![samples and their density for each T](${figure})`, '');
  out.push(
    `${models[0].metrics.n} noises denoised by each model, no label and no guidance, so the samples should follow the whole mixture ` +
      `(weights ${MIXTURE.components.map((c) => c.weight).join(' / ')}, per-axis std ${MIXTURE.sigma}, mean log-density of true samples ${f3(TRUE_MEAN_LOG_DENSITY)}). ` +
      `"Exact eps" is the same sampler driven by the mixture's exact noise predictor: the sampler's own error, without learning error.`,
    '',
    '| T | training steps | train s | final loss | weight of class 0 | std per axis, class 0 / 1 | mean log p | exact eps: mean log p | MMD (floor) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  const steps = Number(s.settings.steps) || null;
  for (const m of models) {
    const [c0, c1] = [modeOf(m.metrics, 0), modeOf(m.metrics, 1)];
    out.push(
      `| ${m.T} | ${steps ?? `${defaultSteps(m.T)} (default)`} | ${m.trained ? m.trainSeconds.toFixed(0) : 'reused'} | ${loss(m.finalLoss)} | ${f3(c0.weight)} | ` +
        `(${f3(c0.std[0])}, ${f3(c0.std[1])}) / (${f3(c1.std[0])}, ${f3(c1.std[1])}) | ${f3(m.metrics.meanLogDensity)} | ${f3(m.exactScoreSampler.meanLogDensity)} | ` +
        `${sci(m.metrics.mmd)} (${sci(m.metrics.mmdFloor)}) |`,
    );
  }
  const last = models[models.length - 1];
  const w0 = modeOf(last.metrics, 0).weight;
  const stds = last.metrics.modes.flatMap((m) => m.std);
  const logp = last.metrics.meanLogDensity;
  const se = last.metrics.weightStdError;
  verdicts.push(
    [
      `T = ${last.T}: mode weights within ${TARGETS.weightTolerance} of ${trueWeight(0)} / ${trueWeight(1)}`,
      `${f3(w0)} / ${f3(1 - w0)}`,
      yes(Math.abs(w0 - trueWeight(0)) <= TARGETS.weightTolerance),
    ],
    [
      `T = ${last.T}: per-mode, per-axis std in ${TARGETS.std[0]}-${TARGETS.std[1]}`,
      range(stds),
      yes(stds.every((v) => v >= TARGETS.std[0] && v <= TARGETS.std[1])),
    ],
    [
      `T = ${last.T}: mean log-density within ${TARGETS.logDensityTolerance} of the true samples' ${f3(TRUE_MEAN_LOG_DENSITY)}`,
      f3(logp),
      yes(Math.abs(logp - TRUE_MEAN_LOG_DENSITY) <= TARGETS.logDensityTolerance),
    ],
  );
  const logps = models.map((m) => m.metrics.meanLogDensity);
  const list = (vs: number[], fmt: (v: number) => string) =>
    models.map((m, i) => `${fmt(vs[i])} at T = ${m.T}`).join(', ');
  out.push('', 'What the numbers show:', '');
  out.push(
    `- The mean log-density of the samples ${trend(logps)} with T: ${list(logps, f3)}, against ${f3(TRUE_MEAN_LOG_DENSITY)} for true samples.`,
  );
  const gaps = models.map((m) => m.exactScoreSampler.meanLogDensity - m.metrics.meanLogDensity);
  const widest = gaps.reduce((at, g, i) => (Math.abs(g) > Math.abs(gaps[at]) ? i : at), 0);
  out.push(
    `- The exact-score sampler reaches ${list(
      models.map((m) => m.exactScoreSampler.meanLogDensity),
      f3,
    )}; the learned model's shortfall from it ` +
      `(its learning error; negative where the learned model scores higher, its errors offsetting the sampler's) is ${list(gaps, (v) => v.toFixed(2))}, largest in size at T = ${models[widest].T}.`,
  );
  const limited = models.filter(
    (m) => m.exactScoreSampler.meanLogDensity < TRUE_MEAN_LOG_DENSITY - TARGETS.logDensityTolerance,
  );
  if (limited.length > 0) {
    out.push(
      `- At ${limited.map((m) => `T = ${m.T}`).join(' and ')} even the exact score falls more than ${TARGETS.logDensityTolerance} short of ${f3(TRUE_MEAN_LOG_DENSITY)} ` +
        `(${limited.map((m) => f3(m.exactScoreSampler.meanLogDensity)).join(', ')}): there the number of steps limits the sampler, not the model.`,
    );
  }
  out.push(
    `- The weight of class 0 at T = ${last.T} is ${f3(w0)} against ${trueWeight(0)}: ${(Math.abs(w0 - trueWeight(0)) / se).toFixed(1)} standard errors (${se.toFixed(4)} at ${last.metrics.n} samples).`,
  );
  const mmds = models.map((m) => m.metrics.mmd);
  out.push(
    `- MMD against fresh true samples ${trend(mmds)} with T: ${list(mmds, sci)}; true against true gives ${sci(last.metrics.mmdFloor)}.`,
  );
  return out;
}

function trajectorySection(t: Trajectory, figure: string | null): string[] {
  const out = ['## One trajectory over the learned densities (SPEC 6.1)', ''];
  if (figure) out.push(`![one reverse trajectory over p_theta(x_t)](${figure})`, '');
  const nearestPeak = ([x, y]: [number, number]) =>
    MIXTURE.components.map((c) => ({ c, d: Math.hypot(x - c.mean[0], y - c.mean[1]) })).sort((a, b) => a.d - b.d)[0];
  const end = nearestPeak(t.end);
  out.push(
    `The density panels are kernel density estimates over ${t.settings.starts} trajectories. Their distance from the data and from pure noise, ` +
      "as the total-variation distance (0: the same density, 1: disjoint) of each KDE from the data's and from N(0, I)'s smoothed by the same kernel, " +
      'and where the drawn trajectory stands:',
    '',
    '| t | from the data | from N(0, I) | trajectory at | nearest peak, distance |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const d of t.densities) {
    const near = nearestPeak(d.point);
    out.push(
      `| ${d.t} | ${f3(d.fromData)} | ${f3(d.fromNoise)} | (${f3(d.point[0])}, ${f3(d.point[1])}) | class ${near.c.label}, ${f3(near.d)} |`,
    );
  }
  const first = t.densities[0];
  const last = t.densities[t.densities.length - 1];
  const nearer = t.densities.filter((d) => d.fromData < d.fromNoise);
  out.push(
    '',
    `At t = ${first.t} the learned density is ${f3(first.fromNoise)} from N(0, I) (a KDE of as many N(0, I) draws is ${f3(t.noiseFloor)} from it) and ${f3(first.fromData)} from the data; ` +
      `at t = ${last.t} it is ${f3(last.fromData)} from the data, where a KDE of as many true samples is ${f3(t.distanceFloor)} from it. ` +
      (nearer.length > 0
        ? (() => {
            const from = Math.max(...nearer.map((d) => d.t));
            return from === last.t
              ? `It is nearer the data than the noise only at t = ${from}.`
              : `It is nearer the data than the noise from t = ${from} down.`;
          })()
        : 'At no t shown is it nearer the data than the noise.'),
    '',
    `The trajectory starts at (${f3(t.start[0])}, ${f3(t.start[1])}) at t = ${t.settings.T} and ends at (${f3(t.end[0])}, ${f3(t.end[1])}), ` +
      `${f3(end.d)} (${(end.d / MIXTURE.sigma).toFixed(1)} sigma) from the class-${end.c.label} peak at (${end.c.mean.join(', ')}).`,
  );
  return out;
}

/** sqrt((var_x + var_y) / 2) of a mode's samples, or null when none landed there. */
const spread = (l: GuidanceLabel) => (l.std ? Math.sqrt((l.std[0] ** 2 + l.std[1] ** 2) / 2) : null);
const mean = (vs: number[]) => vs.reduce((a, b) => a + b, 0) / vs.length;

/** Both guidances on one page: the shared-noise figures side by side, then one table of strengths. */
function guidanceSection(
  cfg: Guidance | null,
  cls: Guidance | null,
  figures: { cfg: string | null; classifier: string | null },
  verdicts: string[][],
): string[] {
  const out = ['## Guidance (SPEC 6.3)', ''];
  const shown = [figures.cfg, figures.classifier].filter((x): x is string => x !== null);
  if (shown.length > 0)
    out.push(
      `<div class="pair">${shown.map((src) => `<img src="${encodeURI(src)}" alt="one noise denoised with y = 0 and y = 1">`).join('')}</div>`,
      '',
    );
  const kinds = [
    { key: 'cfg', name: 'classifier-free guidance', symbol: 'w', run: cfg },
    { key: 'classifier', name: 'classifier guidance', symbol: 's', run: cls },
  ]
    .filter((k) => k.run)
    .map((k) => ({ ...k, strengths: k.run!.strengths.filter((s) => s.guidance === k.key) }));
  const first = (cfg ?? cls)!;
  out.push(
    `Left${shown.length > 1 ? ' and right' : ''}: one x_T denoised with y = 0 and with y = 1 under the same per-step noise, so only the label differs ` +
      `(${kinds.map((k) => `${k.name} at ${k.symbol} = ${k.run!.settings.w}`).join('; ')}). ` +
      `Below: ${first.settings.samples} samples per label and strength; the share that ends nearest its label's peak, and the spread (sqrt of the mean per-axis variance) of those samples, ` +
      `against the data's ${MIXTURE.sigma}:`,
    '',
  );
  const ws = [...new Set(kinds.flatMap((k) => k.strengths.map((s) => s.w)))].sort((a, b) => a - b);
  out.push(
    `| strength | ${kinds.map((k) => `${k.name}: in mode, y = 0 / 1 | spread, y = 0 / 1`).join(' | ')} |`,
    `| --- | ${kinds.map(() => '--- | ---').join(' | ')} |`,
  );
  for (const w of ws) {
    const cells = kinds.map((k) => {
      const s = k.strengths.find((x) => x.w === w);
      if (!s) return '- | -';
      const [a, b] = [0, 1].map((y) => s.labels.find((l) => l.label === y)!);
      const sp = (l: GuidanceLabel) => {
        const v = spread(l);
        return v === null ? '-' : f3(v);
      };
      return `${pct(a.inMode)} / ${pct(b.inMode)} | ${sp(a)} / ${sp(b)}`;
    });
    out.push(`| ${w} | ${cells.join(' | ')} |`);
  }
  out.push('', 'What stronger guidance does:', '');
  for (const k of kinds) {
    const [lo, hi] = [k.strengths[0], k.strengths[k.strengths.length - 1]];
    if (!lo || lo === hi) continue;
    const share = (s: GuidanceStrength) => mean(s.labels.map((l) => l.inMode));
    const spreadOf = (s: GuidanceStrength) => mean(s.labels.map(spread).filter((v): v is number => v !== null));
    const [s0, s1, p0, p1] = [share(lo), share(hi), spreadOf(lo), spreadOf(hi)];
    out.push(
      `- ${k.name[0].toUpperCase()}${k.name.slice(1)}: from ${k.symbol} = ${lo.w} to ${k.symbol} = ${hi.w} the mean share in the label's mode goes from ${pct(s0)} to ${pct(s1)}, ` +
        `and the spread from ${f3(p0)} to ${f3(p1)}` +
        (p1 < p0 && p1 < MIXTURE.sigma
          ? `: stronger guidance pushes the samples into their label's peak and narrows it below the data's ${MIXTURE.sigma}.`
          : p1 > p0
            ? `: stronger guidance widens the modes (${f3(p1)} against the data's ${MIXTURE.sigma}).`
            : '.'),
    );
    // The target is the study's guided samples: the strength its figure shows (--w) and stronger.
    const chosen = Number(k.run!.settings.w ?? 0);
    const guided = k.strengths.filter((s) => s.w > 0 && s.w >= chosen);
    if (guided.length > 0) {
      const worst = Math.min(...guided.flatMap((s) => s.labels.map((l) => l.inMode)));
      verdicts.push([
        `${k.name}: at least ${pct(TARGETS.guidedShare)} of each label's samples in its mode (${k.symbol} = ${guided.map((s) => s.w).join(', ')})`,
        `lowest ${pct(worst)}`,
        yes(worst >= TARGETS.guidedShare),
      ]);
    }
    const unguided = k.strengths.find((s) => s.w === 0);
    if (unguided) {
      const shares = unguided.labels.map((l) => pct(l.inMode)).join(' / ');
      out.push(
        k.key === 'cfg'
          ? `- At w = 0 the conditional model alone puts ${shares} of each label's samples in its mode.`
          : `- At s = 0 the classifier-guided sampler is the unconditional model: its ${shares} "in mode" are the mixture's weights, not guidance.`,
      );
    }
  }
  return out;
}

function mnistSection(m: Mnist, figures: Figures, verdicts: string[][]): string[] {
  const st = m.settings;
  const out = ['## MNIST (SPEC 6.4)', ''];
  // The grid and the emergence figure side by side, the trajectory strip under them: one page.
  const pair = [
    [figures.mnistDigits, 'ten generated digits per row, 0 to 9'],
    [figures.mnistEmergence, 'when each part of a digit settles'],
  ].filter((x): x is [string, string] => !!x[0]);
  if (pair.length > 0)
    out.push(
      `<div class="pair">${pair.map(([src, alt]) => `<img src="${encodeURI(src)}" alt="${alt}">`).join('')}</div>`,
      '',
    );
  if (figures.mnistTrajectory) out.push(`![one sample from t = T to 0](${figures.mnistTrajectory})`, '');
  out.push(
    `Preset ${m.preset}: UNet with channels ${st.channels.join(' / ')}, embedding ${st.embed}, T = ${st.T}; ${st.steps} training steps of batch ${st.batch} ` +
      `(Adam ${st.lr} after ${st.warmup} warm-up steps, cosine decay, EMA ${st.ema}, label dropout ${st['p-uncond']})${m.trained ? `, ${(m.trainSeconds / 60).toFixed(1)} min here` : ' (a reused checkpoint)'}${loss(m.finalLoss) === '-' ? '' : `, final loss ${loss(m.finalLoss)}`}; ` +
      `${st['eval-samples']} samples by ${m.sampler.kind} in ${m.sampler.steps} steps with guidance w = ${m.sampler.guidance}, ${m.sampler.seconds.toFixed(0)} s on ${m.adapter}.`,
    '',
  );
  out.push(
    `The engine's classifier reads ${pct(m.accuracy)} of the samples as the digit they were conditioned on. By digit: ` +
      `${m.accuracyPerDigit.map((v, d) => `${d}: ${(100 * v).toFixed(0)} %`).join(', ')}; best ${digitsAt(m.accuracyPerDigit, Math.max)}, worst ${digitsAt(m.accuracyPerDigit, Math.min)}. ` +
      `The Frechet distance of its features to the test digits' is ${m.frechetDistance.toFixed(1)}, ${(m.frechetDistance / m.frechetFloor).toFixed(1)} times the floor of real digits at the same n (${m.frechetFloor.toFixed(1)}); ` +
      `within a digit the samples lie ${m.diversity.toFixed(2)} apart on average against ${m.realDiversity.toFixed(2)} for real digits` +
      (m.diversityPerDigit
        ? (() => {
            const ratio = m.diversityPerDigit.map((v, d) => v / m.realDiversityPerDigit[d]);
            const most = ratio.indexOf(Math.max(...ratio));
            const least = ratio.indexOf(Math.min(...ratio));
            return `; against real digits the most varied samples are the ${most}s (${ratio[most].toFixed(2)}x) and the least varied the ${least}s (${ratio[least].toFixed(2)}x).`;
          })()
        : '.'),
    '',
    `Is a digit generated part by part or all at once? ${m.emergence.answer[0].toUpperCase()}${m.emergence.answer.slice(1)}.`,
  );
  verdicts.push(
    [
      `MNIST: at least ${(100 * TARGETS.mnistAccuracy).toFixed(0)} % read as their conditioned digit`,
      pct(m.accuracy),
      yes(m.accuracy >= TARGETS.mnistAccuracy),
    ],
    [
      `MNIST: Frechet distance within ${TARGETS.frechetFloors}x its floor`,
      `${m.frechetDistance.toFixed(1)} (floor ${m.frechetFloor.toFixed(1)})`,
      yes(m.frechetDistance <= TARGETS.frechetFloors * m.frechetFloor),
    ],
  );
  return out;
}

/** Page 1: what was built, how to run it, the changes from the source design, the machine and times. */
function modelSection(o: StudyOutputs, twoPixel: Record<string, unknown> | undefined): string[] {
  const out = [
    '## The model and the code',
    '',
    'A WebGPU compute-shader engine in TypeScript trains and samples every model here on the device through hand-written WGSL kernels ' +
      '(a graph with per-op backward rules, one fused Adam with an EMA of the weights, batches, noise and timesteps drawn on the device by Philox), ' +
      'in Node through Dawn and in the browser. The two-pixel UNet is the one SPEC.md settles; the MNIST UNet follows `w2_torch.py`.',
    '',
    'To reproduce: `bash .ci/setup-system && npm ci`, then the runners (`node runners/sweep-T.js`, `trajectory.js`, `guidance.js`, ' +
      '`guidance.js --mode classifier`, `train-mnist.js`) and `node runners/report.js`; `npm test` runs the tests.',
    '',
  ];
  if (twoPixel) {
    out.push(
      `Changes from the source design, as run: convolutions with padding 'same'; label dropout ${twoPixel['p-uncond']} (classifier-free guidance needs the unconditional model); ` +
        `sampler variance ${twoPixel.variance}; the predicted x_0 clipped to ±${twoPixel.clip} in each reverse step (without it the first step at T = 50 multiplies the noise error by 1/sqrt(alpha_T)); ` +
        `two-pixel models: seed ${twoPixel.seed}, batch ${twoPixel.batch}, Adam ${twoPixel.lr} with cosine decay, loss ${twoPixel.loss === 'auto' ? 'L2 at T <= 5, Huber above' : twoPixel.loss}.`,
      '',
    );
  }
  const adapter = o.sweep?.adapter ?? o.mnist?.adapter;
  const times: string[] = [];
  if (o.sweep)
    times.push(
      `the sweep's models trained in ${o.sweep.models.map((m) => (m.trained ? `${m.trainSeconds.toFixed(0)} s` : 'reused')).join(', ')} (T = ${o.sweep.models.map((m) => m.T).join(', ')})`,
    );
  const run = (what: string, r: Trajectory | Guidance | null) => {
    // Files written before the runners recorded their times have none.
    if (r && typeof r.seconds === 'number')
      times.push(
        `${what} ${r.seconds.toFixed(0)} s${r.trained ? ` (training its model ${r.trainSeconds.toFixed(0)} s)` : ' (its model reused)'}`,
      );
  };
  run('the trajectory', o.trajectory);
  run('classifier-free guidance', o.guidance);
  run('classifier guidance', o.classifier);
  if (o.mnist)
    times.push(
      `MNIST ${o.mnist.trained ? `trained in ${(o.mnist.trainSeconds / 60).toFixed(1)} min` : 'from a reused checkpoint'} and sampled and scored in ${(o.mnist.totalSeconds - o.mnist.trainSeconds).toFixed(0)} s`,
    );
  if (adapter)
    out.push(
      `Obstacles met: no GPU; every run here is on ${adapter}, a software adapter, so times are CPU times and speed is reported as ratios against PyTorch on the same cores (bench/README.md). ` +
        `${times.length > 0 ? `Times: ${times.join('; ')}.` : ''}`,
      '',
    );
  return out;
}

/** The last page: what a reader should doubt, from the numbers. */
function limitationsSection(o: StudyOutputs): string[] {
  const out = ['## Known limitations', ''];
  if (o.sweep) {
    const gaps = o.sweep.models.map((m) => [m.T, m.exactScoreSampler.meanLogDensity - m.metrics.meanLogDensity]);
    const short = gaps.reduce((a, b) => (b[1] > a[1] ? b : a));
    const over = gaps.reduce((a, b) => (b[1] < a[1] ? b : a));
    out.push(
      (short[1] > 0
        ? `- The learned two-pixel models fall short of the exact-score sampler by up to ${short[1].toFixed(2)} in mean log-density (at T = ${short[0]}): ` +
          'part of what the sweep shows is learning error, not the effect of T.'
        : '- No learned two-pixel model falls short of the exact-score sampler in mean log-density.') +
        (over[1] < 0
          ? ` At T = ${over[0]} the learned model scores ${(-over[1]).toFixed(2)} higher than it: its errors offset the sampler's there, so the two cannot be told apart.`
          : ''),
    );
  }
  if (o.mnist) {
    const worst = digitsAt(o.mnist.accuracyPerDigit, Math.min);
    out.push(
      `- MNIST is scored by the engine's own classifier on ${o.mnist.settings['eval-samples']} samples: ` +
        `${worst.length > 1 ? 'the digits it reads worst are' : 'the digit it reads worst is'} ${worst} ` +
        `(${pct(Math.min(...o.mnist.accuracyPerDigit))}), and the Frechet distance's floor at that n is ${o.mnist.frechetFloor.toFixed(1)}, so differences smaller than that are noise.`,
    );
    out.push(
      `- The emergence answer rests on one tolerance (${o.mnist.emergence.tolerance} of the pixel range) and ${o.mnist.emergence.samples} chains of one model.`,
    );
  }
  out.push("- Nothing here ran on a GPU: the engine's hardware path is tested only where a session was lent one.");
  return out;
}

/** The report as Markdown. `generated` names when and from where, in the header. */
export function buildReport(o: StudyOutputs, figures: Figures, generated: string): string {
  return composeReport(o, figures, generated).markdown;
}

/** The report and the number of its targets not met. */
export function composeReport(
  o: StudyOutputs,
  figures: Figures,
  generated: string,
  quick = false,
): { markdown: string; unmet: number } {
  if (!o.sweep && !o.trajectory && !o.guidance && !o.classifier && !o.mnist) {
    throw new Error(
      'no runner output to report on: run node runners/sweep-T.js (and trajectory.js, guidance.js) first',
    );
  }
  const verdicts: string[][] = [];
  const sections: string[][] = [];
  const missing: string[] = [];
  // The assignment's order: the trajectory, the sweep over T, guidance, MNIST.
  if (o.trajectory) sections.push(trajectorySection(o.trajectory, figures.trajectory));
  else missing.push('`node runners/trajectory.js` (one trajectory)');
  if (o.sweep) sections.push(sweepSection(o.sweep, figures.sweep, verdicts));
  else missing.push('`node runners/sweep-T.js` (the sweep over T)');
  if (o.guidance || o.classifier)
    sections.push(
      guidanceSection(o.guidance, o.classifier, { cfg: figures.guidance, classifier: figures.classifier }, verdicts),
    );
  if (!o.guidance) missing.push('`node runners/guidance.js` (classifier-free guidance)');
  if (!o.classifier) missing.push('`node runners/guidance.js --mode classifier` (classifier guidance)');
  if (o.mnist) sections.push(mnistSection(o.mnist, figures, verdicts));
  else missing.push('`node runners/train-mnist.js` (MNIST)');
  const twoPixel = (o.sweep ?? o.trajectory ?? o.guidance ?? o.classifier)?.settings;
  // A quick report says so under every page's heading.
  const mark = (page: string[]) =>
    quick && page[0]?.startsWith('## ')
      ? [page[0], '', "*Quick run: short trainings for a first look, not the study's results.*", ...page.slice(1)]
      : page;
  const lines = [
    '# Diffusion on two-pixel images and MNIST: what the study measured',
    '',
    `${generated}. Every number is read from the runners' \`metrics.json\`; rerun them and \`node runners/report.js\` to reproduce it.`,
    '',
    ...mark(modelSection(o, twoPixel)),
  ];
  if (verdicts.length > 0)
    lines.push(
      '### Targets',
      '',
      '| target | measured | |',
      '| --- | --- | --- |',
      ...verdicts.map((v) => `| ${v.join(' | ')} |`),
      '',
    );
  if (missing.length > 0)
    lines.push(`Not in this report, because their outputs are missing: ${missing.join('; ')}.`, '');
  for (const s of sections) lines.push(...mark(s), '');
  lines.push(...mark(limitationsSection(o)), '');
  return { markdown: lines.join('\n'), unmet: verdicts.filter((v) => v[2] !== 'met').length };
}

export function reportMain(argv?: readonly string[]): Promise<void> {
  return runCommand(
    'report.js',
    "Writes the study's report (Markdown) from the runners' outputs: figures, measured numbers and the targets.",
    { ...REPORT_FLAGS, seed: COMMON_FLAGS.seed },
    async (flags) => {
      const f = { ...flags, in: flags.in || (flags.quick ? 'out/quick' : 'out') };
      if (f['no-run'] && !existsSync(f.in))
        throw new Error(`--in ${f.in}: no such folder (the runners write to out/ by default)`);
      if (existsSync(f.in) && !statSync(f.in).isDirectory())
        throw new Error(`--in ${f.in}: is a file, expected the folder the runners wrote to (out/ by default)`);
      const outDir = f.out || join(f.in, 'report');
      const path = join(outDir, 'report.md');
      const dirs = {
        sweep: 'sweep-T',
        trajectory: 'trajectory',
        guidance: 'guidance',
        classifier: 'guidance-classifier',
        mnist: 'mnist',
      } as const;
      const read = (): StudyOutputs => ({
        sweep: readMetrics(join(f.in, dirs.sweep), 'sweep-T'),
        trajectory: readMetrics(join(f.in, dirs.trajectory), 'trajectory'),
        guidance: readMetrics(join(f.in, dirs.guidance), 'guidance'),
        classifier: readMetrics(join(f.in, dirs.classifier), 'guidance'),
        mnist: readMetrics(join(f.in, dirs.mnist), 'train-mnist'),
      });
      let outputs = read();
      const failedRuns: string[] = [];
      if (!f['no-run']) {
        ensureFolder(f.in, '--in');
        const models = ['--models', join(f.in, 'models'), '--seed', String(f.seed)];
        const q = (quick: string[]) => (f.quick ? quick : []);
        const parts: [keyof StudyOutputs, string, (argv: string[]) => Promise<void>, string[]][] = [
          ['trajectory', 'trajectory.js', trajectoryMain, q(['--steps', '400', '--starts', '1000'])],
          ['sweep', 'sweep-T.js', sweepMain, q(['--steps', '400', '--samples', '1000'])],
          ['guidance', 'guidance.js', guidanceMain, q(['--steps', '400', '--samples', '1000'])],
          [
            'classifier',
            'guidance.js --mode classifier',
            (argv) => guidanceMain(['--mode', 'classifier', ...argv]),
            q(['--steps', '400', '--samples', '1000', '--classifier-steps', '300']),
          ],
          [
            'mnist',
            'train-mnist.js',
            mnistMain,
            q([
              '--steps',
              '300',
              '--channels',
              '8,8,16,16',
              '--groups',
              '4',
              '--embed',
              '16',
              '--eval-samples',
              '50',
              '--sample-steps',
              '20',
            ]),
          ],
        ];
        for (const [key, name, main, extra] of parts) {
          if (outputs[key]) continue;
          process.stderr.write(`report: running node runners/${name}${f.quick ? ' (quick)' : ''}\n`);
          const saved = process.exitCode;
          process.exitCode = undefined;
          await main([...extra, ...models, '--out', join(f.in, dirs[key])]);
          if (process.exitCode) failedRuns.push(`\`node runners/${name}\` (it failed: see its error above)`);
          process.exitCode = saved;
        }
        outputs = read();
      }
      const figure = (dir: string, file: string) => {
        const png = join(f.in, dir, file);
        return existsSync(png) ? relative(dirname(path), png) : null;
      };
      const figures: Figures = {
        sweep: figure(dirs.sweep, 'sweep-T.png'),
        trajectory: figure(dirs.trajectory, 'trajectory.png'),
        guidance: figure(dirs.guidance, 'guidance.png'),
        classifier: figure(dirs.classifier, 'guidance.png'),
        mnistDigits: figure(dirs.mnist, 'digits.png'),
        mnistTrajectory: figure(dirs.mnist, 'trajectory.png'),
        mnistEmergence: figure(dirs.mnist, 'emergence.png'),
      };
      const { markdown, unmet: failed } = composeReport(
        outputs,
        figures,
        `Generated ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC from ${f.in}` +
          (failedRuns.length > 0 ? `; could not run ${failedRuns.join(', ')}` : ''),
        f.quick,
      );
      // The HTML first (its figures must all be readable), then the files, then the PDF.
      ensureFolder(outDir, '--out');
      const title = 'Diffusion on two-pixel images and MNIST: what the study measured';
      const html = reportHtml(markdown, outDir, title);
      writeFileAtomic(path, markdown);
      writeFileAtomic(join(outDir, 'report.html'), html);
      if (!f['no-pdf']) await printPdf(html, join(outDir, 'report.pdf'));
      const files = ['report.md', 'report.html', ...(f['no-pdf'] ? [] : ['report.pdf'])].join(', ');
      process.stdout.write(
        `wrote ${files} in ${outDir}${failed > 0 ? ` (${failed} target${failed > 1 ? 's' : ''} not met)` : ''}\n`,
      );
    },
    argv,
  );
}
