// The browser demo (demo/index.html): trains the two-pixel model of the study with the engine's
// fused kernels on navigator.gpu, live: every `every` steps it samples the model on the device and
// redraws the samples and their density over the true one; pause, resume and reset act between
// chunks of training. The data are a mixture the page edits (demo/mixture-editor.ts): moving,
// adding or removing a peak, or changing its weight, spread or class, restarts training on it.
// The time slider shows x_t from x_T to x_0 in 2-D and as a 3-D surface (demo/view3d.ts), binned
// on the device where the sampler leaves the trajectories (src/diffusion/density.ts), and
// resamples with its own label, guidance, sample count and seed, or as a shared-noise pair. At the
// end it samples the model with each label. The settings come from the form, or from the URL
// (?T=10&steps=200&every=100&w=1&n=500&seed=0; autorun=1 starts at once).
// window.demo holds what the run measured (the browser test, test/browser.test.ts, reads it) and
// <body data-state> is "running", "paused", "done" or "error".
import { getBrowserGpu } from '../src/gpu/browser.js';
import type { Gpu } from '../src/gpu/gpu.js';
import { CHUNK, TwoPixelTrainer, defaultTrainOptions, sampleFused, visitedTimes } from '../src/diffusion/twopixel.js';
import { TrajectoryDensity, rowStats, type TrajectoryShape, type TrajectorySummary } from '../src/diffusion/density.js';
import { defaultTwoPixelConfig, type TwoPixelConfig } from '../src/models/twopixel/unet.js';
import { MIXTURE, mixturePdf, sampleMixture, spread, type Mixture } from '../src/data/mixture.js';
import { labelAccuracy, meanLogDensity, modeStats } from '../src/diffusion/metrics.js';
import { Graph } from '../src/core/graph.js';
import { Program } from '../src/core/program.js';
import { twoPixelBatch } from '../src/diffusion/ops.js';
import { scheduleTable, scheduleValue, SCHEDULE_WIDTH } from '../src/diffusion/tables.js';
import { makeSchedule } from '../src/diffusion/schedule.js';
import { CLASS_COLORS, MixtureEditor, drawPeaks, pdfImage } from './mixture-editor.js';
import { DensityView, type FrameStats } from './view3d.js';

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
  /** Share of the unconditional samples nearest to a class-0 peak. */
  class0Share: number;
}

/** The study's fidelity numbers (SPEC 6.5) for the unconditional samples, against the page's mixture. */
interface Fidelity {
  step: number;
  /** Per peak: the share of samples nearest to it and their spread, beside the true ones. */
  modes: { peak: number; label: number; weight: number; trueWeight: number; spread: number; trueSpread: number }[];
  meanLogDensity: number;
  /** The same of true samples (4000, seed 0): what a perfect model scores. */
  trueMeanLogDensity: number;
}

/** What the time slider's panels show: sets of trajectories, each sampled with a label (null: none). */
interface TimeSet {
  label: number | null;
  w: number;
}

interface DemoResult {
  state: 'running' | 'paused' | 'done' | 'error';
  /** Runs started on this page (a reset or a change of the data starts another). */
  runs: number;
  /** Training steps taken in the current run. */
  step: number;
  adapter: string;
  settings?: Settings;
  /** The data the current run trains on (weights normalised). */
  mixture: Mixture;
  /** A training batch drawn on the device from that mixture: its size and mean. */
  data?: { n: number; mean: [number, number] };
  /** Every training step's loss, in order. */
  losses: number[];
  /** Training steps per second of training time (pauses and sampling left out). */
  stepsPerSecond?: number;
  /** Training steps in the last submit (at most 25; fewer where a step is slow, see SUBMIT_MS). */
  stepsPerSubmit?: number;
  snapshots: Snapshot[];
  fidelity?: Fidelity;
  /**
   * The time slider: t, and the mean and standard deviation of both coordinates of x_t over all
   * its trajectories; per set its label and mean at t, and its x_T (the first sample's).
   */
  time?: {
    t: number;
    T: number;
    mean: number;
    std: number;
    n: number;
    seed: number;
    /** The steps the trajectories visit, T down to 0 (every t for DDPM). */
    times: number[];
    sets: { label: number | null; mean: [number, number]; xT: [number, number] }[];
    /**
     * The histogram of x_t drawn (before smoothing), as read back from the device: GRID x GRID
     * counts over every set, row-major from the bottom-left of the view; points outside it are in none.
     */
    bins: number[];
  };
  /** The 3-D view's last frame. */
  view3d?: FrameStats;
  /**
   * Per control event, milliseconds from the event to the page's redrawn panels (`ms`), and to the
   * next animation frame after that (`frameMs`: when the browser shows it), for the controls that
   * move the 3-D view (t, truth, view3d) to its first frame begun after the event (`viewMs`), and
   * the run's state.
   */
  latency: { control: string; event: string; ms: number; frameMs?: number; viewMs?: number; state: string }[];
  /** Samples [n, 2] interleaved, per panel. */
  samples: Record<string, number[]>;
  /** Share of each panel's samples nearest to a class-0 peak. */
  class0Share: Record<string, number>;
  error?: string;
}

