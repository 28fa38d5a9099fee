// The demo page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// the same engine trains and samples through the browser's WebGPU (SwiftShader on a machine
// without a GPU). Its first losses must match the Node engine's for the same seed: the same
// parameters and draws, on another driver.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from './chromium.js';
import { testGpu } from './device.js';
import { TwoPixelTrainer, defaultTrainOptions } from '../src/diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../src/models/twopixel/unet.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const t = suite('browser demo');

interface DemoState {
  state: string;
  runs: number;
  step: number;
  adapter: string;
  stepsPerSecond?: number;
  snapshots: { step: number; loss: number; class0Share: number }[];
  time?: { t: number; T: number; mean: number; std: number };
  losses: number[];
  samples: Record<string, number[]>;
  class0Share: Record<string, number>;
  error?: string;
}

let server: Server | null = null;
let browser: Browser | null = null;
let base = '';

t.before(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the browser test needs Debian's chromium (bash .ci/setup-system installs it)`,
    );
  const { serveDemo } = await import(pathToFileURL(join(root, 'demo', 'serve.mjs')).href);
  server = (await serveDemo(0)) as Server;
  base = `http://localhost:${(server.address() as AddressInfo).port}/`;
  browser = await launchChromium();
});

t.after(async () => {
  await browser?.close();
  server?.close();
});

async function openDemo(query: string): Promise<{ page: Page; demo: DemoState; errors: string[] }> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base + query);
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, {
    timeout: 400_000,
    polling: 500,
  });
  const demo = (await page.evaluate('window.demo')) as DemoState;
  return { page, demo, errors };
}

const STEPS = 200;
const EVERY = 100;
const SAMPLES = 256;

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const state = (page: Page) => page.evaluate('window.demo') as Promise<DemoState>;
const waitFor = (page: Page, fn: string) => page.waitForFunction(fn, null, { timeout: 400_000, polling: 200 });

t(
  'the demo trains live (redraws every EVERY steps, pauses, resumes, resets to the same losses) and its time slider spans x_T to x_0',
  async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    await page.goto(`${base}?autorun=1&T=10&steps=${STEPS}&every=${EVERY}&n=${SAMPLES}&w=1&seed=3`);
    // Pause after the first redraw: no step is taken while paused.
    await waitFor(page, 'window.demo.snapshots.length >= 1 || window.demo.state === "error"');
    await page.click('#pause');
    await waitFor(page, 'document.body.dataset.state === "paused"');
    const paused = await state(page);
    assert.is(await page.textContent('#pause'), 'Resume');
    await page.waitForTimeout(1500);
    assert.is((await state(page)).step, paused.step, 'no training while paused');
    // Reset from the pause: the run starts again at step 0 and draws the same first losses.
    await page.click('#reset');
    await waitFor(page, 'window.demo.runs === 2 && window.demo.losses.length >= 5');
    const again = await state(page);
    assert.equal(again.losses.slice(0, 5), paused.losses.slice(0, 5), 'after a reset, the same first losses');
    // Pause and resume mid-run, then let it finish.
    await page.click('#pause');
    await waitFor(page, 'document.body.dataset.state === "paused"');
    await page.click('#pause');
    await waitFor(page, '["done", "error"].includes(document.body.dataset.state)');
    // The time slider: x_T is the N(0, I) prior (standard deviation 1); x_0 has the data's spread
    // (about 0.55 per coordinate), so narrower.
    const at = async (t: number) => {
      await page.fill('#t', String(t));
      await page.dispatchEvent('#t', 'input');
      return (await state(page)).time!;
    };
    const top = await at(10);
    const bottom = await at(0);
    assert.is(top.t, 10);
    assert.ok(Math.abs(top.std - 1) < 0.15, `std of x_T: ${top.std}`);
    assert.ok(bottom.std < 0.85 * top.std, `std of x_0 ${bottom.std} below that of x_T ${top.std}`);
    const demo = await state(page);
    await page.screenshot({ path: '/tmp/demo-live.png', fullPage: true }).catch(() => {});
    await page.close();
    assert.equal(errors, []);
    assert.is(demo.error, undefined);
    assert.is(demo.state, 'done');
    assert.is(demo.runs, 2);
    assert.ok(demo.adapter.length > 0, 'the page names its adapter');
    assert.is(demo.losses.length, STEPS);
    assert.ok(demo.losses.every(Number.isFinite), 'every loss is finite');
    assert.ok(
      mean(demo.losses.slice(-20)) < 0.5 * mean(demo.losses.slice(0, 20)),
      `the loss falls: ${mean(demo.losses.slice(0, 20))} -> ${mean(demo.losses.slice(-20))}`,
    );
    assert.equal(
      demo.snapshots.map((s) => s.step),
      [EVERY, 2 * EVERY],
      'a redraw at every EVERY steps',
    );
    assert.ok(demo.snapshots[1].loss < demo.snapshots[0].loss, 'the loss between redraws falls');
    assert.ok((demo.stepsPerSecond ?? 0) > 0, `steps/s measured: ${demo.stepsPerSecond}`);
    for (const panel of ['uncond', 'class0', 'class1']) {
      assert.is(demo.samples[panel]?.length, 2 * SAMPLES, `${panel}: ${SAMPLES} samples`);
      assert.ok(demo.samples[panel].every(Number.isFinite), `${panel}: finite samples`);
      assert.ok(demo.class0Share[panel] >= 0 && demo.class0Share[panel] <= 1);
    }
    // The same run in Node: the first steps' losses agree to float tolerance (another driver, so
    // not bit for bit).
    const { device } = await testGpu();
    const model = defaultTwoPixelConfig(10);
    const trainer = await TwoPixelTrainer.create(device, {
      ...defaultTrainOptions(model, 3),
      decaySteps: STEPS,
      pUncond: 0.2,
    });
    const node: number[] = [];
    try {
      await trainer.train(5, (_, losses) => void node.push(...losses));
    } finally {
      trainer.destroy();
    }
    node.forEach((v, i) => {
      const rel = Math.abs(demo.losses[i] - v) / Math.abs(v);
      assert.ok(rel < 1e-3, `step ${i + 1}: browser loss ${demo.losses[i]}, Node ${v} (relative difference ${rel})`);
    });
  },
);

t('bad settings in the URL end in an error that names them', async () => {
  const { page, demo, errors } = await openDemo('?autorun=1&T=abc&steps=100');
  await page.close();
  assert.equal(errors, []);
  assert.is(demo.state, 'error');
  assert.match(demo.error ?? '', /T = "abc": expected an integer from 2 to 1000/);
});

t('a redraw interval of 0 in the URL ends in an error that names it', async () => {
  const { page, demo } = await openDemo('?autorun=1&T=10&steps=100&every=0');
  await page.close();
  assert.is(demo.state, 'error');
  assert.match(demo.error ?? '', /every = "0": expected an integer from 1 to 100000/);
});

t.run();
