// The browser demo (demo/index.html): trains the two-pixel model of the study with the engine's
// fused kernels on navigator.gpu, live: every `every` steps it samples the model on the device and
// redraws the samples and their density over the true one; pause, resume and reset act between
// chunks of training. At the end it samples the model three ways. The settings come from the form,
// or from the URL (?T=10&steps=200&every=100&w=1&n=500&seed=0; autorun=1 starts at once).
// window.demo holds what the run measured (the browser test, test/browser.test.ts, reads it) and
// <body data-state> is "running", "paused", "done" or "error".
import { getBrowserGpu } from '../src/gpu/browser.js';
import type { Gpu } from '../src/gpu/gpu.js';
import { CHUNK, TwoPixelTrainer, defaultTrainOptions, sampleFused } from '../src/diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../src/models/twopixel/unet.js';
import { MIXTURE, mixturePdf } from '../src/data/mixture.js';
import { labelAccuracy } from '../src/diffusion/metrics.js';

interface Settings {
  T: number;
  steps: number;
  /** Sample and redraw the live panels every this many training steps. */
  every: number;
  w: number;
  n: number;
  seed: number;
}

/** What the live panels showed at one redraw. */
interface Snapshot {
  step: number;
  /** Mean loss of the steps since the previous snapshot. */
  loss: number;
  /** Share of the unconditional samples nearest to the class-0 peak. */
  class0Share: number;
}

interface DemoResult {
  state: 'running' | 'paused' | 'done' | 'error';
  /** Runs started on this page (a reset starts another). */
  runs: number;
  /** Training steps taken in the current run. */
  step: number;
  adapter: string;
  settings?: Settings;
  /** Every training step's loss, in order. */
  losses: number[];
  /** Training steps per second of training time (pauses and sampling left out). */
  stepsPerSecond?: number;
  snapshots: Snapshot[];
  /** The time slider's x_t: its t, and the mean and standard deviation of both coordinates. */
  time?: { t: number; T: number; mean: number; std: number };
  /** Samples [n, 2] interleaved, per panel. */
  samples: Record<string, number[]>;
  /** Share of each panel's samples nearest to the class-0 peak. */
  class0Share: Record<string, number>;
  error?: string;
}

const demo: DemoResult = {
  state: 'running',
  runs: 0,
  step: 0,
  adapter: '',
  losses: [],
  snapshots: [],
  samples: {},
  class0Share: {},
};
(window as unknown as { demo: DemoResult }).demo = demo;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('controls');
const button = $<HTMLButtonElement>('run');
const pauseButton = $<HTMLButtonElement>('pause');
const resetButton = $<HTMLButtonElement>('reset');
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
    every: integer('every', 1, 100000),
    w,
    n: integer('n', 1, 20000),
    seed: integer('seed', 0, 2 ** 32 - 1),
  };
}

const fromForm = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? null;

