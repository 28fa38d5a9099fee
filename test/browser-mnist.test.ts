// The MNIST page (demo/mnist.html) in headless Chromium (Debian's, driven by playwright-core):
// the shipped weights sampled through the browser's WebGPU must give the Node engine's images for
// the same seed, digit, w and sampler; the grid draws a hundred digits; bad settings and a file
// that is not a checkpoint of the model end in errors that name them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { testGpu } from './device.js';
import { MnistSampler } from '../src/diffusion/mnist.js';
import { MNIST_PRESETS, mnistSettings } from '../src/models/mnist/spec.js';
import { encodeSafetensors, loadSafetensors } from '../src/io/safetensors.js';
import { applyCheckpoint } from '../src/io/checkpoint.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WEIGHTS = join(root, 'weights', 'mnist-cpu.safetensors');
const t = suite('browser MNIST demo');

interface MnistDemo {
  state: string;
  adapter: string;
  weights: string;
  run?: string;
  digit?: number;
  w?: number;
  seed?: number;
  step: number;
  steps: number;
  secondsPerStep?: number;
  final?: number[];
  finalX0?: number[];
  grid?: number[];
  responses: { control: string; ms: number; whileSampling: boolean; step: number }[];
  error?: string;
}

let server: Server | null = null;
let browser: Browser | null = null;
let base = '';

t.before(async () => {
  const { serveDemo } = await import(pathToFileURL(join(root, 'demo', 'serve.mjs')).href);
  server = (await serveDemo(0)) as Server;
  base = `http://localhost:${(server.address() as AddressInfo).port}/`;
  browser = await launchChromium();
});

t.after(async () => {
  await browser?.close();
  server?.close();
});

/** Opens the page; every page error and console error is collected. */
async function open(query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  await page.goto(`${base}mnist.html${query}`);
  return { page, errors };
}

const settled = (page: Page, states = ['done', 'error']) =>
  page.waitForFunction((s) => s.includes(document.body.dataset.state ?? ''), states, {
    timeout: 300_000,
    polling: 200,
  });
// Typed arrays come back through JSON as plain arrays.
const state = (page: Page) =>
  page.evaluate(() => {
    const d = (window as unknown as { demoMnist: Record<string, unknown> }).demoMnist;
    const plain = (v: unknown) => (v instanceof Float32Array ? Array.from(v) : v);
    return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, plain(v)])) as unknown as MnistDemo;
  });

/** The Node engine's images for one digit: the same weights, sampler, seed and steps. */
async function nodeDigit(digit: number, w: number, steps: number, seed: number) {
  const { device } = await testGpu();
  const model = MNIST_PRESETS.cpu.model;
  const sampler = await MnistSampler.create(device, {
    model,
    labels: [digit],
    guidance: w,
    seed,
    record: 0,
    recordX0: 1,
    clip: 1,
    sampler: 'ddim',
    sampleSteps: steps,
    eta: 1,
  });
  try {
    applyCheckpoint(loadSafetensors(WEIGHTS), WEIGHTS, sampler.program, mnistSettings(model));
    sampler.step(steps);
    return { final: await sampler.images(0, 1), finalX0: await sampler.predictedX0(0) };
  } finally {
    sampler.destroy();
  }
}

/** The largest and the mean absolute difference of two images. */
function difference(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / b.length };
}

const DIGIT = 7;
const W = 2;
const STEPS = 6;
const SEED = 11;

