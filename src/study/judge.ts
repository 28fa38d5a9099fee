// The MNIST classifier as a runner (runners/mnist-classifier.js) and as the judge train-mnist
// scores its samples with: trained with the engine on the 60 000 training digits, checkpointed
// and reused, its accuracy measured on the 10 000 test digits.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain, COMMON_FLAGS } from '../cli/main.js';
import type { FlagSpec } from '../cli/flags.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadMnist, MNIST_CLASSES } from '../data/mnist.js';
import {
  classifierSettings,
  classifyDigits,
  createDigitClassifierTrainer,
  defaultClassifierTrainOptions,
  MNIST_CLASSIFIER,
  type ClassifierTrainOptions,
} from '../models/mnist/classifier.js';
import { obtainTrained, type ObtainedModel } from './models.js';

/** The project's folder of shipped weights (README.md, "Shipped weights"): weights/ beside package.json. */
export function shippedWeights(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}: cannot find weights/`);
    dir = up;
  }
  return join(dir, 'weights');
}

const DEFAULTS = defaultClassifierTrainOptions();

export const CLASSIFIER_FLAGS = {
  steps: { type: 'int', default: DEFAULTS.steps, min: 100, max: 1_000_000, multipleOf: 100, help: 'training steps' },
  batch: { type: 'int', default: DEFAULTS.batch, min: 1, max: 4096, help: 'training batch' },
  lr: { type: 'float', default: DEFAULTS.lr, min: 0, exclusiveMin: true, max: 1, help: "Adam's peak learning rate" },
  shift: { type: 'int', default: DEFAULTS.shift, min: 0, max: 8, help: 'random shift of the training digits, pixels' },
  models: { type: 'string', default: 'out/models', help: 'folder of the trained models, shared by the runners' },
  retrain: { type: 'bool', default: false, help: 'train even when a checkpoint exists, and replace it' },
  ...COMMON_FLAGS,
} as const satisfies Record<string, FlagSpec>;

export const classifierCheckpointSettings = (o: ClassifierTrainOptions): Record<string, string> => ({
  ...classifierSettings(o.config),
  steps: String(o.steps),
  batch: String(o.batch),
  lr: String(o.lr),
  warmup: String(o.warmup),
  shift: String(o.shift),
  seed: String(o.seed),
});

/**
 * The classifier: the shipped weights when `dir` has no checkpoint of its own and they exist,
 * else `dir/mnist-classifier.safetensors`, trained there when missing (a few minutes on a CPU).
 */
export async function obtainDigitClassifier(
  device: GPUDevice,
  o: ClassifierTrainOptions,
  dir: string,
  retrain = false,
): Promise<ObtainedModel> {
  const own = join(dir, 'mnist-classifier.safetensors');
  const shipped = !retrain && !existsSync(own) && existsSync(join(shippedWeights(), 'mnist-classifier.safetensors'));
  const trainer = await createDigitClassifierTrainer(device, loadMnist('train', undefined, o.batch), o);
  return obtainTrained(trainer, {
    dir: shipped ? shippedWeights() : dir,
    name: 'mnist-classifier',
    label: 'classifier',
    settings: classifierCheckpointSettings(o),
    steps: o.steps,
    weights: 'params',
    retrain,
    checkpointEvery: 0,
  });
}

/** Accuracy on the 10 000 test digits, overall and per digit. */
export async function testAccuracy(device: GPUDevice, judge: ObtainedModel) {
  const test = loadMnist('t10k');
  const { labels } = await classifyDigits(device, judge.store, test.images);
  const right = new Array<number>(MNIST_CLASSES).fill(0);
  const total = new Array<number>(MNIST_CLASSES).fill(0);
  for (let i = 0; i < test.count; i++) {
    total[test.labels[i]]++;
    if (labels[i] === test.labels[i]) right[test.labels[i]]++;
  }
  return {
    accuracy: right.reduce((a, b) => a + b, 0) / test.count,
    perDigit: right.map((r, d) => r / total[d]),
  };
}

export function classifierMain(argv?: readonly string[]): Promise<void> {
  return runMain(
    'mnist-classifier.js',
    "Trains the MNIST classifier that scores train-mnist's samples, and measures it on the 10 000 test digits.",
    CLASSIFIER_FLAGS,
    async (f, gpu) => {
      const out = f.out || 'out/mnist-classifier';
      const o: ClassifierTrainOptions = {
        ...DEFAULTS,
        config: MNIST_CLASSIFIER,
        steps: f.steps,
        batch: f.batch,
        lr: f.lr,
        shift: f.shift,
        seed: f.seed,
      };
      const t0 = performance.now();
      const trainer = await createDigitClassifierTrainer(gpu.device, loadMnist('train', undefined, o.batch), o);
      const judge = await obtainTrained(trainer, {
        dir: f.models,
        name: 'mnist-classifier',
        label: 'classifier',
        settings: classifierCheckpointSettings(o),
        steps: o.steps,
        weights: 'params',
        retrain: f.retrain,
        checkpointEvery: 0,
      });
      try {
        const { accuracy, perDigit } = await testAccuracy(gpu.device, judge);
        const seconds = (performance.now() - t0) / 1000;
        const metrics = {
          runner: 'mnist-classifier',
          date: new Date().toISOString(),
          adapter: gpu.adapterName,
          settings: { ...f, out },
          checkpoint: judge.path,
          trained: judge.trained,
          trainSeconds: judge.trainSeconds,
          finalLoss: judge.finalLoss,
          seconds,
          testAccuracy: accuracy,
          testAccuracyPerDigit: perDigit,
        };
        writeFileAtomic(join(out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
        process.stdout.write(
          `test accuracy ${(100 * accuracy).toFixed(2)} % on the 10 000 test digits (per digit ${perDigit
            .map((v) => (100 * v).toFixed(1))
            .join(
              ' ',
            )}); ${judge.trained ? `trained in ${judge.trainSeconds.toFixed(0)} s` : `reused ${judge.path}`}\n` +
            `wrote ${join(out, 'metrics.json')}\n`,
        );
      } finally {
        judge.release();
      }
    },
    argv,
    { folders: (f) => ({ out: f.out || 'out/mnist-classifier', models: f.models }) },
  );
}