const demo: DemoResult = {
  state: 'running',
  runs: 0,
  step: 0,
  adapter: '',
  mixture: MIXTURE,
  losses: [],
  snapshots: [],
  latency: [],
  samples: {},
  class0Share: {},
};

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
/**
 * Training steps per submit, at most: a quarter of the trainer's CHUNK. Fewer where steps are
 * slow: a submit holds about SUBMIT_MS of device work, so that a control's sampling, a pause or
 * the 3-D view's frame waits in the device's queue behind that much training, not the seconds
 * that 25 steps take on a software adapter.
 */
const STEPS_PER_SUBMIT = CHUNK / 4;
const SUBMIT_MS = 40;
/** Training examples drawn on the device to show the data. */
const DATA_SHOWN = 1000;

function readSettings(source: (name: string) => string | null): Settings {
  const integer = (name: string, lo: number, hi: number) => {
    const raw = source(name) ?? '';
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(v) || v < lo || v > hi)
      throw new Error(`${name} = "${raw}": expected an integer from ${lo} to ${hi}`);
    return v;
  };
  return {
    T: integer('T', 2, 1000),
    steps: integer('steps', 1, 100000),
    every: integer('every', 1, 100000),
    w: guidance(source('w')),
    n: integer('n', 1, 20000),
    seed: integer('seed', 0, 2 ** 32 - 1),
  };
}

