// Nothing is lost: resuming is exact, checkpoints round-trip, divergence and a lost device stop
// with a clear error, oversize buffers are refused up front, and a run killed at any moment
// leaves a checkpoint that loads and resumes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testGpu } from './device.js';
import { getNodeGpu } from '../src/gpu/node.js';
import { Graph } from '../src/core/graph.js';
import { Program } from '../src/core/program.js';
import { silu } from '../src/core/ops/elementwise.js';
import { TwoPixelTrainer, defaultTrainOptions, sampleFused } from '../src/diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../src/models/twopixel/unet.js';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { encodeSafetensors, loadSafetensors } from '../src/io/safetensors.js';
import { checkpointSettings, trainOptions, settingsMismatch, type StudySettings } from '../src/study/models.js';
import { CHECKPOINT_FORMAT } from '../src/io/checkpoint.js';
import { createMnistTrainer, defaultMnistTrainOptions } from '../src/diffusion/mnist.js';
import { firstMnist } from './harness.js';
import { STUDY_FLAGS, studySettings } from '../src/study/flags.js';

const t = suite('reliability');
const model = defaultTwoPixelConfig(5);
const options = { ...defaultTrainOptions(model, 3), batch: 64, ema: 0.9, decaySteps: 400 };
const settings = { test: 'reliability' };
const made: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'reliability-'));
  made.push(dir);
  return dir;
};
t.after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function snapshot(p: Program) {
  return Promise.all([
    p.readStore('params'),
    p.readStore('ema'),
    p.readStore('adamM'),
    p.readStore('adamV'),
    p.read(p.graph.state),
  ]);
}

t('training N steps, saving, and resuming to 2N is bit-identical to 2N straight', async () => {
  const gpu = await testGpu();
  const straight = await TwoPixelTrainer.create(gpu.device, options);
  await straight.train(400);
  const want = await snapshot(straight.program);
  straight.destroy();

  const path = join(tmp(), 'half.safetensors');
  const first = await TwoPixelTrainer.create(gpu.device, options);
  await first.train(200);
  await saveCheckpoint(path, first.program, settings);
  first.destroy();
  const second = await TwoPixelTrainer.create(gpu.device, { ...options, seed: 99 });
  assert.is(loadCheckpoint(path, second.program, settings, true), 200);
  await second.train(200);
  const got = await snapshot(second.program);
  second.destroy();
  got.forEach((g, i) => assert.ok(Buffer.from(g.buffer).equals(Buffer.from(want[i].buffer)), `part ${i} differs`));
});

t('the MNIST trainer with EMA and warm-up resumes bit-identically, the moving average included', async () => {
  const gpu = await testGpu();
  const data = firstMnist(128);
  const mnist = {
    ...defaultMnistTrainOptions({ T: 20, channels: [8, 8, 16, 16], embed: 16, groups: 4, fourierScale: 30 }, 2),
    batch: 8,
    lr: 1e-3,
    decaySteps: 40,
    warmupSteps: 10,
    ema: 0.99,
  };
  const straight = await createMnistTrainer(gpu.device, data, mnist);
  await straight.train(40);
  const want = await snapshot(straight.program);
  straight.destroy();
  const path = join(tmp(), 'mnist-half.safetensors');
  const first = await createMnistTrainer(gpu.device, data, mnist);
  await first.train(20);
  await saveCheckpoint(path, first.program, settings);
  first.destroy();
  const second = await createMnistTrainer(gpu.device, data, { ...mnist, seed: 77 });
  assert.is(loadCheckpoint(path, second.program, settings, true), 20);
  await second.train(20);
  const got = await snapshot(second.program);
  second.destroy();
  got.forEach((g, i) => assert.ok(Buffer.from(g.buffer).equals(Buffer.from(want[i].buffer)), `part ${i} differs`));
  assert.not.ok(Buffer.from(want[1].buffer).equals(Buffer.from(want[0].buffer)), 'the EMA is not the parameters');
});

t('a saved model loads back and samples identically', async () => {
  const gpu = await testGpu();
  const trainer = await TwoPixelTrainer.create(gpu.device, options);
  await trainer.train(100);
  const path = join(tmp(), 'model.safetensors');
  await saveCheckpoint(path, trainer.program, settings);
  const o = { model, schedule: 'cosine' as const, n: 64, labels: null, guidance: null, seed: 5, record: 0 };
  const before = await sampleFused(gpu.device, trainer.program.store, o);
  trainer.destroy();
  const fresh = await TwoPixelTrainer.create(gpu.device, { ...options, seed: 1234 });
  loadCheckpoint(path, fresh.program, settings);
  const after = await sampleFused(gpu.device, fresh.program.store, o);
  fresh.destroy();
  assert.ok(Buffer.from(after.samples.buffer).equals(Buffer.from(before.samples.buffer)));
  assert.throws(
    () => loadCheckpoint(path, fresh.program, { test: 'other' }),
    /metadata "test" is "reliability", expected "other"/,
  );
});