t('a digit denoised in the page equals the Node engine sampling it (same weights, seed and sampler)', async () => {
  const { page, errors } = await open(`?autorun=1&digit=${DIGIT}&w=${W}&steps=${STEPS}&seed=${SEED}`);
  await page.waitForFunction('window.demoMnist.step >= 3 || document.body.dataset.state === "error"', null, {
    timeout: 120_000,
    polling: 50,
  });
  await page.screenshot({ path: '/tmp/mnist-mid-denoise.png', fullPage: true }).catch(() => {});
  await settled(page);
  const demo = await state(page);
  await page.screenshot({ path: '/tmp/mnist-denoised.png', fullPage: true }).catch(() => {});
  await page.close();
  assert.equal(errors, []);
  assert.is(demo.error, undefined);
  assert.is(demo.state, 'done');
  assert.ok(demo.adapter.length > 0, 'the page names its adapter');
  assert.is(demo.weights, 'weights/mnist-cpu.safetensors');
  assert.equal(
    [demo.run, demo.digit, demo.w, demo.seed, demo.step, demo.steps],
    ['denoise', DIGIT, W, SEED, STEPS, STEPS],
  );
  assert.is(demo.final?.length, 784);
  assert.is(demo.finalX0?.length, 784);
  assert.ok(demo.final!.every(Number.isFinite), 'finite pixels');
  // Another driver (SwiftShader here, lavapipe in Node) sums in other orders, so not bit for bit;
  // and DDIM's first step divides the predicted noise by sqrt(alphabar_T) = 2.5e-4 (the cosine
  // schedule's last beta is clipped to 0.999), so a float rounding of the network (1e-7 of it)
  // becomes up to 1e-2 in a pixel of x0_hat, where not clipped, and stays in x_0. Hence per-pixel
  // 0.05 (2.5 % of the range [-1, 1]) and, on average, 1e-3 of the range. Measured on five seeds
  // of 6 steps: largest 1.8e-2, mean at most 7.4e-4.
  const node = await nodeDigit(DIGIT, W, STEPS, SEED);
  const x0 = difference(demo.final!, node.final);
  const x0hat = difference(demo.finalX0!, node.finalX0);
  console.log(
    `  page vs Node: x_0 differs by ${x0.max.toExponential(2)} at most, ${x0.mean.toExponential(2)} on average; x0_hat ${x0hat.max.toExponential(2)}, ${x0hat.mean.toExponential(2)}`,
  );
  for (const [what, d] of [
    ['x_0', x0],
    ['x0_hat', x0hat],
  ] as const) {
    assert.ok(d.max < 0.05, `${what}: a pixel differs by ${d.max}`);
    assert.ok(d.mean < 2e-3, `${what}: pixels differ by ${d.mean} on average`);
  }
  // Not a constant image: a sample has ink and background.
  const ink = demo.final!.filter((v) => v > 0).length;
  assert.ok(ink > 20 && ink < 600, `${ink} of 784 pixels above mid-grey`);
});

t('the grid samples ten of each digit, one row per digit, and draws them', async () => {
  // One unguided step (a batch of 100, not 200): the grid is the page's heaviest run.
  const { page, errors } = await open(`?grid=1&w=0&steps=1&seed=${SEED}`);
  await settled(page);
  const demo = await state(page);
  // The canvas shows the hundred digits: each tile's pixels are those of its image.
  const tiles = (await page.evaluate(() => {
    const canvas = document.getElementById('grid') as HTMLCanvasElement;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const sums: number[] = [];
    for (let k = 0; k < 100; k++) {
      let sum = 0;
      for (let p = 0; p < 784; p++) {
        const x = (k % 10) * 28 + (p % 28);
        const y = Math.floor(k / 10) * 28 + Math.floor(p / 28);
        sum += data[4 * (y * canvas.width + x)];
      }
      sums.push(sum);
    }
    return sums;
  })) as number[];
  await page.screenshot({ path: '/tmp/mnist-grid.png', fullPage: true }).catch(() => {});
  await page.close();
  assert.equal(errors, []);
  assert.is(demo.error, undefined);
  assert.is(demo.state, 'done');
  assert.is(demo.run, 'grid');
  assert.is(demo.grid?.length, 100 * 784);
  const grid = demo.grid!;
  assert.ok(grid.every(Number.isFinite), 'finite pixels');
  for (let k = 0; k < 100; k++) {
    let want = 0;
    for (let p = 0; p < 784; p++) want += Math.round((Math.min(1, Math.max(-1, grid[k * 784 + p])) + 1) * 127.5);
    assert.ok(Math.abs(tiles[k] - want) <= 784, `tile ${k}: canvas sum ${tiles[k]}, image ${want}`);
  }
  // The hundred digits differ from one another (each its own noise).
  const sums = Array.from({ length: 100 }, (_, k) => grid.slice(k * 784, (k + 1) * 784).reduce((x, y) => x + y, 0));
  assert.is(new Set(sums.map((v) => v.toFixed(3))).size, 100, 'a hundred different images');
});

