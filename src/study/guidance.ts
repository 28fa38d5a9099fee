// SPEC section 6.3: one starting noise x_T denoised with y = 0 and with y = 1 under classifier-
// free guidance, with the same per-step noise, so only the label differs; both trajectories over
// the true PDF; and 5000 samples per label to measure how many land in their label's mode.
import { join } from 'node:path';
import { runMain, COMMON_FLAGS } from '../cli/main.js';
import type { FlagSpec } from '../cli/flags.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeCsvAtomic } from '../io/csv.js';
import { sampleFused } from '../diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../models/twopixel/unet.js';
import { mixturePdf, MIXTURE } from '../data/mixture.js';
import { labelAccuracy, modeStats } from '../diffusion/metrics.js';
import { gridFromFunction, writeFigure, type Range } from '../viz/index.js';
import { obtainClassifier, obtainModel } from './models.js';
import { sampleClassifierGuided } from '../diffusion/classifier.js';
import { STUDY_FLAGS, studySettings, samplerOptions } from './flags.js';
import type { GuidanceLabel, GuidanceMetrics, GuidanceStrength } from './schema.js';

const RANGE: Range = [-3, 3];
const COLORS = ['#2ca02c', '#d62728'];

export const GUIDANCE_FLAGS = {
  T: { type: 'int', default: 50, min: 1, max: 1000, help: 'max step of the model' },
  w: {
    type: 'float',
    default: 1,
    min: 0,
    max: 100,
    help: 'guidance strength (w for cfg, the scale s for classifier guidance)',
  },
  strengths: {
    type: 'floats',
    default: [0, 0.5, 2, 5],
    min: 0,
    max: 100,
    help: 'strengths also measured (share in the right mode)',
  },
  samples: { type: 'int', default: 5000, min: 1, max: 1_000_000, help: 'samples drawn per label' },
  mode: {
    type: 'string',
    default: 'cfg',
    choices: ['cfg', 'classifier'],
    help: 'guidance: classifier-free (cfg), or a classifier on noised samples (also measures cfg beside it)',
  },
  'classifier-steps': {
    type: 'int',
    default: 1500,
    min: 1,
    max: 10_000_000,
    multipleOf: 100,
    help: 'training steps of the classifier (mode classifier)',
  },
  ...STUDY_FLAGS,
  ...COMMON_FLAGS,
} as const satisfies Record<string, FlagSpec>;

const outFolder = (f: { out: string; mode: string }) =>
  f.out || (f.mode === 'classifier' ? 'out/guidance-classifier' : 'out/guidance');

