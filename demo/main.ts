// The browser demo (demo/index.html): trains the two-pixel model of the study with the engine's
// fused kernels on navigator.gpu, then samples it three ways and draws the samples over the true
// density. The settings come from the form, or from the URL (?T=10&steps=200&w=1&n=500&seed=0;
// autorun=1 starts at once). When a run ends, window.demo holds what it measured (the browser test,
// test/browser.test.ts, reads it) and <body data-state> is "done" or "error".
import { getBrowserGpu } from '../src/gpu/browser.js';
import type { Gpu } from '../src/gpu/gpu.js';
import { TwoPixelTrainer, defaultTrainOptions, sampleFused } from '../src/diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../src/models/twopixel/unet.js';
import { MIXTURE, mixturePdf } from '../src/data/mixture.js';
import { labelAccuracy } from '../src/diffusion/metrics.js';

interface Settings {
  T: number;
  steps: number;
  w: number;
  n: number;
  seed: number;
}

interface DemoResult {
  state: 'running' | 'done' | 'error';
  adapter: string;
  settings?: Settings;
  /** Every training step's loss, in order. */
  losses: number[];
  stepsPerSecond?: number;
  /** Samples [n, 2] interleaved, per panel. */
  samples: Record<string, number[]>;
  /** Share of each panel's samples nearest to the class-0 peak. */
  class0Share: Record<string, number>;
  error?: string;
}

const demo: DemoResult = { state: 'running', adapter: '', losses: [], samples: {}, class0Share: {} };
(window as unknown as { demo: DemoResult }).demo = demo;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('controls');
const button = $<HTMLButtonElement>('run');
const progress = $<HTMLProgressElement>('progress');
const status = $<HTMLDivElement>('status');
const errorBox = $<HTMLDivElement>('error');

/** The plane the panels show: [-1.2, 1.4] on both axes (both peaks and their tails). */
const VIEW = { lo: -1.2, hi: 1.4 };
/** Label dropout, as the study's runners train (the learning rate decays over the run as theirs does). */
const P_UNCOND = 0.2;

function readSettings(source: (name: string) => string | null): Settings {
  const integer = (name: string, lo: number, hi: number) => {
    const raw = source(name) ?? '';
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(v) || v < lo || v > hi)
      throw new Error(`${name} = "${raw}": expected an integer from ${lo} to ${hi}`);
    return v;
  };
  const w = Number(source('w') ?? '');
  if (!(Number.isFinite(w) && w >= 0 && w <= 10))
    throw new Error(`guidance w = "${source('w')}": expected a number from 0 to 10`);
  return {
    T: integer('T', 2, 1000),
    steps: integer('steps', 1, 100000),
    w,
    n: integer('n', 1, 20000),
    seed: integer('seed', 0, 2 ** 32 - 1),
  };
}

const fromForm = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? null;

function setForm(params: URLSearchParams) {
  for (const name of ['T', 'steps', 'w', 'n', 'seed']) {
    const v = params.get(name);
    const field = form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null;
    if (v === null || !field) continue;
    if (field instanceof HTMLSelectElement && !Array.from(field.options).some((o) => o.value === v))
      field.add(new Option(v, v));
    field.value = v;
  }
}

const toPixel = (v: number, size: number) => ((v - VIEW.lo) / (VIEW.hi - VIEW.lo)) * size;

let background: ImageData | null = null;
function densityBackground(ctx: CanvasRenderingContext2D): ImageData {
  const { width, height } = ctx.canvas;
  if (background && background.width === width && background.height === height) return background;
  const img = ctx.createImageData(width, height);
  const peak = Math.max(...MIXTURE.components.map((c) => mixturePdf(c.mean[0], c.mean[1])));
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const x = VIEW.lo + ((px + 0.5) / width) * (VIEW.hi - VIEW.lo);
      const y = VIEW.hi - ((py + 0.5) / height) * (VIEW.hi - VIEW.lo);
      const shade = 255 - Math.round(90 * Math.sqrt(mixturePdf(x, y) / peak));
      const at = 4 * (py * width + px);
      img.data.set([shade, shade, shade, 255], at);
    }
  }
  return (background = img);
}

function drawSamples(id: string, xy: Float32Array, color: string, title: string) {
  const ctx = $<HTMLCanvasElement>(id).getContext('2d')!;
  const { width, height } = ctx.canvas;
  ctx.putImageData(densityBackground(ctx), 0, 0);
  ctx.fillStyle = color;
  for (let i = 0; i < xy.length; i += 2) {
    ctx.globalAlpha = 0.5;
    ctx.fillRect(toPixel(xy[i], width) - 1, height - toPixel(xy[i + 1], height) - 1, 2, 2);
  }
  ctx.globalAlpha = 1;
  ctx.fillStyle = '#222';
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillText(title, 8, 18);
}

