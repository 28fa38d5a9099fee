// What each runner writes to its metrics.json, as one set of types: the runners build these
// objects and the report reads them back through readMetrics, which checks the fields it relies
// on, so a file from another version of a runner is refused by name rather than misreported.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SampleMetrics } from '../diffusion/metrics.js';
import type { MnistMetrics } from './mnist.js';

export type { MnistMetrics } from './mnist.js';

/** One model of the sweep over T. */
export interface SweepModel {
  T: number;
  checkpoint: string;
  trained: boolean;
  trainSeconds: number;
  /** null in the JSON when the model was reused, not trained (NaN here). */
  finalLoss: number | null;
  sampleSeconds: number;
  /** RMS per coordinate of eps_theta - eps* on the same x_t, for t = 1..T. */
  epsErrorByT: number[];
  metrics: SampleMetrics;
  exactScoreSampler: SampleMetrics;
}

export interface SweepMetrics {
  runner: 'sweep-T';
  adapter: string;
  settings: Record<string, unknown>;
  models: SweepModel[];
}

/** The learned density p_theta(x_t) at one t of the trajectory figure, and where the trajectory is. */
export interface TrajectoryStep {
  t: number;
  /** Total-variation distance of the KDE of x_t from the data's (the mixture smoothed alike). */
  fromData: number;
  /** The same from N(0, I)'s. */
  fromNoise: number;
  /** The drawn trajectory at this t. */
  point: [number, number];
}

/** What every two-pixel runner but the sweep records of its model and its time. */
interface RunTimes {
  checkpoint: string;
  trained: boolean;
  /** Training time of the model (0 when a checkpoint was reused). */
  trainSeconds: number;
  /** The whole run: training, sampling, measuring, figures. */
  seconds: number;
}

export interface TrajectoryMetrics extends RunTimes {
  runner: 'trajectory';
  adapter: string;
  settings: Record<string, unknown>;
  start: [number, number];
  end: [number, number];
  /** Each density panel's t, from T down, and t = 0. */
  densities: TrajectoryStep[];
  /** The distance of a KDE of as many true samples from the data's: what sampling noise alone gives. */
  distanceFloor: number;
  /** The same for N(0, I): a KDE of as many standard normal draws, from N(0, I)'s. */
  noiseFloor: number;
}

export interface GuidanceLabel {
  label: number;
  /** Share of the label's samples nearest its own peak. */
  inMode: number;
  /** Mean and per-axis std of the samples in that mode (absent when none landed there). */
  mean?: [number, number];
  std?: [number, number];
}

export interface GuidanceStrength {
  guidance: 'cfg' | 'classifier';
  w: number;
  labels: GuidanceLabel[];
}

export interface GuidanceMetrics extends RunTimes {
  runner: 'guidance';
  mode: 'cfg' | 'classifier';
  adapter: string;
  settings: Record<string, unknown>;
  strengths: GuidanceStrength[];
}

export interface RunnerMetrics {
  'sweep-T': SweepMetrics;
  trajectory: TrajectoryMetrics;
  guidance: GuidanceMetrics;
  'train-mnist': MnistMetrics;
}

/** The fields each runner's file must hold (dotted; `[]` for every element of an array) and their types. */
const REQUIRED: { [R in keyof RunnerMetrics]: [string, 'number' | 'string' | 'array' | 'object'][] } = {
  'sweep-T': [
    ['settings', 'object'],
    ['models', 'array'],
    ['models[].T', 'number'],
    ['models[].epsErrorByT', 'array'],
    ['models[].metrics.meanLogDensity', 'number'],
    ['models[].metrics.modes', 'array'],
    ['models[].exactScoreSampler.meanLogDensity', 'number'],
  ],
  trajectory: [
    ['settings', 'object'],
    ['start', 'array'],
    ['end', 'array'],
    ['densities', 'array'],
    ['densities[].t', 'number'],
    ['densities[].fromData', 'number'],
    ['densities[].fromNoise', 'number'],
    ['distanceFloor', 'number'],
    ['noiseFloor', 'number'],
  ],
  guidance: [
    ['mode', 'string'],
    ['settings', 'object'],
    ['strengths', 'array'],
    ['strengths[].w', 'number'],
    ['strengths[].labels', 'array'],
    ['strengths[].labels[].inMode', 'number'],
  ],
  'train-mnist': [
    ['settings', 'object'],
    ['accuracy', 'number'],
    ['accuracyPerDigit', 'array'],
    ['frechetDistance', 'number'],
    ['frechetFloor', 'number'],
    ['emergence', 'object'],
    ['emergence.ratio', 'number'],
  ],
};

const kindOf = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

/** The values at a dotted path, `[]` fanning out over arrays; each with the concrete path. */
function valuesAt(root: unknown, path: string): [string, unknown][] {
  let at: [string, unknown][] = [['', root]];
  for (const part of path.split('.')) {
    const name = part.replace('[]', '');
    at = at.map(([p, v]) => [p ? `${p}.${name}` : name, (v as Record<string, unknown> | null)?.[name]]);
    if (part.endsWith('[]'))
      at = at.flatMap(([p, v]) =>
        Array.isArray(v) ? v.map((e, i): [string, unknown] => [`${p}[${i}]`, e]) : [[p, v]],
      );
  }
  return at;
}

/**
 * The metrics.json in `dir` written by `runner`, or null when there is none. Throws, naming the
 * file and the field, when it is not JSON, is another runner's, or lacks a field the report reads.
 */
export function readMetrics<R extends keyof RunnerMetrics>(dir: string, runner: R): RunnerMetrics[R] | null {
  const path = join(dir, 'metrics.json');
  if (!existsSync(path)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path} is not readable JSON (${(err as Error).message}); rerun node runners/${runner}.js`);
  }
  const written = (parsed as { runner?: unknown } | null)?.runner;
  if (written !== runner)
    throw new Error(`${path} was written by ${JSON.stringify(written)}, expected the ${runner} runner`);
  for (const [field, type] of REQUIRED[runner]) {
    for (const [at, v] of valuesAt(parsed, field)) {
      if (kindOf(v) !== type)
        throw new Error(
          `${path}: ${at} is ${v === undefined ? 'missing' : kindOf(v)}, expected ${type === 'array' ? 'an array' : `a ${type}`}; rerun node runners/${runner}.js`,
        );
    }
  }
  return parsed as RunnerMetrics[R];
}
