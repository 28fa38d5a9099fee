// SPEC section 6.1: T = 50; one reverse trajectory drawn over the learned densities p_theta(x_t)
// at t = 50, 40, 30, 20, 10 (estimated from many trajectories at step t) and over the true PDF.
import { join } from 'node:path';
import { runMain, COMMON_FLAGS } from '../cli/main.js';
import type { FlagSpec } from '../cli/flags.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeCsvAtomic } from '../io/csv.js';
import { sampleFused } from '../diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../models/twopixel/unet.js';
import { MIXTURE, mixturePdf, sampleMixture } from '../data/mixture.js';
import { gridFromFunction, kde2d, totalVariation, writeFigure, type Panel, type Range } from '../viz/index.js';
import type { TrajectoryMetrics, TrajectoryStep } from './schema.js';
import { PhiloxStream, toNormalPair } from '../core/philox.js';
import { obtainModel } from './models.js';
import { STUDY_FLAGS, studySettings, samplerOptions } from './flags.js';

/** Where the outputs go without --out. */
const DEFAULT_OUT = 'out/trajectory';
const RANGE: Range = [-3, 3];
/** The density panels' grid and kernel width. */
const CELLS = 100;
const BANDWIDTH = 0.08;

/** An isotropic Gaussian's density with variance `v` at (dx, dy) from its mean. */
const gauss = (dx: number, dy: number, v: number) => Math.exp(-(dx * dx + dy * dy) / (2 * v)) / (2 * Math.PI * v);
/**
 * What a KDE of many samples of the data, and of N(0, I), converges to: each density convolved
 * with the kernel, so a distance to them measures the samples, not the smoothing.
 */
const SMOOTHED_DATA = gridFromFunction(
  (x, y) =>
    MIXTURE.components.reduce(
      (p, c) => p + c.weight * gauss(x - c.mean[0], y - c.mean[1], MIXTURE.sigma ** 2 + BANDWIDTH ** 2),
      0,
    ),
  RANGE,
  CELLS,
);
const SMOOTHED_NOISE = gridFromFunction((x, y) => gauss(x, y, 1 + BANDWIDTH ** 2), RANGE, CELLS);

export const TRAJECTORY_FLAGS = {
  T: { type: 'int', default: 50, min: 1, max: 1000, help: 'max step of the model' },
  starts: { type: 'int', default: 4000, min: 10, max: 200_000, help: 'trajectories behind each density estimate' },
  every: { type: 'int', default: 10, min: 1, max: 1000, help: 'a density panel every this many steps' },
  ...STUDY_FLAGS,
  ...COMMON_FLAGS,
} as const satisfies Record<string, FlagSpec>;

