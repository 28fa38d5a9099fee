// The MNIST page (demo/mnist.html): the shipped MNIST UNet (weights/mnist-cpu.safetensors, served
// by demo/serve.mjs, or a file the user picks) sampled with the engine's DDIM sampler on
// navigator.gpu, one reverse step per task so the page stays responsive; after each step it reads
// back only what it draws (x_t and x0_hat of the one digit, or the grid's hundred x_t). The
// settings come from the form or the URL (?digit=3&w=2&steps=50&seed=0; autorun=1 denoises at
// once, grid=1 then samples the grid). window.demoMnist holds what the page did (the browser test,
// test/browser-mnist.test.ts, reads it); <body data-state> is "loading", "ready", "running",
// "done" or "error".
import { getBrowserGpu } from '../src/gpu/browser.js';
import type { Gpu } from '../src/gpu/gpu.js';
import { decodeSafetensors, metadataMismatch, requireMetadata, type Safetensors } from '../src/io/safetensors-codec.js';
import { applyCheckpoint, CHECKPOINT_FORMAT } from '../src/io/checkpoint-read.js';
import { MnistSampler, type MnistSampleOptions } from '../src/diffusion/mnist.js';
import { ddimTimes } from '../src/diffusion/ops.js';
import {
  MNIST_CLASSES,
  MNIST_PRESETS,
  MNIST_SIDE,
  mnistSettings,
  type MnistUNetConfig,
} from '../src/models/mnist/spec.js';

interface Settings {
  digit: number;
  w: number;
  /** DDIM's reverse steps, of T. */
  steps: number;
  seed: number;
}

interface Weights {
  file: Safetensors;
  source: string;
  preset: string;
  model: MnistUNetConfig;
}

interface MnistDemo {
  state: 'loading' | 'ready' | 'running' | 'done' | 'error';
  adapter: string;
  /** The weights in use: a path served with the page, or the picked file's name. */
  weights: string;
  /** What the last run was: one digit denoised, or the grid. */
  run?: 'denoise' | 'grid';
  digit?: number;
  w?: number;
  seed?: number;
  /** The last run's reverse steps: done, and in all. */
  step: number;
  steps: number;
  /** Seconds per reverse step of the last run (its compile left out). */
  secondsPerStep?: number;
  /** The denoised digit x_0 [784] and the last predicted x0_hat [784] (pixels in [-1, 1]). */
  final?: Float32Array;
  finalX0?: Float32Array;
  /** The grid's x_0 [100, 784], digits 0-9 by rows of ten. */
  grid?: Float32Array;
  /**
   * How fast the page answered its controls: from the event to the end of the frame that shows
   * the answer (performance.now() milliseconds), and whether sampling was running meanwhile.
   */
  responses: { control: string; ms: number; whileSampling: boolean /** steps done at the event */; step: number }[];
  error?: string;
}

const demo: MnistDemo = { state: 'loading', adapter: '', weights: '', step: 0, steps: 0, responses: [] };
(window as unknown as { demoMnist: MnistDemo }).demoMnist = demo;

const SHIPPED = 'weights/mnist-cpu.safetensors';
const GRID_PER_DIGIT = 10;
const DIMS = MNIST_SIDE * MNIST_SIDE;
const ETA = 1;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('controls');
const denoiseButton = $<HTMLButtonElement>('denoise');
const gridButton = $<HTMLButtonElement>('grid-run');
const stopButton = $<HTMLButtonElement>('stop');
const fileInput = $<HTMLInputElement>('file');
const progress = $<HTMLProgressElement>('progress');
const status = $<HTMLDivElement>('status');
const errorBox = $<HTMLDivElement>('error');

let gpu: Gpu | null = null;
let weights: Weights | null = null;
let running = false;
let stopRequested = false;

class Stopped extends Error {}

function setState(state: MnistDemo['state']) {
  demo.state = state;
  document.body.dataset.state = state;
  denoiseButton.disabled = gridButton.disabled = running || !gpu || !weights;
  stopButton.disabled = !running;
}

function showError(e: unknown) {
  demo.error = e instanceof Error ? e.message : String(e);
  errorBox.textContent = demo.error;
  status.textContent = '';
  setState('error');
}

function readSettings(source: (name: string) => string | null): Settings {
  const integer = (name: string, what: string, lo: number, hi: number) => {
    const raw = source(name) ?? '';
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(v) || v < lo || v > hi)
      throw new Error(`${what} = "${raw}": expected an integer from ${lo} to ${hi}`);
    return v;
  };
  const T = weights?.model.T ?? MNIST_PRESETS.cpu.model.T;
  const rawW = source('w') ?? '';
  const w = Number(rawW);
  if (rawW.trim() === '' || !(Number.isFinite(w) && w >= 0 && w <= 10))
    throw new Error(`guidance w = "${rawW}": expected a number from 0 to 10`);
  return {
    digit: integer('digit', 'digit', 0, MNIST_CLASSES - 1),
    w,
    steps: integer('steps', 'sampling steps', 1, T),
    seed: integer('seed', 'seed', 0, 2 ** 32 - 1),
  };
}