t('while the grid samples, Stop shows its answer within 100 ms and sampling ends after that step', async () => {
  const { page, errors } = await open(`?grid=1&w=0&steps=20&seed=${SEED}`);
  await page.waitForFunction('window.demoMnist.step >= 1 || document.body.dataset.state === "error"', null, {
    timeout: 120_000,
    polling: 100,
  });
  const stoppedFrom = (await state(page)).step;
  await page.click('#stop');
  await settled(page, ['ready', 'error']);
  await page.waitForFunction('window.demoMnist.responses.length > 0', null, { timeout: 10_000 });
  const demo = await state(page);
  const text = await page.textContent('#status');
  await page.close();
  assert.equal(errors, []);
  assert.is(demo.error, undefined);
  assert.is(demo.state, 'ready');
  const [answer] = demo.responses;
  console.log(`  Stop answered in ${answer.ms.toFixed(1)} ms while sampling (at step ${stoppedFrom} of 20)`);
  assert.is(answer.control, 'stop');
  assert.ok(answer.whileSampling, 'clicked while sampling ran');
  assert.ok(answer.ms < 100, `Stop took ${answer.ms} ms to show`);
  // The step under way when the click arrived finishes; no further one starts.
  assert.ok(answer.step >= stoppedFrom, `clicked at step ${answer.step}, after ${stoppedFrom}`);
  assert.ok(demo.step <= answer.step + 1, `stopped at step ${demo.step}, clicked at ${answer.step}`);
  assert.match(text ?? '', new RegExp(`^Stopped at step ${demo.step} of 20\\.`));
});

t('bad settings end in an error that names them', async () => {
  for (const [query, message] of [
    ['?autorun=1&digit=12', /digit = "12": expected an integer from 0 to 9/],
    ['?autorun=1&w=abc', /guidance w = "abc": expected a number from 0 to 10/],
    ['?autorun=1&steps=0', /sampling steps = "0": expected an integer from 1 to 200/],
  ] as const) {
    const { page, errors } = await open(query);
    await settled(page, ['error']);
    const demo = await state(page);
    await page.close();
    assert.equal(errors, [], query);
    assert.match(demo.error ?? '', message);
  }
});

t(
  'a picked file that is not safetensors, holds another model or tensors of other shapes is refused by name',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnist-page-'));
    const shipped = loadSafetensors(WEIGHTS);
    const write = (name: string, data: Uint8Array | string) => {
      writeFileSync(join(dir, name), data);
      return join(dir, name);
    };
    const reshaped = new Map(shipped.tensors);
    const [name, first] = [...reshaped].find(([n, e]) => !n.startsWith('optimizer.') && e.shape.length === 4)!;
    reshaped.set(name, { ...first, shape: [first.shape[0], first.data.length / first.shape[0]] });
    const files = {
      'notes.safetensors': write('notes.safetensors', 'not a checkpoint at all'),
      'other.safetensors': write(
        'other.safetensors',
        encodeSafetensors(shipped.tensors, { ...shipped.metadata, model: 'two-pixel-unet' }, { checksums: true }),
      ),
      'reshaped.safetensors': write(
        'reshaped.safetensors',
        encodeSafetensors(reshaped, shipped.metadata, { checksums: true }),
      ),
      'mine.safetensors': write('mine.safetensors', readFileSync(WEIGHTS)),
    };
    const { page, errors } = await open('');
    await settled(page, ['ready', 'error']);
    const pick = async (file: keyof typeof files) => {
      await page.setInputFiles('#file', files[file]);
      await page.waitForFunction(
        (f) => {
          const d = (window as unknown as { demoMnist: MnistDemo }).demoMnist;
          return d.error?.startsWith(f) || (d.state === 'ready' && d.weights === f);
        },
        file,
        { timeout: 120_000, polling: 100 },
      );
      return state(page);
    };
    assert.match((await pick('notes.safetensors')).error ?? '', /^notes\.safetensors: header length \d+ is over/);
    assert.match(
      (await pick('other.safetensors')).error ?? '',
      /^other\.safetensors \(not an MNIST UNet of the cpu preset\): metadata "model" is "two-pixel-unet", expected "mnist-unet"/,
    );
    assert.match(
      (await pick('reshaped.safetensors')).error ?? '',
      new RegExp(
        `^reshaped\\.safetensors: tensor "${name}" is F32 \\[${reshaped.get(name)!.shape.join(', ')}\\], expected F32 \\[${first.shape.join(', ')}\\]`,
      ),
    );
    const good = await pick('mine.safetensors');
    assert.is(good.error, undefined);
    assert.is(good.weights, 'mine.safetensors');
    await page.close();
    assert.equal(errors, []);
  },
);

t.run();