export function trajectoryMain(argv?: readonly string[]): Promise<void> {
  return runMain(
    'trajectory.js',
    'Draws one reverse trajectory over the learned densities p_theta(x_t) and the true PDF.',
    TRAJECTORY_FLAGS,
    async (f, gpu) => {
      const started = performance.now();
      const out = f.out || DEFAULT_OUT;
      const T = f.T;
      const model = await obtainModel(gpu.device, studySettings(f, T), f.models, f.retrain, f['checkpoint-every']);
      let result: Awaited<ReturnType<typeof sampleFused>>;
      try {
        result = await sampleFused(gpu.device, model.store, {
          model: defaultTwoPixelConfig(T),
          schedule: 'cosine',
          n: f.starts,
          labels: null,
          guidance: null,
          seed: f.seed,
          record: f.starts,
          ...(await samplerOptions(f, gpu.device, model.store, T)),
        });
      } finally {
        model.release();
      }
      const n = f.starts;
      // Row s of the recording holds x_{T - s}; sample 0 is the trajectory drawn.
      const at = (t: number) => result.trajectory.subarray((T - t) * n * 2, (T - t + 1) * n * 2);
      const path = { x: [] as number[], y: [] as number[] };
      const csv: number[][] = [];
      for (let t = T; t >= 0; t--) {
        const row = at(t);
        path.x.push(row[0]);
        path.y.push(row[1]);
        csv.push([t, row[0], row[1]]);
      }
      const panels: Panel[] = [];
      const densities: TrajectoryStep[] = [];
      const kdeAt = (t: number) => {
        const row = at(t);
        const density = kde2d(
          row.filter((_, i) => i % 2 === 0),
          row.filter((_, i) => i % 2 === 1),
          RANGE,
          CELLS,
          BANDWIDTH,
        );
        densities.push({
          t,
          fromData: totalVariation(density, SMOOTHED_DATA),
          fromNoise: totalVariation(density, SMOOTHED_NOISE),
          point: [row[0], row[1]],
        });
        return density;
      };
      for (let t = T; t >= 1; t -= f.every) {
        const upTo = T - t + 1;
        panels.push({
          title: `p_theta(x_t), t = ${t} (KDE of ${n} trajectories)`,
          density: kdeAt(t),
          paths: [
            { x: path.x.slice(0, upTo), y: path.y.slice(0, upTo), color: '#d62728', label: `trajectory to t = ${t}` },
          ],
        });
      }
      panels.push({
        title: 'true PDF p(x_0) and the whole trajectory',
        density: gridFromFunction(mixturePdf, RANGE, 150),
        paths: [{ x: path.x, y: path.y, color: '#d62728', label: `x_${T} to x_0` }],
      });
      kdeAt(0);
      // What sampling noise alone gives: KDEs of as many draws of the data and of N(0, I).
      const floor = (xy: ArrayLike<number>, reference: typeof SMOOTHED_DATA) =>
        totalVariation(
          kde2d(
            Array.from({ length: n }, (_, i) => xy[2 * i]),
            Array.from({ length: n }, (_, i) => xy[2 * i + 1]),
            RANGE,
            CELLS,
            BANDWIDTH,
          ),
          reference,
        );
      const rng = new PhiloxStream(f.seed + 1, 1);
      const noise = Array.from({ length: n }, () => toNormalPair(rng.u32(), rng.u32())).flat();
      const distanceFloor = floor(sampleMixture(n, f.seed + 1).xy, SMOOTHED_DATA);
      const noiseFloor = floor(noise, SMOOTHED_NOISE);
      writeCsvAtomic(join(out, 'trajectory.csv'), ['t', 'left', 'right'], csv);
      await writeFigure(join(out, 'trajectory.png'), panels, {
        title: `One reverse trajectory over the learned densities (T = ${T})`,
        columns: 3,
        range: RANGE,
      });
      const end = csv[csv.length - 1];
      const report: TrajectoryMetrics = {
        runner: 'trajectory',
        adapter: gpu.adapterName,
        settings: { ...f, out },
        checkpoint: model.path,
        trained: model.trained,
        trainSeconds: model.trainSeconds,
        seconds: (performance.now() - started) / 1000,
        start: [csv[0][1], csv[0][2]],
        end: [end[1], end[2]],
        densities,
        distanceFloor,
        noiseFloor,
      };
      writeFileAtomic(join(out, 'metrics.json'), `${JSON.stringify(report, null, 2)}\n`);
      process.stdout.write(
        `trajectory from (${csv[0][1].toFixed(3)}, ${csv[0][2].toFixed(3)}) at t = ${T} to (${end[1].toFixed(3)}, ${end[2].toFixed(3)}) at t = 0\n` +
          `total-variation distance of p_theta(x_t) from the data / from N(0, I) (KDEs of ${n} true samples and of ${n} N(0, I) draws: ${distanceFloor.toFixed(3)} and ${noiseFloor.toFixed(3)}):\n` +
          densities
            .map((d) => `  t = ${String(d.t).padEnd(4)} ${d.fromData.toFixed(3)} / ${d.fromNoise.toFixed(3)}`)
            .join('\n') +
          `\nwrote trajectory.png, trajectory.csv, metrics.json in ${out}\n`,
      );
    },
    argv,
    { folders: (f) => ({ out: f.out || DEFAULT_OUT, models: f.models }) },
  );
}