function drawLoss(losses: number[], total: number) {
  const ctx = $<HTMLCanvasElement>('loss').getContext('2d')!;
  const { width, height } = ctx.canvas;
  ctx.clearRect(0, 0, width, height);
  const chunks: number[] = [];
  for (let i = 0; i < losses.length; i += 100) {
    const part = losses.slice(i, i + 100);
    chunks.push(part.reduce((a, b) => a + b, 0) / part.length);
  }
  if (chunks.length === 0) return;
  const max = Math.max(...chunks) * 1.05;
  const per = Math.ceil(total / 100);
  ctx.strokeStyle = '#1f5fa8';
  ctx.lineWidth = 2;
  ctx.beginPath();
  chunks.forEach((v, i) => {
    const x = 30 + ((i + 0.5) / per) * (width - 40);
    const y = height - 20 - (v / max) * (height - 40);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = '#555';
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillText(max.toFixed(2), 2, 20);
  ctx.fillText('0', 2, height - 20);
  ctx.fillText(`step ${losses.length}`, width - 80, height - 4);
}

let gpu: Gpu | null = null;

async function run(s: Settings) {
  button.disabled = true;
  errorBox.textContent = '';
  Object.assign(demo, { state: 'running', settings: s, losses: [], samples: {}, class0Share: {}, error: undefined });
  document.body.dataset.state = 'running';
  let trainer: TwoPixelTrainer | null = null;
  try {
    gpu ??= await getBrowserGpu();
    const model = defaultTwoPixelConfig(s.T);
    status.textContent = 'Compiling the training kernels (a software adapter takes a while the first time)…';
    trainer = await TwoPixelTrainer.create(gpu.device, {
      ...defaultTrainOptions(model, s.seed),
      decaySteps: s.steps,
      pUncond: P_UNCOND,
    });
    await trainer.train(1, (_, losses) => void demo.losses.push(...losses));
    const t0 = performance.now();
    await trainer.train(s.steps - 1, (step, losses) => {
      demo.losses.push(...losses);
      const rate = (step - 1) / ((performance.now() - t0) / 1000);
      demo.stepsPerSecond = rate;
      progress.value = step / s.steps;
      status.textContent = `training: step ${step} of ${s.steps}, loss ${losses[losses.length - 1].toFixed(4)}, ${rate.toFixed(0)} steps/s`;
      drawLoss(demo.losses, s.steps);
    });
    drawLoss(demo.losses, s.steps);
    status.textContent = 'Sampling…';
    // Labels, guidance, colour, title; clipping the predicted x_0 to [-3, 3] as the runners do.
    const panels: [string, number | null, number | null, string, string][] = [
      ['uncond', null, null, '#555', 'no label'],
      ['class0', 0, s.w, '#1f5fa8', `label 0, w = ${s.w}`],
      ['class1', 1, s.w, '#d9730d', `label 1, w = ${s.w}`],
    ];
    for (const [id, label, guidance, color, title] of panels) {
      const { samples } = await sampleFused(gpu.device, trainer.program.store, {
        model,
        schedule: 'cosine',
        n: s.n,
        labels: label,
        guidance,
        seed: s.seed,
        record: 0,
        clip: 3,
      });
      demo.samples[id] = Array.from(samples);
      demo.class0Share[id] = labelAccuracy(samples, 0);
      const share =
        label === null
          ? `${(100 * demo.class0Share[id]).toFixed(1)} % at peak 0`
          : `${(100 * labelAccuracy(samples, label)).toFixed(1)} % at peak ${label}`;
      drawSamples(id, samples, color, `${title}: ${share}`);
    }
    const rate = demo.stepsPerSecond ? `, ${demo.stepsPerSecond.toFixed(0)} training steps/s` : '';
    status.textContent = `Done: ${s.steps} steps at T = ${s.T}${rate}; final loss ${demo.losses[demo.losses.length - 1].toFixed(4)}.`;
    demo.state = 'done';
  } catch (e) {
    demo.state = 'error';
    demo.error = e instanceof Error ? e.message : String(e);
    errorBox.textContent = demo.error;
    status.textContent = '';
  } finally {
    trainer?.destroy();
    document.body.dataset.state = demo.state;
    button.disabled = gpu === null;
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  let s: Settings;
  try {
    s = readSettings(fromForm);
  } catch (e) {
    errorBox.textContent = (e as Error).message;
    return;
  }
  void run(s);
});

async function start() {
  const params = new URLSearchParams(location.search);
  setForm(params);
  try {
    gpu = await getBrowserGpu();
    demo.adapter = gpu.adapterName;
    $('adapter').textContent =
      `WebGPU adapter: ${gpu.adapterName}${gpu.kind === 'hardware' ? '' : ' (a software adapter: expect minutes, not seconds)'}.`;
    button.disabled = false;
    document.body.dataset.state = 'ready';
  } catch (e) {
    $('adapter').textContent = '';
    demo.state = 'error';
    demo.error = (e as Error).message;
    errorBox.textContent = demo.error;
    document.body.dataset.state = 'error';
    return;
  }
  if (params.get('autorun') === '1') {
    try {
      await run(readSettings((name) => params.get(name) ?? fromForm(name)));
    } catch (e) {
      demo.state = 'error';
      demo.error = (e as Error).message;
      errorBox.textContent = demo.error;
      document.body.dataset.state = 'error';
    }
  }
}

void start();