function setForm(params: URLSearchParams) {
  for (const name of ['T', 'steps', 'every', 'w', 'n', 'seed']) {
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

/**
 * The samples' density: a histogram on a GRID x GRID lattice over the view, smoothed by a 5 x 5
 * binomial kernel (a few hundred samples are enough to show the peaks), drawn in blue over the true density (grey) with the true peaks' centres and
 * one-sigma circles in red.
 */
const GRID = 40;
function drawDensity(id: string, xy: Float32Array, title: string) {
  const ctx = $<HTMLCanvasElement>(id).getContext('2d')!;
  const { width, height } = ctx.canvas;
  const counts = new Float64Array(GRID * GRID);
  for (let i = 0; i < xy.length; i += 2) {
    const gx = Math.floor(((xy[i] - VIEW.lo) / (VIEW.hi - VIEW.lo)) * GRID);
    const gy = Math.floor(((xy[i + 1] - VIEW.lo) / (VIEW.hi - VIEW.lo)) * GRID);
    if (gx >= 0 && gx < GRID && gy >= 0 && gy < GRID) counts[gy * GRID + gx]++;
  }
  const smooth = new Float64Array(GRID * GRID);
  const k = [1, 4, 6, 4, 1];
  for (let gy = 0; gy < GRID; gy++)
    for (let gx = 0; gx < GRID; gx++) {
      let sum = 0;
      for (let dy = -2; dy <= 2; dy++)
        for (let dx = -2; dx <= 2; dx++) {
          const x = gx + dx,
            y = gy + dy;
          if (x >= 0 && x < GRID && y >= 0 && y < GRID) sum += k[dx + 2] * k[dy + 2] * counts[y * GRID + x];
        }
      smooth[gy * GRID + gx] = sum / 256;
    }
  const max = Math.max(...smooth);
  const img = new ImageData(new Uint8ClampedArray(densityBackground(ctx).data), width, height);
  if (max > 0)
    for (let py = 0; py < height; py++) {
      const gy = Math.min(GRID - 1, Math.floor(((height - 1 - py + 0.5) / height) * GRID));
      for (let px = 0; px < width; px++) {
        const gx = Math.min(GRID - 1, Math.floor(((px + 0.5) / width) * GRID));
        const a = Math.sqrt(smooth[gy * GRID + gx] / max);
        const at = 4 * (py * width + px);
        img.data[at] = (1 - a) * img.data[at] + a * 31;
        img.data[at + 1] = (1 - a) * img.data[at + 1] + a * 95;
        img.data[at + 2] = (1 - a) * img.data[at + 2] + a * 168;
      }
    }
  ctx.putImageData(img, 0, 0);
  // The true peaks' centres and one-sigma circles, so the learned density is judged against them.
  ctx.strokeStyle = '#b00020';
  for (const c of MIXTURE.components) {
    const cx = toPixel(c.mean[0], width),
      cy = height - toPixel(c.mean[1], height);
    ctx.beginPath();
    ctx.arc(cx, cy, (MIXTURE.sigma / (VIEW.hi - VIEW.lo)) * width, 0, 2 * Math.PI);
    ctx.moveTo(cx - 4, cy);
    ctx.lineTo(cx + 4, cy);
    ctx.moveTo(cx, cy - 4);
    ctx.lineTo(cx, cy + 4);
    ctx.stroke();
  }
  ctx.fillStyle = '#222';
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillText(title, 8, 18);
}

/** Trajectories drawn as lines on the time slider's panel. */
const TRACES = 5;
const slider = $<HTMLInputElement>('t');
const playButton = $<HTMLButtonElement>('play');
let trajectories: { rows: Float32Array; T: number; n: number } | null = null;

/** The time slider's panel at t: the density of x_t over all n trajectories, TRACES of them from x_T to x_t (a square at x_t). */
function drawTime(t: number) {
  if (!trajectories) return;
  const { rows, T, n } = trajectories;
  // Row s of the trajectory holds x_{T-s}.
  const at = (s: number) => rows.subarray(s * n * 2, (s + 1) * n * 2);
  const xt = at(T - t);
  let sum = 0,
    sq = 0;
  for (const v of xt) sum += v;
  const m = sum / xt.length;
  for (const v of xt) sq += (v - m) * (v - m);
  demo.time = { t, T, mean: m, std: Math.sqrt(sq / xt.length) };
  drawDensity('time', xt, `x_t at t = ${t} of ${T}`);
  const ctx = $<HTMLCanvasElement>('time').getContext('2d')!;
  const { width, height } = ctx.canvas;
  ctx.strokeStyle = '#d9730d';
  ctx.globalAlpha = 0.8;
  for (let k = 0; k < Math.min(TRACES, n); k++) {
    ctx.beginPath();
    for (let s = 0; s <= T - t; s++) {
      const p = at(s);
      const x = toPixel(p[2 * k], width),
        y = height - toPixel(p[2 * k + 1], height);
      if (s === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    ctx.stroke();
    ctx.fillStyle = '#d9730d';
    ctx.fillRect(toPixel(xt[2 * k], width) - 3, height - toPixel(xt[2 * k + 1], height) - 3, 6, 6);
  }
  ctx.globalAlpha = 1;
  $('t-value').textContent = `t = ${t}`;
}

function showTrajectories(rows: Float32Array, T: number, n: number) {
  trajectories = { rows, T, n };
  slider.max = String(T);
  slider.value = String(T);
  slider.disabled = false;
  playButton.disabled = false;
  drawTime(T);
}

let playing: ReturnType<typeof setInterval> | null = null;
function stopPlaying() {
  if (playing !== null) clearInterval(playing);
  playing = null;
  playButton.textContent = 'Play';
}
slider.addEventListener('input', () => {
  stopPlaying();
  drawTime(Number(slider.value));
});
// Play runs t from T down to 0, a step every 250 ms, as the sampler does.
playButton.addEventListener('click', () => {
  if (playing !== null || !trajectories) return stopPlaying();
  let t = Number(slider.value) === 0 ? trajectories.T : Number(slider.value);
  playButton.textContent = 'Stop';
  drawTime(t);
  playing = setInterval(() => {
    t -= 1;
    slider.value = String(t);
    drawTime(t);
    if (t <= 0) stopPlaying();
  }, 250);
});

let gpu: Gpu | null = null;

/** Pause, resume and reset act between training chunks; `control` is what the buttons ask for. */
const control = { paused: false, reset: false, wake: () => {} };
class Reset extends Error {}

async function checkControls() {
  if (control.paused && !control.reset) {
    demo.state = 'paused';
    document.body.dataset.state = 'paused';
    await new Promise<void>((resolve) => (control.wake = resolve));
    demo.state = 'running';
    document.body.dataset.state = 'running';
  }
  if (control.reset) throw new Reset();
}

function setPaused(paused: boolean) {
  control.paused = paused;
  pauseButton.textContent = paused ? 'Resume' : 'Pause';
  if (!paused) control.wake();
}

async function run(s: Settings) {
  button.disabled = true;
  pauseButton.disabled = false;
  resetButton.disabled = false;
  control.reset = false;
  setPaused(false);
  errorBox.textContent = '';
  Object.assign(demo, {
    state: 'running',
    runs: demo.runs + 1,
    step: 0,
    settings: s,
    losses: [],
    snapshots: [],
    stepsPerSecond: undefined,
    samples: {},
    class0Share: {},
    time: undefined,
    error: undefined,
  });
  stopPlaying();
  trajectories = null;
  slider.disabled = true;
  playButton.disabled = true;
  document.body.dataset.state = 'running';
  for (const id of ['uncond', 'density', 'time', 'class0', 'class1']) {
    const ctx = $<HTMLCanvasElement>(id).getContext('2d')!;
    ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  }
  let trainer: TwoPixelTrainer | null = null;
  let again = false;
  try {
    gpu ??= await getBrowserGpu();
    const model = defaultTwoPixelConfig(s.T);
    status.textContent = 'Compiling the training kernels (a software adapter takes a while the first time)…';
    trainer = await TwoPixelTrainer.create(gpu.device, {
      ...defaultTrainOptions(model, s.seed),
      decaySteps: s.steps,
      pUncond: P_UNCOND,
    });
    const sample = (n: number, label: number | null, guidance: number | null, record = 0) =>
      sampleFused(gpu!.device, trainer!.program.store, {
        model,
        schedule: 'cosine',
        n,
        labels: label,
        guidance,
        seed: s.seed,
        record,
        clip: 3,
      });
    // Training time only: the clock runs over train() calls, not pauses or redraws.
    let trainingMs = 0;
    let lastSnapshot = 0;
    while (demo.step < s.steps) {
      await checkControls();
      // Chunks end at each redraw, so a snapshot is taken at exactly every `every` steps.
      const nextRedraw = (Math.floor(demo.step / s.every) + 1) * s.every;
      const n = Math.min(CHUNK, s.steps - demo.step, nextRedraw - demo.step);
      const t0 = performance.now();
      await trainer.train(n, (_, losses) => void demo.losses.push(...losses));
      trainingMs += performance.now() - t0;
      demo.step += n;
      demo.stepsPerSecond = demo.step / (trainingMs / 1000);
      progress.value = demo.step / s.steps;
      status.textContent = `training: step ${demo.step} of ${s.steps}, loss ${demo.losses[demo.losses.length - 1].toFixed(4)}, ${demo.stepsPerSecond.toFixed(1)} steps/s`;
      drawLoss(demo.losses, s.steps);
      if (demo.step % s.every === 0 || demo.step === s.steps) {
        await checkControls();
        const { samples } = await sample(s.n, null, null);
        const since = demo.losses.slice(lastSnapshot);
        const share = labelAccuracy(samples, 0);
        demo.snapshots.push({
          step: demo.step,
          loss: since.reduce((a, b) => a + b, 0) / since.length,
          class0Share: share,
        });
        lastSnapshot = demo.step;
        demo.samples.uncond = Array.from(samples);
        demo.class0Share.uncond = share;
        drawSamples('uncond', samples, '#555', `no label, step ${demo.step}: ${(100 * share).toFixed(1)} % at peak 0`);
        drawDensity('density', samples, `density of the samples, step ${demo.step}`);
      }
    }
    status.textContent = 'Sampling trajectories for the time slider…';
    await checkControls();
    const { trajectory } = await sample(s.n, null, null, s.n);
    showTrajectories(trajectory, s.T, s.n);
    status.textContent = 'Sampling with labels…';
    // Labels, guidance, colour, title; clipping the predicted x_0 to [-3, 3] as the runners do.
    const panels: [string, number, string][] = [
      ['class0', 0, '#1f5fa8'],
      ['class1', 1, '#d9730d'],
    ];
    for (const [id, label, color] of panels) {
      await checkControls();
      const { samples } = await sample(s.n, label, s.w);
      demo.samples[id] = Array.from(samples);
      demo.class0Share[id] = labelAccuracy(samples, 0);
      const share = `${(100 * labelAccuracy(samples, label)).toFixed(1)} % at peak ${label}`;
      drawSamples(id, samples, color, `label ${label}, w = ${s.w}: ${share}`);
    }
    const rate = demo.stepsPerSecond ? `, ${demo.stepsPerSecond.toFixed(1)} training steps/s` : '';
    status.textContent = `Done: ${s.steps} steps at T = ${s.T}${rate}; final loss ${demo.losses[demo.losses.length - 1].toFixed(4)}.`;
    demo.state = 'done';
  } catch (e) {
    if (e instanceof Reset) again = true;
    else {
      demo.state = 'error';
      demo.error = e instanceof Error ? e.message : String(e);
      errorBox.textContent = demo.error;
      status.textContent = '';
    }
  } finally {
    trainer?.destroy();
    pauseButton.disabled = true;
    resetButton.disabled = true;
    button.disabled = gpu === null;
    if (!again) document.body.dataset.state = demo.state;
  }
  // A reset starts the run again from step 0 with the form's settings (or these, if the form's are bad).
  if (again) {
    let next = s;
    try {
      next = readSettings(fromForm);
    } catch (e) {
      errorBox.textContent = (e as Error).message;
    }
    await run(next);
  }
}

pauseButton.addEventListener('click', () => setPaused(!control.paused));
resetButton.addEventListener('click', () => {
  control.reset = true;
  control.wake();
});

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
