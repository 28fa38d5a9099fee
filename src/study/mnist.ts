// SPEC section 6.4: the MNIST UNet trained on the device, a 10x10 grid of generated digits (one
// row per digit, classifier-free guidance) and one trajectory at t = T, 7T/8, ..., 0; measured by
// how often a generated digit's nearest MNIST test image carries the label it was drawn with.
import { join } from 'node:path';
import { runMain, COMMON_FLAGS } from '../cli/main.js';
import { UsageError, type FlagSpec } from '../cli/flags.js';
import { Progress } from '../cli/progress.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadMnist, MNIST_CLASSES, MNIST_SIDE, type MnistSet } from '../data/mnist.js';
import { defaultMnistConfig, type MnistUNetConfig } from '../models/mnist/unet.js';
import { createMnistTrainer, defaultMnistTrainOptions, sampleMnist } from '../diffusion/mnist.js';
import { renderImageGrid } from '../viz/index.js';
import { obtainTrained } from './models.js';

export const MNIST_FLAGS = {
  steps: {
    type: 'int',
    default: 10000,
    min: 1,
    max: 10_000_000,
    help: 'training steps (about 6 s each at batch 64 on a 2-core CPU driver; --channels makes a smaller model)',
  },
  batch: { type: 'int', default: 64, min: 1, max: 4096, help: 'training batch' },
  lr: {
    type: 'float',
    default: 2e-4,
    min: 0,
    exclusiveMin: true,
    max: 1,
    help: "Adam's learning rate (cosine decay to 0)",
  },
  T: { type: 'int', default: 200, min: 8, max: 1000, help: 'diffusion steps' },
  channels: {
    type: 'ints',
    default: [32, 64, 128, 128],
    min: 1,
    max: 1024,
    repeats: true,
    help: 'channels at 28, 14, 7 and the bottleneck (multiples of --groups)',
  },
  embed: { type: 'int', default: 128, min: 2, max: 4096, help: 'width of the step and class embedding (even)' },
  groups: { type: 'int', default: 8, min: 1, max: 1024, help: 'GroupNorm groups' },
  'p-uncond': {
    type: 'float',
    default: 0.1,
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
    async (f, gpu) => {
      const model: MnistUNetConfig = {
        ...defaultMnistConfig(f.T),
        channels: channels(f.channels, f.groups),
        embed: f.embed,
        groups: f.groups,
      };
      const out = f.out || 'out/mnist';
      if (gpu.kind !== 'hardware' && f.steps * f.batch * f.channels[0] >= 64 * 32 * 1000) {
        process.stderr.write(
          `note: ${gpu.adapterName} is a software adapter; the full UNet takes 6-10 s per step of batch 64 on two cores. ` +
            'On a CPU, --steps 3000 --batch 32 --channels 16,32,64,64 --embed 64 --lr 1e-3 trained a smaller model to readable digits in about an hour.\n',
        );
      }
      const train = loadMnist('train', undefined, f.batch);
      const settings = {
        model: 'mnist-unet',
        T: String(f.T),
        channels: f.channels.join(','),
        embed: String(f.embed),
        groups: String(f.groups),
        schedule: 'cosine',
        steps: String(f.steps),
        batch: String(f.batch),
        lr: String(f.lr),
        lr_decay: 'cosine',
        loss: 'mse',
        p_uncond: String(f['p-uncond']),
        seed: String(f.seed),
      };
      const trainer = await createMnistTrainer(gpu.device, train, {
        ...defaultMnistTrainOptions(model, f.seed),
        batch: f.batch,
        lr: f.lr,
        decaySteps: f.steps,
        pUncond: f['p-uncond'],
      });
      const obtained = await obtainTrained(trainer, {
        dir: f.models,
        name: `mnist-T${f.T}`,
        label: 'MNIST',
        settings,
        steps: f.steps,
        weights: 'params',
        retrain: f.retrain,
        checkpointEvery: f['checkpoint-every'],
      });
      const labels = Array.from({ length: MNIST_CLASSES * f['per-digit'] }, (_, i) => Math.floor(i / f['per-digit']));
      let result: Awaited<ReturnType<typeof sampleMnist>>;
      const t0 = performance.now();
      try {
        const bar = new Progress('sample', f.T);
        result = await sampleMnist(gpu.device, obtained.store, {
          model,
          labels,
          guidance: f.guidance,
          seed: f.seed,
          record: 1,
          clip: 1,
          onStep: (s) => bar.update(s, `${labels.length} images, w = ${f.guidance}`),
        });
      } finally {
        obtained.release();
      }
      const sampleSeconds = (performance.now() - t0) / 1000;
      const side = MNIST_SIDE;
      const grid = await renderImageGrid(result.images, labels.length, side, side, f['per-digit'], {
        scale: 3,
        title: `MNIST UNet, T = ${f.T}, guidance w = ${f.guidance}: ${f['per-digit']} samples per digit`,
        rowLabels: Array.from({ length: MNIST_CLASSES }, (_, d) => String(d)),
      });
      writeFileAtomic(join(out, 'digits.png'), grid);
      // Row s of the recording holds x_{T - s}: frames at t = T, 7T/8, ..., 0.
      const frames = Array.from({ length: 9 }, (_, i) => Math.round((f.T * (8 - i)) / 8));
      const trajectory = new Float32Array(frames.length * side * side);
      frames.forEach((t, i) =>
        trajectory.set(
          result.trajectory.subarray((f.T - t) * side * side, (f.T - t + 1) * side * side),
          i * side * side,
        ),
      );
      writeFileAtomic(
        join(out, 'trajectory.png'),
        await renderImageGrid(trajectory, frames.length, side, side, frames.length, {
          scale: 4,
          title: `One trajectory (label 0, w = ${f.guidance})`,
          columnLabels: frames.map((t) => `t = ${t}`),
        }),
      );
      const read = nearestLabels(result.images, loadMnist('t10k'));
      const perDigit = Array.from(
        { length: MNIST_CLASSES },
        (_, d) => labels.filter((l, i) => l === d && read[i] === d).length / f['per-digit'],
      );
      const agreement = labels.filter((l, i) => read[i] === l).length / labels.length;
      const report = {
        runner: 'train-mnist',
        adapter: gpu.adapterName,
        settings: { ...f, out },
        checkpoint: obtained.path,
        trained: obtained.trained,
        trainSeconds: obtained.trainSeconds,
        finalLoss: obtained.finalLoss,
        sampleSeconds,
        nearestLabelAgreement: agreement,
        nearestLabelAgreementPerDigit: perDigit,
      };
      writeFileAtomic(join(out, 'metrics.json'), `${JSON.stringify(report, null, 2)}\n`);
      process.stdout.write(
        `${labels.length} digits sampled in ${sampleSeconds.toFixed(1)} s; their nearest MNIST test image carries the label they were drawn with for ` +
          `${(100 * agreement).toFixed(1)} % (per digit ${perDigit.map((v) => `${(100 * v).toFixed(0)}%`).join(' ')}; chance 10 %)\nwrote digits.png, trajectory.png, metrics.json in ${out}\n`,
      );
    },
    argv,
    {
      check: (f) => {
        channels(f.channels, f.groups);
        if (f.embed % 2 !== 0)
          throw new UsageError(`--embed ${f.embed}: expected an even width (sine and cosine halves)`);
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