const fromForm = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? null;

function setForm(params: URLSearchParams) {
  for (const name of ['digit', 'w', 'steps', 'seed']) {
    const v = params.get(name);
    const field = form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null;
    if (v === null || !field) continue;
    // A value the select lacks is added, so that readSettings names it in its error.
    if (field instanceof HTMLSelectElement && !Array.from(field.options).some((o) => o.value === v))
      field.add(new Option(v, v));
    field.value = v;
  }
}

/**
 * Decodes a checkpoint of the MNIST UNet (checksums verified) and finds the preset whose
 * architecture it records; its tensors' shapes are checked against the network by a first
 * compile, which also warms the pipeline cache.
 */
async function loadWeights(bytes: Uint8Array, source: string): Promise<Weights> {
  const file = decodeSafetensors(bytes, source);
  const expected = (model: MnistUNetConfig) => ({ format: CHECKPOINT_FORMAT, ...mnistSettings(model) });
  const found = Object.entries(MNIST_PRESETS).find(([, p]) => !metadataMismatch(file, expected(p.model)));
  if (!found) {
    requireMetadata(file, expected(MNIST_PRESETS.cpu.model), `${source} (not an MNIST UNet of the cpu preset)`);
    throw new Error(`${source}: not a checkpoint of the MNIST UNet`);
  }
  const [preset, { model }] = found;
  const loaded = { file, source, preset, model };
  const check = await createSampler(loaded, [0], 0, 1, 0);
  check.destroy();
  return loaded;
}

async function createSampler(w: Weights, labels: number[], guidance: number, steps: number, seed: number) {
  const options: MnistSampleOptions = {
    model: w.model,
    labels,
    guidance,
    seed,
    record: 0,
    recordX0: labels.length === 1 ? 1 : 0,
    clip: 1,
    sampler: 'ddim',
    sampleSteps: steps,
    eta: ETA,
  };
  const sampler = await MnistSampler.create(gpu!.device, options);
  try {
    applyCheckpoint(w.file, w.source, sampler.program, mnistSettings(w.model));
  } catch (e) {
    sampler.destroy();
    throw e;
  }
  return sampler;
}

async function useWeights(bytes: Uint8Array, source: string) {
  setState('loading');
  $('weights-info').textContent = `Loading ${source}…`;
  const w = await loadWeights(bytes, source);
  weights = w;
  demo.weights = source;
  let count = 0;
  for (const [name, t] of w.file.tensors) if (!name.startsWith('optimizer.')) count += t.data.length;
  const c = w.model;
  $('weights-info').textContent =
    `Weights: ${source} (${w.preset} preset: ${count.toLocaleString('en')} weights, channels ${c.channels.join('/')}, T = ${c.T}; ${w.file.checksummed ? 'checksums verified' : 'no checksums, unverified'}).`;
  errorBox.textContent = '';
  demo.error = undefined;
  setState('ready');
}