t('a checkpoint refuses flipped weight bits by tensor name; one without checksums loads, noted once', async () => {
  const gpu = await testGpu();
  const trainer = await TwoPixelTrainer.create(gpu.device, options);
  await trainer.train(10);
  const dir = tmp();
  const path = join(dir, 'model.safetensors');
  await saveCheckpoint(path, trainer.program, settings);
  const saved = readFileSync(path);
  const file = loadSafetensors(path);
  assert.ok(file.checksummed);
  const dataStart = 8 + Number(saved.readBigUInt64LE(0));
  const errors: string[] = [];
  for (const at of [dataStart, dataStart + 1000, saved.length - 1]) {
    const flipped = Buffer.from(saved);
    flipped[at] ^= 0x10;
    writeFileSync(path, flipped);
    try {
      loadCheckpoint(path, trainer.program, settings);
      assert.unreachable('a flipped bit loaded');
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  for (const message of errors)
    assert.match(message, new RegExp(`^${path}: tensor "[^"]+" does not match its SHA-256`));
  writeFileSync(path, encodeSafetensors(file.tensors, file.metadata));
  const logged: string[] = [];
  const log = console.error;
  console.error = (...args: unknown[]) => logged.push(args.join(' '));
  try {
    loadCheckpoint(path, trainer.program, settings);
    loadCheckpoint(path, trainer.program, settings);
  } finally {
    console.error = log;
    trainer.destroy();
  }
  assert.equal(logged, [
    `note: ${path} carries no checksums (an older checkpoint, or another tool's); loaded unverified`,
  ]);
});

t('a diverging run stops with the step of the first non-finite loss', async () => {
  const gpu = await testGpu();
  const trainer = await TwoPixelTrainer.create(gpu.device, { ...options, lr: 1e30 });
  try {
    await trainer.train(300);
    assert.unreachable('training with lr 1e30 should diverge');
  } catch (err) {
    assert.match((err as Error).message, /training diverged: loss is (NaN|-?Infinity) at step \d+/);
  } finally {
    trainer.destroy();
  }
});

t('a lost device becomes an error naming it, not a hang', async () => {
  const own = await getNodeGpu({ quiet: true });
  const trainer = await TwoPixelTrainer.create(own.device, options);
  await trainer.train(100);
  own.device.destroy();
  const outcome = await Promise.race([
    trainer.train(100).then(
      () => 'finished',
      (err: Error) => err.message,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('hung'), 20000)),
  ]);
  assert.match(outcome, /device was lost|destroyed/i);
  own.destroy();
});

t('a tensor beyond the device limits is refused before any buffer is made', async () => {
  const gpu = await testGpu();
  const g = new Graph('huge');
  const x = g.input('x', [1 << 29]);
  silu(g, x);
  try {
    await Program.compile(gpu.device, g);
    assert.unreachable('a 2 GiB tensor should be refused');
  } catch (err) {
    assert.match(
      (err as Error).message,
      /tensor x needs 2147483648 bytes, above this device's max(Buffer|StorageBufferBinding)Size of \d+/,
    );
  }
});

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

t('SIGKILL at random moments while checkpointing always leaves a checkpoint that loads and resumes', async () => {
  const gpu = await testGpu();
  const dir = tmp();
  // The runner's defaults (from its flags) but for the flags passed below.
  const defaults = Object.fromEntries(Object.entries(STUDY_FLAGS).map(([k, v]) => [k, v.default]));
  const s: StudySettings = {
    ...studySettings({ ...defaults, seed: 4 } as Parameters<typeof studySettings>[0], 5),
    steps: 1_000_000,
    batch: 16,
    pUncond: 0.1,
  };
  const progress = join(dir, 'model-T5.progress.safetensors');
  let rng = 12345;
  const next = () => (rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let killedAfterSave = 0;
  for (let round = 0; round < 6; round++) {
    const child = spawn(
      process.execPath,
      [
        join(root, 'runners', 'sweep-T.js'),
        '--T',
        '5',
        '--steps',
        String(s.steps),
        '--batch',
        '16',
        '--seed',
        '4',
        '--p-uncond',
        String(s.pUncond),
        '--checkpoint-every',
        '100',
        '--models',
        dir,
        '--out',
        join(dir, 'out'),
      ],
      { stdio: 'ignore' },
    );
    // From the first progress checkpoint on (round 0 waits for it: the child compiles first),
    // a kill at a random moment lands before, during or after one of the saves every 100 steps.
    const deadline = Date.now() + 120_000;
    while (!existsSync(progress) && Date.now() < deadline && child.exitCode === null)
      await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 3000 * next()));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    if (!existsSync(progress)) continue;
    killedAfterSave++;
    const file = loadSafetensors(progress);
    assert.is(settingsMismatch(file, { format: CHECKPOINT_FORMAT, ...checkpointSettings(s) }), null);
  }
  assert.ok(killedAfterSave >= 3, `only ${killedAfterSave} rounds got past a first checkpoint`);
  const trainer = await TwoPixelTrainer.create(gpu.device, trainOptions(s));
  const step = loadCheckpoint(progress, trainer.program, checkpointSettings(s), true);
  assert.ok(step >= 100 && step % 100 === 0, `step ${step}`);
  await trainer.train(100);
  assert.is(await trainer.program.step(), step + 100);
  trainer.destroy();
});

t.run();
