// SPEC section 6.2: models trained with T = 5, 10, 25, 50; 5000 noises denoised by each (no
// label, no guidance); a 4x2 figure (samples over the true PDF | density estimated from them),
// the samples as CSV, and the measured fidelity beside the exact-score sampler's.
import { join } from 'node:path';
import { runMain, COMMON_FLAGS } from '../cli/main.js';
import type { FlagSpec } from '../cli/flags.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeCsvAtomic } from '../io/csv.js';
import { epsErrorByT, sampleFused } from '../diffusion/twopixel.js';
import { sampleOracle } from '../diffusion/oracle.js';
import type { VarianceKind } from '../diffusion/schedule.js';
import { formatMetricsTable, sampleMetrics, type SampleMetrics } from '../diffusion/metrics.js';
import { mixturePdf } from '../data/mixture.js';
import { gridFromFunction, kde2d, writeFigure, type Panel, type Range } from '../viz/index.js';
import { modelConfig, obtainModel, type StudySettings } from './models.js';
import { STUDY_FLAGS, studySettings, samplerOptions } from './flags.js';
import type { SweepMetrics, SweepModel } from './schema.js';

/** Where the outputs go without --out. */
const DEFAULT_OUT = 'out/sweep-T';
const RANGE: Range = [-1.5, 1.5];

export const SWEEP_FLAGS = {
  T: { type: 'ints', default: [5, 10, 25, 50], min: 1, max: 1000, help: 'max steps of the models to train' },
  samples: { type: 'int', default: 5000, min: 1, max: 1_000_000, help: 'noises denoised by each model' },
  ...STUDY_FLAGS,
  ...COMMON_FLAGS,
} as const satisfies Record<string, FlagSpec>;

/** Noised data points per t on which the learned eps is compared with the exact eps. */
const EPS_ERROR_POINTS = 2048;

/**
 * The learning error per step, one line per T: the RMS of eps_theta - eps* (per coordinate, on the
 * same x_t; 0 for a perfect model), its mean over t, its largest value and where, then every t
 * from t = 1 up.
 */
export function formatEpsErrors(rows: { T: number; epsError: number[] }[]): string {
  const lines = ['learned eps against the exact eps on the same x_t: RMS error per coordinate, by step t'];
  for (const { T, epsError: e } of rows) {
    const mean = e.reduce((a, b) => a + b, 0) / e.length;
    const worst = e.indexOf(Math.max(...e));
    const head = `T=${T}`.padEnd(5);
    lines.push(`${head}  mean ${mean.toFixed(4)}  max ${e[worst].toFixed(4)} at t=${worst + 1}`);
    for (let i = 0; i < e.length; i += 10) {
      const cells = e.slice(i, i + 10).map((v) => v.toFixed(4));
      lines.push(`       t=${String(i + 1).padEnd(3)} ${cells.join(' ')}`);
    }
  }
  return lines.join('\n');
}

export function sweepMain(argv?: readonly string[]): Promise<void> {
  return runMain(
    'sweep-T.js',
    'Trains two-pixel DDPMs for several T and compares their samples with the true mixture.',
    SWEEP_FLAGS,
    async (f, gpu) => {
      const out = f.out || DEFAULT_OUT;
      const truePdf = gridFromFunction(mixturePdf, RANGE, 120);
      const panels: Panel[] = [];
      const rows: { name: string; metrics: SampleMetrics }[] = [];
      const epsRows: { T: number; epsError: number[] }[] = [];
      const results: SweepModel[] = [];
      for (const T of f.T) {
        const settings: StudySettings = studySettings(f, T);
        const model = await obtainModel(gpu.device, settings, f.models, f.retrain, f['checkpoint-every']);
        try {
          // the Gamma tables (the model's and the exact score's it is measured against), outside the timing
          const { exactGamma, ...sampler } = await samplerOptions(f, gpu.device, model.store, T);
          const t0 = performance.now();
          const { samples } = await sampleFused(gpu.device, model.store, {
            model: modelConfig(settings),
            schedule: 'cosine',
            n: f.samples,
            labels: null,
            guidance: null,
            seed: f.seed,
            record: 0,
            ...sampler,
          });
          const sampleSeconds = (performance.now() - t0) / 1000;
          const epsError = Array.from(
            await epsErrorByT(gpu.device, model.store, {
              model: modelConfig(settings),
              schedule: 'cosine',
              n: EPS_ERROR_POINTS,
              seed: f.seed + 2,
            }),
          ).slice(1);
          epsRows.push({ T, epsError });
          const csv = Array.from({ length: f.samples }, (_, i) => [samples[2 * i], samples[2 * i + 1]]);
          writeCsvAtomic(join(out, `samples-T${T}.csv`), ['left', 'right'], csv);
          const metrics = sampleMetrics(samples, f.seed + 1);
          const oracle = sampleMetrics(
            // the same x_T, per-step noise and x_0 clip as the learned model's sampler above
            sampleOracle(f.samples, T, 'cosine', f.variance as VarianceKind, f.seed, exactGamma, { clip: f.clip }),
            f.seed + 1,
          );
          rows.push({ name: `T=${T}`, metrics }, { name: `T=${T} exact eps`, metrics: oracle });
          results.push({
            T,
            checkpoint: model.path,
            trained: model.trained,
            trainSeconds: model.trainSeconds,
            finalLoss: model.finalLoss,
            sampleSeconds,
            epsErrorByT: epsError,
            metrics,
            exactScoreSampler: oracle,
          });
          const xs = samples.filter((_, i) => i % 2 === 0);
          const ys = samples.filter((_, i) => i % 2 === 1);
          panels.push(
            {
              title: `T = ${T}: ${f.samples} samples over the true PDF`,
              density: truePdf,
              points: { x: xs, y: ys, radius: 1 },
            },
            {
              title: `T = ${T}: density of the samples (KDE)`,
              density: kde2d(xs, ys, RANGE, 120, 0.05),
              contours: truePdf,
            },
          );
          process.stderr.write(`T=${T}: sampled ${f.samples} in ${sampleSeconds.toFixed(2)} s\n`);
        } finally {
          model.release();
        }
      }
      await writeFigure(join(out, 'sweep-T.png'), panels, {
        title: `Two-pixel DDPM: samples for T = ${f.T.join(', ')} (no label, no guidance)`,
        columns: 2,
        range: RANGE,
      });
      const report: SweepMetrics = {
        runner: 'sweep-T',
        adapter: gpu.adapterName,
        settings: { ...f, out },
        models: results,
      };
      writeFileAtomic(join(out, 'metrics.json'), `${JSON.stringify(report, null, 2)}\n`);
      process.stdout.write(
        `${formatMetricsTable(rows)}\n\n${formatEpsErrors(epsRows)}\n\nwrote ${join(out, 'sweep-T.png')}, samples-T*.csv, metrics.json in ${out}\n`,
      );
    },
    argv,
    { folders: (f) => ({ out: f.out || DEFAULT_OUT, models: f.models }) },
  );
}