/** Draws images of 28 x 28 pixels in [-1, 1] (black to white, clamped) in rows of `columns`. */
function drawImages(canvasId: string, data: Float32Array, columns: number) {
  const ctx = $<HTMLCanvasElement>(canvasId).getContext('2d')!;
  const count = data.length / DIMS;
  const img = ctx.createImageData(columns * MNIST_SIDE, Math.ceil(count / columns) * MNIST_SIDE);
  for (let k = 0; k < count; k++) {
    const x0 = (k % columns) * MNIST_SIDE;
    const y0 = Math.floor(k / columns) * MNIST_SIDE;
    for (let p = 0; p < DIMS; p++) {
      const v = Math.round((Math.min(1, Math.max(-1, data[k * DIMS + p])) + 1) * 127.5);
      const at = 4 * ((y0 + Math.floor(p / MNIST_SIDE)) * img.width + x0 + (p % MNIST_SIDE));
      img.data[at] = img.data[at + 1] = img.data[at + 2] = v;
      img.data[at + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

/** Lets the page handle input and paint between reverse steps. */
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * One sampling run: one reverse step per task; after each, `draw` reads back and draws what the
 * page shows. Returns the sampler after its last step (the caller reads the result, then destroys it).
 */
async function sample(
  kind: 'denoise' | 'grid',
  s: Settings,
  labels: number[],
  draw: (sampler: MnistSampler, t: number) => Promise<void>,
): Promise<MnistSampler> {
  const w = weights!;
  Object.assign(demo, { run: kind, digit: s.digit, w: s.w, seed: s.seed, step: 0, steps: s.steps });
  demo.secondsPerStep = undefined;
  status.textContent = 'Compiling the sampler (a software adapter takes a while the first time)…';
  progress.value = 0;
  const sampler = await createSampler(w, labels, s.w, s.steps, s.seed);
  const times = ddimTimes(w.model.T, s.steps);
  const started = performance.now();
  try {
    while (sampler.done < sampler.steps) {
      if (stopRequested) throw new Stopped();
      sampler.step();
      await draw(sampler, times[sampler.done]);
      demo.step = sampler.done;
      demo.secondsPerStep = (performance.now() - started) / 1000 / sampler.done;
      progress.value = sampler.done / sampler.steps;
      status.textContent = `${kind === 'grid' ? 'Grid' : `Digit ${s.digit}`}, w = ${s.w}: step ${sampler.done} of ${sampler.steps} (t = ${times[sampler.done]}), ${demo.secondsPerStep.toFixed(2)} s per step.`;
      await nextTask();
    }
    return sampler;
  } catch (e) {
    sampler.destroy();
    throw e;
  }
}

async function denoise(s: Settings) {
  const sampler = await sample('denoise', s, [s.digit], async (sampler, t) => {
    const [x, x0] = await Promise.all([sampler.images(0, 1), sampler.predictedX0(0)]);
    drawImages('xt', x, 1);
    drawImages('x0', x0, 1);
    $('xt-caption').textContent = `x_t at t = ${t}${t === 0 ? ': the sample x_0' : ''}.`;
    $('x0-caption').textContent = `x0_hat, predicted at step ${sampler.done} of ${sampler.steps}.`;
  });
  try {
    demo.final = await sampler.images(0, 1);
    demo.finalX0 = await sampler.predictedX0(0);
  } finally {
    sampler.destroy();
  }
}

async function grid(s: Settings) {
  const labels = Array.from({ length: MNIST_CLASSES * GRID_PER_DIGIT }, (_, i) => Math.floor(i / GRID_PER_DIGIT));
  const sampler = await sample('grid', s, labels, async (sampler) => {
    drawImages('grid', await sampler.images(), GRID_PER_DIGIT);
  });
  try {
    demo.grid = await sampler.images();
  } finally {
    sampler.destroy();
  }
}

async function run(kinds: ('denoise' | 'grid')[], s: Settings) {
  running = true;
  stopRequested = false;
  errorBox.textContent = '';
  demo.error = undefined;
  setState('running');
  try {
    for (const kind of kinds) await (kind === 'grid' ? grid(s) : denoise(s));
    status.textContent += ' Done.';
    running = false;
    setState('done');
  } catch (e) {
    running = false;
    if (e instanceof Stopped) {
      status.textContent = `Stopped at step ${demo.step} of ${demo.steps}.`;
      setState('ready');
    } else showError(e);
  }
}

function start(kinds: ('denoise' | 'grid')[], source: (name: string) => string | null) {
  if (running) return;
  try {
    void run(kinds, readSettings(source));
  } catch (e) {
    showError(e);
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  start(['denoise'], fromForm);
});
gridButton.addEventListener('click', () => start(['grid'], fromForm));
/** Records when the answer to `ev` is on screen: after the next frame is drawn. */
function answered(control: string, ev: Event) {
  const whileSampling = running;
  const step = demo.step;
  requestAnimationFrame(() =>
    setTimeout(() => demo.responses.push({ control, ms: performance.now() - ev.timeStamp, whileSampling, step })),
  );
}

stopButton.addEventListener('click', (ev) => {
  stopRequested = true;
  status.textContent = `Stopping after step ${demo.step + 1}…`;
  answered('stop', ev);
});
fileInput.addEventListener('change', async () => {
  const picked = fileInput.files?.[0];
  if (!picked || running) return;
  try {
    await useWeights(new Uint8Array(await picked.arrayBuffer()), picked.name);
  } catch (e) {
    showError(e);
  }
});

async function main() {
  const params = new URLSearchParams(location.search);
  setForm(params);
  setState('loading');
  try {
    gpu = await getBrowserGpu();
    demo.adapter = gpu.adapterName;
    $('adapter').textContent =
      `WebGPU adapter: ${gpu.adapterName}${gpu.kind === 'hardware' ? '' : ' (a software adapter: a digit takes seconds, the grid up to a minute per step)'}.`;
    const response = await fetch(SHIPPED);
    if (!response.ok)
      throw new Error(`${SHIPPED}: HTTP ${response.status} ${response.statusText}; pick a weights file instead`);
    await useWeights(new Uint8Array(await response.arrayBuffer()), SHIPPED);
  } catch (e) {
    showError(e);
    return;
  }
  const kinds = [
    ...(params.get('autorun') === '1' ? ['denoise' as const] : []),
    ...(params.get('grid') === '1' ? ['grid' as const] : []),
  ];
  if (kinds.length > 0) start(kinds, (name) => params.get(name) ?? fromForm(name));
}

void main();