function guidance(raw: string | null): number {
  const w = Number(raw ?? '');
  if (raw === null || raw.trim() === '' || !(Number.isFinite(w) && w >= 0 && w <= 10))
    throw new Error(`guidance w = "${raw}": expected a number from 0 to 10`);
  return w;
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

function showError(message: string) {
  errorBox.textContent = message;
}

const toPixel = (v: number, size: number) => ((v - VIEW.lo) / (VIEW.hi - VIEW.lo)) * size;

/** The mixture the page shows and the next run trains on. */
let mixture: Mixture = MIXTURE;
let background: { m: Mixture; img: ImageData } | null = null;
function densityBackground(ctx: CanvasRenderingContext2D): ImageData {
  const { width, height } = ctx.canvas;
  if (background?.m === mixture && background.img.width === width && background.img.height === height)
    return background.img;
  background = { m: mixture, img: pdfImage(mixture, VIEW, width, height) };
  return background.img;
}

/** The classes of the mixture's peaks, in order. */
const classes = (m: Mixture) => [...new Set(m.components.map((c) => c.label))].sort();

function drawSamples(id: string, xy: Float32Array, color: string, title: string) {
  const ctx = $<HTMLCanvasElement>(id).getContext('2d')!;
  const { width, height } = ctx.canvas;
  ctx.putImageData(densityBackground(ctx), 0, 0);
  ctx.fillStyle = color;
  ctx.globalAlpha = 0.5;
  for (let i = 0; i < xy.length; i += 2)
    ctx.fillRect(toPixel(xy[i], width) - 1, height - toPixel(xy[i + 1], height) - 1, 2, 2);
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
 * The density on a GRID x GRID lattice over the view (row-major from the bottom-left), in points
 * per unit area over `points` (all of them, those outside the view too): the histogram `counts`
 * (binned on the device, src/diffusion/density.ts) smoothed by a Gaussian of standard deviation
 * `bandwidth` (at least a cell), cut at three of them.
 */
const GRID = 40;
const CELL = (VIEW.hi - VIEW.lo) / GRID;
const DENSITY_GRID = { lo: VIEW.lo, cell: CELL, size: GRID };
function smoothBins(counts: ArrayLike<number>, points: number, bandwidth = CELL): Float64Array {
  const grid = Float64Array.from(counts);
  const sigma = Math.max(1, bandwidth / CELL);
  const reach = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * reach + 1 }, (_, i) => Math.exp(-((i - reach) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  // Separable: along x, then along y.
  const blur = (from: Float64Array, step: number, across: number) => {
    const out = new Float64Array(GRID * GRID);
    for (let line = 0; line < GRID; line++)
      for (let i = 0; i < GRID; i++) {
        let sum = 0;
        for (let d = -reach; d <= reach; d++)
          if (i + d >= 0 && i + d < GRID) sum += kernel[d + reach] * from[line * across + (i + d) * step];
        out[line * across + i * step] = sum / total;
      }
    return out;
  };
  const smooth = blur(blur(grid, 1, GRID), GRID, 1);
  const norm = points * CELL * CELL;
  return smooth.map((v) => v / norm);
}

/** The samples' smoothed density in blue over the true density (grey), with the true peaks in red. */
function drawDensity(id: string, smooth: Float64Array, title: string) {
  const ctx = $<HTMLCanvasElement>(id).getContext('2d')!;
  const { width, height } = ctx.canvas;
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
  drawPeaks(ctx, mixture, VIEW);
  ctx.fillStyle = '#222';
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillText(title, 8, 18);
}

/** The fidelity table under the panels (modeStats and meanLogDensity of src/diffusion/metrics.ts). */
let trueLogDensity: { m: Mixture; value: number } | null = null;
function showFidelity(step: number, xy: Float32Array) {
  if (trueLogDensity?.m !== mixture)
    trueLogDensity = { m: mixture, value: meanLogDensity(sampleMixture(4000, 0, undefined, 0, mixture).xy, mixture) };
  const modes = modeStats(xy, mixture).map((mode, k) => ({
    peak: k,
    label: mode.label,
    weight: mode.weight,
    trueWeight: mixture.components[k].weight,
    spread: mode.pooledStd,
    trueSpread: spread(mixture, mixture.components[k]),
  }));
  demo.fidelity = {
    step,
    modes,
    meanLogDensity: meanLogDensity(xy, mixture),
    trueMeanLogDensity: trueLogDensity.value,
  };
  const f = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
  const cell = (tag: 'td' | 'th', text: string) => Object.assign(document.createElement(tag), { textContent: text });
  const row = (tag: 'td' | 'th', cells: string[]) => {
    const tr = document.createElement('tr');
    tr.append(...cells.map((c) => cell(tag, c)));
    return tr;
  };
  $('fidelity').replaceChildren(
    Object.assign(document.createElement('caption'), {
      textContent: `The unconditional samples at step ${step} against the true mixture (the study's fidelity numbers)`,
    }),
    row('th', ['peak', 'class', 'weight', 'true', 'spread', 'true']),
    ...modes.map((m) =>
      row('td', [String(m.peak), String(m.label), f(m.weight), f(m.trueWeight), f(m.spread), f(m.trueSpread)]),
    ),
    row('td', ['mean log p', '', f(demo.fidelity.meanLogDensity, 2), f(demo.fidelity.trueMeanLogDensity, 2), '', '']),
  );
}

/** Trajectories drawn as lines on the time slider's panel, per set. */
const TRACES = 5;
const slider = $<HTMLInputElement>('t');
const playButton = $<HTMLButtonElement>('play');
const timeForm = $<HTMLFormElement>('time-controls');
const pairButton = $<HTMLButtonElement>('pair');
const truthToggle = $<HTMLInputElement>('truth');
/**
 * The slider's trajectories, as read back from the device: per visited step (row s holds t =
 * times[s], every t for DDPM, DDIM's steps) the bins, the sums and TRACES trajectories per set.
 */
let trajectories: {
  sets: TimeSet[];
  T: number;
  n: number;
  seed: number;
  times: Uint32Array;
  shape: TrajectoryShape;
  summary: TrajectorySummary;
} | null = null;

/** The row of the visited step nearest t. */
function rowAt(times: Uint32Array, t: number): number {
  let best = 0;
  times.forEach((v, s) => {
    if (Math.abs(v - t) < Math.abs(times[best] - t)) best = s;
  });
  return best;
}
let view: DensityView | null = null;

/** The true density of x_t on the grid: the mixture's peaks at sqrt(abar_t) m, spread sqrt(abar_t s^2 + 1 - abar_t). */
function trueDensityAt(t: number, T: number): Float64Array {
  const ab = makeSchedule('cosine', T).alphasCumprod[t];
  const noised: Mixture = {
    sigma: 1,
    components: mixture.components.map((c) => ({
      ...c,
      mean: [Math.sqrt(ab) * c.mean[0], Math.sqrt(ab) * c.mean[1]],
      sigma: Math.sqrt(ab * spread(mixture, c) ** 2 + 1 - ab),
    })),
  };
  const grid = new Float64Array(GRID * GRID);
  for (let gy = 0; gy < GRID; gy++)
    for (let gx = 0; gx < GRID; gx++)
      grid[gy * GRID + gx] = mixturePdf(VIEW.lo + (gx + 0.5) * CELL, VIEW.lo + (gy + 0.5) * CELL, noised);
  return grid;
}

/** The time slider's panels at t: the density of x_t over all trajectories in 2-D and 3-D, TRACES per set from x_T to x_t. */
function drawTime(asked: number) {
  if (!trajectories) return;
  const { sets, T, n, times, shape, summary } = trajectories;
  // The nearest step the sampler visited (DDIM skips steps); row s holds x at t = times[s].
  const row = rowAt(times, asked);
  const t = times[row];
  slider.value = String(t);
  // Trajectory k of set `set` at row s, of the TRACES read back.
  const K = shape.traces;
  const traced = (set: number, s: number, k: number): [number, number] => {
    const at = 2 * ((set * shape.rows + s) * K + k);
    return [summary.traces[at], summary.traces[at + 1]];
  };
  const bins = summary.bins.subarray(row * GRID * GRID, (row + 1) * GRID * GRID);
  const stats = rowStats(summary.sums, shape, row);
  demo.time = {
    t,
    T,
    mean: stats.mean,
    std: stats.std,
    n,
    seed: trajectories.seed,
    times: Array.from(times),
    sets: sets.map((set, k) => ({ label: set.label, mean: stats.setMeans[k], xT: traced(k, 0, 0) })),
    bins: Array.from(bins),
  };
  const name = sets.map((s) => (s.label === null ? 'no label' : `label ${s.label}`)).join(' vs ');
  // Scott's rule for the bandwidth, n^(-1/6) times the narrowest peak's spread at t.
  const ab = makeSchedule('cosine', T).alphasCumprod[t];
  const narrowest = Math.min(...mixture.components.map((c) => spread(mixture, c)));
  const points = sets.length * n;
  const density = smoothBins(bins, points, points ** (-1 / 6) * Math.sqrt(ab * narrowest ** 2 + 1 - ab));
  drawDensity('time', density, `x_t at t = ${t} of ${T} (${name})`);
  const ctx = $<HTMLCanvasElement>('time').getContext('2d')!;
  const { width, height } = ctx.canvas;
  ctx.globalAlpha = 0.8;
  sets.forEach((set, j) => {
    const color = set.label === null ? '#d9730d' : CLASS_COLORS[set.label];
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    for (let k = 0; k < K; k++) {
      ctx.beginPath();
      for (let s = 0; s <= row; s++) {
        const [x, y] = traced(j, s, k);
        if (s === 0) ctx.moveTo(toPixel(x, width), height - toPixel(y, height));
        else ctx.lineTo(toPixel(x, width), height - toPixel(y, height));
      }
      ctx.stroke();
      const [x, y] = traced(j, row, k);
      ctx.fillRect(toPixel(x, width) - 3, height - toPixel(y, height) - 3, 6, 6);
    }
  });
  ctx.globalAlpha = 1;
  $('t-value').textContent = `t = ${t}`;
  if (view) {
    const truth = trueDensityAt(t, T);
    view.show(density, truthToggle.checked ? truth : null, GRID, 0.9 / Math.max(...truth));
    $('view3d-caption-t').textContent = `t = ${t} of ${T}`;
  }
}

function showTrajectories(sets: TimeSet[], T: number, n: number, seed: number, sampled: Sampled) {
  const keep = trajectories?.T === T ? Number(slider.value) : T;
  trajectories = { sets, T, n, seed, times: sampled.times, shape: sampled.shape, summary: sampled.summary };
  slider.max = String(T);
  slider.value = String(keep);
  slider.disabled = false;
  playButton.disabled = false;
  drawTime(keep);
}

/** Records how long a control took to answer, once its handler has redrawn the page (see DemoResult.latency). */
function measure(control: string, event: Event) {
  const entry: DemoResult['latency'][number] = {
    control,
    event: event.type,
    ms: performance.now() - event.timeStamp,
    state: demo.state,
  };
  demo.latency.push(entry);
  requestAnimationFrame(() => void (entry.frameMs = performance.now() - event.timeStamp));
  if (MOVES_VIEW.has(control)) awaitingView.push({ entry, at: event.timeStamp });
}

/** The controls whose answer includes a new frame of the 3-D view, and their entries still waiting for it. */
const MOVES_VIEW = new Set(['t', 'truth', 'view3d']);
let awaitingView: { entry: DemoResult['latency'][number]; at: number }[] = [];
function viewAnswered(stats: FrameStats) {
  for (const w of awaitingView) if (stats.startedAt >= w.at) w.entry.viewMs = stats.shownAt - w.at;
  awaitingView = awaitingView.filter((w) => w.entry.viewMs === undefined);
}

/** A control's name for DemoResult.latency: its id, else its form's id and its name, else its label; null for no control. */
function controlName(target: EventTarget | null): string | null {
  if (!(target instanceof HTMLElement)) return null;
  const control = target.closest('button, input, select, canvas');
  if (!(control instanceof HTMLElement)) return null;
  if (control.id) return control.id;
  const name = control.getAttribute('name');
  const form = (control as HTMLInputElement).form;
  if (name) return form?.id ? `${form.id}.${name}` : name;
  return control.getAttribute('aria-label') ?? control.tagName.toLowerCase();
}

// Every control is timed the same way: the document hears an event after the control's own
// listeners have run, so by then the page has drawn its answer (a drag: while a button is held).
for (const type of ['click', 'input', 'change', 'pointerdown', 'pointermove', 'pointerup'])
  document.addEventListener(type, (e) => {
    if (type === 'pointermove' && (e as PointerEvent).buttons === 0) return;
    const control = controlName(e.target);
    if (control) measure(control, e);
  });

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
  const { times } = trajectories;
  // Through the steps the sampler visited, from the slider's (or from T when it stands at 0).
  let row = Number(slider.value) === 0 ? 0 : rowAt(times, Number(slider.value));
  playButton.textContent = 'Stop';
  slider.value = String(times[row]);
  drawTime(times[row]);
  playing = setInterval(() => {
    row += 1;
    slider.value = String(times[row]);
    drawTime(times[row]);
    if (row >= times.length - 1) stopPlaying();
  }, 250);
});
truthToggle.addEventListener('change', () => drawTime(Number(slider.value)));

let gpu: Gpu | null = null;
/** The model as it stands: its trainer (whose parameters the samplers read) and settings. */
let current: { trainer: TwoPixelTrainer; model: TwoPixelConfig; s: Settings } | null = null;
/** Device work (training chunks, sampling, freeing a trainer) one piece at a time, in order. */
let queue: Promise<unknown> = Promise.resolve();
function exclusive<R>(work: () => Promise<R>): Promise<R> {
  const next = queue.then(work);
  queue = next.catch(() => {});
  return next;
}

/** Pause, resume and reset act between training chunks; `control` is what the buttons ask for. */
const control = { paused: false, reset: false, wake: () => {} };
class Reset extends Error {}

async function checkControls() {
  if (control.paused && !control.reset) {
    demo.state = 'paused';
    document.body.dataset.state = 'paused';
    status.textContent = `Paused at step ${demo.step}.`;
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

/** How the time slider samples: DDPM over every step, or deterministic DDIM (eta = 0) over `steps` of them. */
interface Sampler {
  sampler: 'ddpm' | 'ddim';
  steps: number;
}

function sample(
  n: number,
  label: number | null,
  w: number | null,
  seed: number,
  record = 0,
  how: Sampler = { sampler: 'ddpm', steps: 0 },
  trajectoryTo?: GPUBufferBinding,
) {
  const c = current;
  if (!c) throw new Error('no model to sample: train one first');
  return exclusive(() =>
    sampleFused(gpu!.device, c.trainer.program.store, {
      model: c.model,
      schedule: 'cosine',
      n,
      labels: label,
      guidance: label === null ? null : w,
      seed,
      record,
      // Clipping the predicted x_0 to [-3, 3], as the runners do.
      clip: 3,
      ...(how.sampler === 'ddim' ? { sampler: 'ddim' as const, sampleSteps: how.steps, eta: 0 } : {}),
      trajectoryTo,
    }),
  );
}

/** What sampleTrajectories gives: each set's x_0, and what the slider draws of the trajectories. */
interface Sampled {
  samples: Float32Array[];
  times: Uint32Array;
  shape: TrajectoryShape;
  summary: TrajectorySummary;
}

/**
 * n trajectories per label (the same seed for each: the same x_T and step noise), every step
 * recorded on the device and summarised there (src/diffusion/density.ts): only each set's x_0,
 * the bins, the sums and TRACES trajectories per set are read back.
 */
async function sampleTrajectories(
  labels: (number | null)[],
  w: number | null,
  n: number,
  seed: number,
  how: Sampler = { sampler: 'ddpm', steps: 0 },
): Promise<Sampled> {
  const c = current;
  if (!c) throw new Error('no model to sample: train one first');
  const times = visitedTimes({ model: c.model, sampler: how.sampler, sampleSteps: how.steps });
  const shape = { sets: labels.length, rows: times.length, n, grid: DENSITY_GRID, traces: Math.min(TRACES, n) };
  const density = await TrajectoryDensity.create(gpu!.device, shape);
  try {
    const samples: Float32Array[] = [];
    for (const [k, label] of labels.entries())
      samples.push((await sample(n, label, w, seed, n, how, density.target(k))).samples);
    const summary = await exclusive(() => density.summarize());
    return { samples, times, shape, summary };
  } finally {
    density.destroy();
  }
}

/** DATA_SHOWN training examples drawn on the device from the mixture (x_0 recovered from x_t and eps). */
async function drawData(device: GPUDevice, m: Mixture, T: number, seed: number) {
  const g = new Graph('demo data');
  const schedule = g.input('schedule', [T + 1, SCHEDULE_WIDTH]);
  const b = twoPixelBatch(g, DATA_SHOWN, T, schedule, 0, m);
  const program = await Program.compile(device, g, { seed, keep: [b.x, b.eps, b.t, b.y] });
  try {
    const table = scheduleTable('cosine', T);
    program.write(schedule, table);
    program.run(1);
    const [x, eps, t, y] = await Promise.all([b.x, b.eps, b.t, b.y].map((v) => program.read(v)));
    const xy = new Float32Array(2 * DATA_SHOWN);
    for (let i = 0; i < 2 * DATA_SHOWN; i++) {
      const step = t[i >> 1];
      xy[i] = (x[i] - scheduleValue(table, step, 'sqrt_1m_ab') * eps[i]) / scheduleValue(table, step, 'sqrt_ab');
    }
    return { xy, labels: Uint32Array.from(y) };
  } finally {
    program.destroy();
    program.store.destroy();
  }
}

async function run(s: Settings) {
  button.disabled = true;
  pauseButton.disabled = false;
  resetButton.disabled = false;
  control.reset = false;
  setPaused(false);
  errorBox.textContent = '';
  const m = mixture;
  Object.assign(demo, {
    state: 'running',
    runs: demo.runs + 1,
    step: 0,
    settings: s,
    mixture: m,
    data: undefined,
    losses: [],
    snapshots: [],
    fidelity: undefined,
    stepsPerSecond: undefined,
    stepsPerSubmit: undefined,
    samples: {},
    class0Share: {},
    time: undefined,
    error: undefined,
  });
  stopPlaying();
  trajectories = null;
  slider.disabled = true;
  playButton.disabled = true;
  pairButton.disabled = true;
  document.body.dataset.state = 'running';
  for (const id of ['uncond', 'density', 'time', 'class0', 'class1']) {
    const ctx = $<HTMLCanvasElement>(id).getContext('2d')!;
    ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  }
  const old = current;
  current = null;
  if (old) await exclusive(async () => old.trainer.destroy());
  let again = false;
  try {
    gpu ??= await getBrowserGpu();
    const device = gpu.device;
    const model = defaultTwoPixelConfig(s.T);
    status.textContent = 'Compiling the training kernels (a software adapter takes a while the first time)…';
    const trainer = await exclusive(() =>
      TwoPixelTrainer.create(device, {
        ...defaultTrainOptions(model, s.seed),
        decaySteps: s.steps,
        pUncond: P_UNCOND,
        mixture: m,
      }),
    );
    current = { trainer, model, s };
    const data = await exclusive(() => drawData(device, m, s.T, s.seed));
    editor.showData(data);
    demo.data = { n: DATA_SHOWN, mean: meanXY(data.xy) };
    // Training time only: the clock runs over train() calls, not pauses, redraws or the queue.
    let trainingMs = 0;
    let msPerStep = 0;
    let lastSnapshot = 0;
    while (demo.step < s.steps) {
      await checkControls();
      // Chunks end at each redraw, so a snapshot is taken at exactly every `every` steps.
      const nextRedraw = (Math.floor(demo.step / s.every) + 1) * s.every;
      const fit = msPerStep > 0 ? Math.max(1, Math.floor(SUBMIT_MS / msPerStep)) : 1;
      const n = Math.min(fit, STEPS_PER_SUBMIT, s.steps - demo.step, nextRedraw - demo.step);
      await exclusive(async () => {
        const t0 = performance.now();
        await trainer.train(n, (_, losses) => void demo.losses.push(...losses));
        const ms = performance.now() - t0;
        trainingMs += ms;
        msPerStep = ms / n;
      });
      demo.stepsPerSubmit = n;
      demo.step += n;
      demo.stepsPerSecond = demo.step / (trainingMs / 1000);
      progress.value = demo.step / s.steps;
      status.textContent = `training: step ${demo.step} of ${s.steps}, loss ${demo.losses[demo.losses.length - 1].toFixed(4)}, ${demo.stepsPerSecond.toFixed(1)} steps/s`;
      drawLoss(demo.losses, s.steps);
      if (demo.step % s.every === 0 || demo.step === s.steps) {
        await checkControls();
        // The unconditional samples, every trajectory recorded and summarised for the time slider.
        const sampled = await sampleTrajectories([null], null, s.n, s.seed);
        const samples = sampled.samples[0];
        const since = demo.losses.slice(lastSnapshot);
        const share = labelAccuracy(samples, 0, m);
        demo.snapshots.push({
          step: demo.step,
          loss: since.reduce((a, b) => a + b, 0) / since.length,
          class0Share: share,
        });
        lastSnapshot = demo.step;
        demo.samples.uncond = Array.from(samples);
        demo.class0Share.uncond = share;
        drawSamples('uncond', samples, '#555', `no label, step ${demo.step}: ${(100 * share).toFixed(1)} % at class 0`);
        // x_0, the last row: binned on the device.
        const last = sampled.times.length - 1;
        const x0 = sampled.summary.bins.subarray(last * GRID * GRID, (last + 1) * GRID * GRID);
        drawDensity('density', smoothBins(x0, s.n), `density of the samples, step ${demo.step}`);
        showFidelity(demo.step, samples);
        // The time slider shows these trajectories unless its own settings ask for others.
        const field = (name: string) => (timeForm.elements.namedItem(name) as HTMLInputElement).value;
        if (
          field('label') === 'none' &&
          field('sampler') === 'ddpm' &&
          field('samples') === String(s.n) &&
          field('seed') === String(s.seed)
        )
          showTrajectories([{ label: null, w: 0 }], s.T, s.n, s.seed, sampled);
        else await resampleTime().catch((e) => showError((e as Error).message));
        pairButton.disabled = classes(m).length < 2;
      }
    }
    status.textContent = 'Sampling with labels…';
    const panels: [string, number][] = [
      ['class0', 0],
      ['class1', 1],
    ];
    for (const [id, label] of panels) {
      await checkControls();
      if (!classes(m).includes(label)) {
        drawSamples(id, new Float32Array(0), '#555', `no peak has class ${label}`);
        continue;
      }
      const { samples } = await sample(s.n, label, s.w, s.seed);
      demo.samples[id] = Array.from(samples);
      demo.class0Share[id] = labelAccuracy(samples, 0, m);
      const share = `${(100 * labelAccuracy(samples, label, m)).toFixed(1)} % at class ${label}`;
      drawSamples(id, samples, CLASS_COLORS[label], `label ${label}, w = ${s.w}: ${share}`);
    }
    const rate = demo.stepsPerSecond ? `, ${demo.stepsPerSecond.toFixed(1)} training steps/s` : '';
    status.textContent = `Done: ${s.steps} steps at T = ${s.T}${rate}; final loss ${demo.losses[demo.losses.length - 1].toFixed(4)}.`;
    demo.state = 'done';
  } catch (e) {
    if (e instanceof Reset) again = true;
    else {
      demo.state = 'error';
      demo.error = e instanceof Error ? e.message : String(e);
      showError(demo.error);
      status.textContent = '';
    }
  } finally {
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
      showError((e as Error).message);
    }
    await run(next);
  }
}

function meanXY(xy: Float32Array): [number, number] {
  let x = 0,
    y = 0;
  for (let i = 0; i < xy.length; i += 2) {
    x += xy[i];
    y += xy[i + 1];
  }
  return [x / (xy.length / 2), y / (xy.length / 2)];
}

/** The time slider's own sampling settings: label (null: none), guidance, sample count and seed. */
function timeSettings(): { label: number | null; w: number; n: number; seed: number } & Sampler {
  const field = (name: string) => (timeForm.elements.namedItem(name) as HTMLInputElement).value;
  const integer = (name: string, lo: number, hi: number) => {
    const raw = field(name);
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(v) || v < lo || v > hi)
      throw new Error(`time slider ${name} = "${raw}": expected an integer from ${lo} to ${hi}`);
    return v;
  };
  const label = field('label');
  const sampler = field('sampler');
  if (sampler !== 'ddpm' && sampler !== 'ddim')
    throw new Error(`time slider sampler = "${sampler}": expected ddpm or ddim`);
  const T = current?.s.T ?? 1000;
  return {
    sampler,
    steps: sampler === 'ddim' ? integer('steps', 1, T) : T,
    label: label === 'none' ? null : Number(label),
    w: guidance(field('w')),
    n: integer('samples', 1, 20000),
    seed: integer('seed', 0, 2 ** 32 - 1),
  };
}

/** Samples the time slider's trajectories again with its settings; `pair`: label 0 and label 1 from the same x_T. */
async function resampleTime(pair = false) {
  const c = current;
  if (!c) return;
  const o = timeSettings();
  const labels = pair ? [0, 1] : [o.label];
  // The same seed gives the same x_T and step noise for every label: the pair shares its noise.
  const sampled = await sampleTrajectories(labels, o.w, o.n, o.seed, o);
  const sets = labels.map((label) => ({ label, w: o.w }));
  if (current === c) showTrajectories(sets, c.s.T, o.n, o.seed, sampled);
}

async function onTimeControl(pair: boolean) {
  try {
    timeSettings();
    $('time-status').textContent = current ? 'sampling…' : 'train a model first';
    await resampleTime(pair);
    $('time-status').textContent = '';
  } catch (err) {
    $('time-status').textContent = '';
    showError((err as Error).message);
  }
}

timeForm.addEventListener('change', () => void onTimeControl(false));
timeForm.addEventListener('submit', (e) => e.preventDefault());
pairButton.addEventListener('click', () => void onTimeControl(true));

function fillLabels(m: Mixture) {
  const select = timeForm.elements.namedItem('label') as HTMLSelectElement;
  const keep = select.value;
  select.replaceChildren(new Option('none', 'none'), ...classes(m).map((c) => new Option(`class ${c}`, String(c))));
  select.value = Array.from(select.options).some((o) => o.value === keep) ? keep : 'none';
}

/** A changed mixture restarts training on it (a finished or failed run starts a new one). */
function onMixture(m: Mixture, final: boolean) {
  mixture = m;
  if (!final) return;
  fillLabels(m);
  errorBox.textContent = '';
  if (demo.state === 'running' || demo.state === 'paused') {
    control.reset = true;
    control.wake();
    status.textContent = 'The data changed: training starts again on them once the steps under way are done…';
    return;
  }
  if (gpu === null) return;
  try {
    void run(readSettings(fromForm));
  } catch (e) {
    showError((e as Error).message);
  }
}

const editor = new MixtureEditor(
  $<HTMLCanvasElement>('mixture'),
  $('peaks'),
  $<HTMLButtonElement>('add-peak'),
  VIEW,
  MIXTURE,
  onMixture,
  showError,
);
(window as unknown as { demo: DemoResult & { movePeak: (k: number, x: number, y: number) => void } }).demo =
  Object.assign(demo, {
    /** Moves peak k's centre to (x, y), as a drag does. */
    movePeak: (k: number, x: number, y: number) => editor.movePeak(k, x, y),
  });

pauseButton.addEventListener('click', () => {
  setPaused(!control.paused);
  if (control.paused) status.textContent = 'Pausing once the steps under way are done…';
});
resetButton.addEventListener('click', () => {
  control.reset = true;
  control.wake();
  status.textContent = 'Reset: training starts again from step 0 once the steps under way are done…';
});

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  let s: Settings;
  try {
    s = readSettings(fromForm);
  } catch (e) {
    showError((e as Error).message);
    return;
  }
  void run(s);
});