export function guidanceMain(argv?: readonly string[]): Promise<void> {
  return runMain(
    'guidance.js',
    'One noise denoised toward each label with guidance (classifier-free or classifier), and the share of guided samples in their mode.',
    GUIDANCE_FLAGS,
    async (f, gpu) => {
      const started = performance.now();
      const strengths = f.strengths;
      const out = outFolder(f);
      const T = f.T;
      const model = await obtainModel(gpu.device, studySettings(f, T), f.models, f.retrain, f['checkpoint-every']);
      const classifier =
        f.mode === 'classifier'
          ? await obtainClassifier(gpu.device, T, f['classifier-steps'], f.seed, f.models, f.retrain)
          : null;
      const config = defaultTwoPixelConfig(T);
      const { clip, variance, gamma } = await samplerOptions(f, gpu.device, model.store, T);
      const sampleWith = (kind: string, n: number, label: number, w: number, record: number) =>
        kind === 'classifier'
          ? sampleClassifierGuided(gpu.device, model.store, classifier!.store, {
              model: config,
              n,
              labels: label,
              scale: w,
              seed: f.seed,
              record,
              variance,
              gamma,
              clip,
            })
          : sampleFused(gpu.device, model.store, {
              model: config,
              schedule: 'cosine',
              n,
              labels: label,
              guidance: w,
              seed: f.seed,
              record,
              clip,
              variance,
              gamma,
            });
      const kinds: GuidanceStrength['guidance'][] = f.mode === 'classifier' ? ['classifier', 'cfg'] : ['cfg'];
      const sample = (n: number, label: number, w: number, record: number) => sampleWith(f.mode, n, label, w, record);
      const trajectories: number[][] = [];
      const paths = [];
      const measured: GuidanceStrength[] = [];
      let guided: number[][] = [];
      try {
        for (const y of [0, 1]) {
          const r = await sample(1, y, f.w, 1);
          const xs: number[] = [],
            ys: number[] = [];
          for (let s = 0; s <= T; s++) {
            trajectories.push([y, T - s, r.trajectory[2 * s], r.trajectory[2 * s + 1]]);
            xs.push(r.trajectory[2 * s]);
            ys.push(r.trajectory[2 * s + 1]);
          }
          paths.push({ x: xs, y: ys, color: COLORS[y], label: `y = ${y}` });
        }
        for (const kind of kinds) {
          for (const w of [...new Set([f.w, ...strengths])].sort((a, b) => a - b)) {
            const perLabel: GuidanceLabel[] = [];
            for (const y of [0, 1]) {
              const { samples } = await sampleWith(kind, f.samples, y, w, 0);
              const modes = modeStats(samples).find((m) => m.label === y);
              perLabel.push({ label: y, inMode: labelAccuracy(samples, y), mean: modes?.mean, std: modes?.std });
              if (w === f.w && kind === f.mode)
                guided = guided.concat(
                  Array.from({ length: f.samples }, (_, i) => [y, samples[2 * i], samples[2 * i + 1]]),
                );
            }
            measured.push({ guidance: kind, w, labels: perLabel });
          }
        }
      } finally {
        model.release();
        classifier?.release();
      }
      writeCsvAtomic(join(out, 'trajectories.csv'), ['y', 't', 'left', 'right'], trajectories);
      writeCsvAtomic(join(out, 'samples-guided.csv'), ['y', 'left', 'right'], guided);
      const markers = MIXTURE.components.map((c) => ({ x: c.mean[0], y: c.mean[1], label: `class ${c.label}` }));
      await writeFigure(
        join(out, 'guidance.png'),
        [
          {
            title: `same x_T and noise, y = 0 vs y = 1 (${f.mode === 'cfg' ? 'classifier-free' : 'classifier'} guidance, ${f.mode === 'cfg' ? 'w' : 's'} = ${f.w})`,
            density: gridFromFunction(mixturePdf, RANGE, 150),
            paths,
            markers,
          },
        ],
        {
          title: `${f.mode === 'cfg' ? 'Classifier-free guidance' : 'Classifier guidance'} on the two-pixel model`,
          columns: 1,
          range: RANGE,
          panelSize: 480,
        },
      );
      const report: GuidanceMetrics = {
        runner: 'guidance',
        mode: f.mode as GuidanceMetrics['mode'],
        adapter: gpu.adapterName,
        settings: { ...f, out },
        checkpoint: model.path,
        trained: model.trained,
        trainSeconds: model.trainSeconds,
        seconds: (performance.now() - started) / 1000,
        strengths: measured,
      };
      writeFileAtomic(join(out, 'metrics.json'), `${JSON.stringify(report, null, 2)}\n`);
      const lines = measured.map(
        (m) =>
          `  ${m.guidance.padEnd(10)} w = ${String(m.w).padEnd(5)} ${m.labels.map((l) => `y=${l.label}: ${(100 * l.inMode).toFixed(2)}% in its mode`).join(', ')}`,
      );
      process.stdout.write(
        `share of guided samples landing in their label's mode (${f.samples} per label):\n${lines.join('\n')}\nwrote guidance.png, trajectories.csv, samples-guided.csv, metrics.json in ${out}\n`,
      );
    },
    argv,
    { folders: (f) => ({ out: outFolder(f), models: f.models }) },
  );
}