async function start() {
  const params = new URLSearchParams(location.search);
  setForm(params);
  for (const name of ['w', 'seed'] as const) {
    const v = params.get(name);
    if (v !== null) (timeForm.elements.namedItem(name) as HTMLInputElement).value = v;
  }
  const n = params.get('n');
  if (n !== null) (timeForm.elements.namedItem('samples') as HTMLInputElement).value = n;
  try {
    gpu = await getBrowserGpu();
    demo.adapter = gpu.adapterName;
    $('adapter').textContent =
      `WebGPU adapter: ${gpu.adapterName}${gpu.kind === 'hardware' ? '' : ' (a software adapter: expect minutes, not seconds)'}.`;
    view = await DensityView.create(gpu.device, $<HTMLCanvasElement>('view3d'));
    view.onFrame = (stats) => {
      demo.view3d = stats;
      viewAnswered(stats);
    };
    button.disabled = false;
    document.body.dataset.state = 'ready';
  } catch (e) {
    $('adapter').textContent = '';
    demo.state = 'error';
    demo.error = (e as Error).message;
    showError(demo.error);
    document.body.dataset.state = 'error';
    return;
  }
  if (params.get('autorun') === '1') {
    try {
      await run(readSettings((name) => params.get(name) ?? fromForm(name)));
    } catch (e) {
      demo.state = 'error';
      demo.error = (e as Error).message;
      showError(demo.error);
      document.body.dataset.state = 'error';
    }
  }
}

void start();
