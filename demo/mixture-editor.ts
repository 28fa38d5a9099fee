// The demo's data editor: a canvas showing the true PDF of the mixture the page trains on, whose
// peaks are dragged with the mouse, and a row of inputs per peak (weight, spread, class, remove)
// with a button that adds one, up to MAX_COMPONENTS. The training data drawn on the device from
// this mixture is shown as points over the PDF.
import { MAX_COMPONENTS, checkMixture, mixturePdf, spread, type Mixture } from '../src/data/mixture.js';

/** The plane the panels show, on both axes. */
export interface View {
  lo: number;
  hi: number;
}

/** One peak as the page edits it: its weight is relative (the mixture normalises the weights). */
export interface Peak {
  x: number;
  y: number;
  weight: number;
  spread: number;
  label: number;
}

/** The model's classes (the two-pixel UNet has two label slots besides "none"). */
export const CLASSES = [0, 1] as const;
export const CLASS_COLORS = ['#1f5fa8', '#d9730d'] as const;
const SPREAD = { lo: 0.02, hi: 0.5 };
const WEIGHT = { lo: 0.01, hi: 100 };

export function toMixture(peaks: readonly Peak[]): Mixture {
  const total = peaks.reduce((s, p) => s + p.weight, 0);
  const m: Mixture = {
    sigma: peaks[0]?.spread ?? 0,
    components: peaks.map((p) => ({ mean: [p.x, p.y], weight: p.weight / total, label: p.label, sigma: p.spread })),
  };
  checkMixture(m);
  return m;
}

export function fromMixture(m: Mixture): Peak[] {
  return m.components.map((c) => ({
    x: c.mean[0],
    y: c.mean[1],
    weight: c.weight,
    spread: spread(m, c),
    label: c.label,
  }));
}

/** The PDF in grey shades, darker where denser (the square root, so the tails show). */
export function pdfImage(m: Mixture, view: View, width: number, height: number): ImageData {
  const img = new ImageData(width, height);
  const peak = Math.max(...m.components.map((c) => mixturePdf(c.mean[0], c.mean[1], m)));
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const x = view.lo + ((px + 0.5) / width) * (view.hi - view.lo);
      const y = view.hi - ((py + 0.5) / height) * (view.hi - view.lo);
      const shade = 255 - Math.round(90 * Math.sqrt(mixturePdf(x, y, m) / peak));
      img.data.set([shade, shade, shade, 255], 4 * (py * width + px));
    }
  }
  return img;
}

/** Each peak's centre and one-sigma circle, in red, with its class. */
export function drawPeaks(ctx: CanvasRenderingContext2D, m: Mixture, view: View, numbered = false): void {
  const { width, height } = ctx.canvas;
  const scale = width / (view.hi - view.lo);
  ctx.strokeStyle = '#b00020';
  ctx.fillStyle = '#b00020';
  ctx.font = '11px system-ui, sans-serif';
  m.components.forEach((c, k) => {
    const cx = (c.mean[0] - view.lo) * scale,
      cy = height - (c.mean[1] - view.lo) * scale;
    ctx.beginPath();
    ctx.arc(cx, cy, spread(m, c) * scale, 0, 2 * Math.PI);
    ctx.moveTo(cx - 4, cy);
    ctx.lineTo(cx + 4, cy);
    ctx.moveTo(cx, cy - 4);
    ctx.lineTo(cx, cy + 4);
    ctx.stroke();
    if (numbered) ctx.fillText(`${k}: class ${c.label}`, cx + 6, cy - 6);
  });
}

export class MixtureEditor {
  private peaks: Peak[];
  private data: { xy: Float32Array; labels: Uint32Array } | null = null;
  private dragging: number | null = null;
  private background: ImageData | null = null;

  /**
   * `onChange(mixture, final)`: while a peak is dragged (final false), and when a drag ends or an
   * input changes (final true). `onError` gets the message naming a bad input.
   */
  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly rows: HTMLElement,
    private readonly addButton: HTMLButtonElement,
    private readonly view: View,
    initial: Mixture,
    private readonly onChange: (m: Mixture, final: boolean) => void,
    private readonly onError: (message: string) => void,
  ) {
    this.peaks = fromMixture(initial);
    canvas.addEventListener('pointerdown', (e) => this.pointerDown(e));
    canvas.addEventListener('pointermove', (e) => this.pointerMove(e));
    canvas.addEventListener('pointerup', () => this.pointerUp());
    canvas.addEventListener('pointercancel', () => this.pointerUp());
    addButton.addEventListener('click', () => this.addPeak());
    this.build();
  }

  mixture(): Mixture {
    return toMixture(this.peaks);
  }

  /** Moves peak k's centre (what a drag does), then reports the change as final. */
  movePeak(k: number, x: number, y: number): void {
    this.peak(k);
    this.setPeak(k, { x: this.clamp(x), y: this.clamp(y) });
    this.changed(true);
  }

  /** Where peak k's centre is on the page, in client pixels (for synthetic mouse events). */
  peakOnPage(k: number): { x: number; y: number } {
    const p = this.peak(k);
    const r = this.canvas.getBoundingClientRect();
    const scale = r.width / (this.view.hi - this.view.lo);
    return { x: r.left + (p.x - this.view.lo) * scale, y: r.top + r.height - (p.y - this.view.lo) * scale };
  }

  /** The training data drawn on the device from the current mixture, shown over the PDF. */
  showData(data: { xy: Float32Array; labels: Uint32Array } | null): void {
    this.data = data;
    this.draw();
  }

  private peak(k: number): Peak {
    const p = this.peaks[k];
    if (!Number.isInteger(k) || p === undefined)
      throw new Error(`peak ${k}: expected an integer from 0 to ${this.peaks.length - 1}`);
    return p;
  }

  private clamp(v: number): number {
    return Math.min(this.view.hi - 0.05, Math.max(this.view.lo + 0.05, v));
  }

  private setPeak(k: number, change: Partial<Peak>) {
    this.peaks = this.peaks.map((p, i) => (i === k ? { ...p, ...change } : p));
  }

  private changed(final: boolean) {
    this.background = null;
    this.data = null;
    this.draw();
    if (final) this.build();
    this.onChange(this.mixture(), final);
  }

  private fromEvent(e: PointerEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    const scale = (this.view.hi - this.view.lo) / r.width;
    return [this.view.lo + (e.clientX - r.left) * scale, this.view.lo + (r.bottom - e.clientY) * scale];
  }

  private pointerDown(e: PointerEvent) {
    const [x, y] = this.fromEvent(e);
    const scale = this.canvas.getBoundingClientRect().width / (this.view.hi - this.view.lo);
    let best = -1,
      bestD = 14;
    this.peaks.forEach((p, k) => {
      const d = Math.hypot(p.x - x, p.y - y) * scale;
      if (d < Math.max(bestD, p.spread * scale)) {
        best = k;
        bestD = d;
      }
    });
    if (best < 0) return;
    this.dragging = best;
    this.canvas.setPointerCapture(e.pointerId);
  }

  private pointerMove(e: PointerEvent) {
    if (this.dragging === null) return;
    const [x, y] = this.fromEvent(e);
    this.setPeak(this.dragging, { x: this.clamp(x), y: this.clamp(y) });
    this.changed(false);
  }

  private pointerUp() {
    if (this.dragging === null) return;
    this.dragging = null;
    this.changed(true);
  }

  private addPeak() {
    if (this.peaks.length >= MAX_COMPONENTS) return;
    const weight = this.peaks.reduce((s, p) => s + p.weight, 0) / this.peaks.length;
    this.peaks = [...this.peaks, { x: 0.2, y: 0.1, weight, spread: 0.1, label: this.peaks.length % CLASSES.length }];
    this.changed(true);
  }

  private draw() {
    const ctx = this.canvas.getContext('2d')!;
    const { width, height } = this.canvas;
    const m = this.mixture();
    this.background ??= pdfImage(m, this.view, width, height);
    ctx.putImageData(this.background, 0, 0);
    if (this.data) {
      const scale = width / (this.view.hi - this.view.lo);
      ctx.globalAlpha = 0.5;
      for (let i = 0; i < this.data.labels.length; i++) {
        ctx.fillStyle = CLASS_COLORS[this.data.labels[i]] ?? '#555';
        const px = (this.data.xy[2 * i] - this.view.lo) * scale,
          py = height - (this.data.xy[2 * i + 1] - this.view.lo) * scale;
        ctx.fillRect(px - 1, py - 1, 2, 2);
      }
      ctx.globalAlpha = 1;
    }
    drawPeaks(ctx, m, this.view, true);
  }

  /** The inputs: one row per peak (its weight's share shown beside it), and the add button's state. */
  private build() {
    const shares = this.mixture().components.map((c) => c.weight);
    this.rows.replaceChildren(
      ...this.peaks.map((p, k) => {
        const row = document.createElement('div');
        row.className = 'peak';
        row.dataset.peak = String(k);
        const number = (name: 'weight' | 'spread', range: { lo: number; hi: number }, step: number) => {
          const input = document.createElement('input');
          Object.assign(input, { type: 'number', name, min: range.lo, max: range.hi, step, value: String(p[name]) });
          input.setAttribute('aria-label', `peak ${k} ${name}`);
          input.addEventListener('change', () => {
            const v = Number(input.value);
            if (input.value.trim() === '' || !(v >= range.lo && v <= range.hi)) {
              this.onError(`peak ${k} ${name} = "${input.value}": expected a number from ${range.lo} to ${range.hi}`);
              input.value = String(p[name]);
              return;
            }
            this.setPeak(k, { [name]: v });
            this.changed(true);
          });
          const label = document.createElement('label');
          label.append(name, input);
          return label;
        };
        const cls = document.createElement('select');
        cls.name = 'class';
        cls.setAttribute('aria-label', `peak ${k} class`);
        for (const c of CLASSES) cls.add(new Option(String(c), String(c), false, c === p.label));
        cls.addEventListener('change', () => {
          this.setPeak(k, { label: Number(cls.value) });
          this.changed(true);
        });
        const clsLabel = document.createElement('label');
        clsLabel.append('class', cls);
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.textContent = 'Remove';
        remove.disabled = this.peaks.length === 1;
        remove.addEventListener('click', () => {
          this.peaks = this.peaks.filter((_, i) => i !== k);
          this.changed(true);
        });
        const head = document.createElement('span');
        head.textContent = `peak ${k} (${(100 * shares[k]).toFixed(0)} %)`;
        row.append(head, number('weight', WEIGHT, 0.05), number('spread', SPREAD, 0.01), clsLabel, remove);
        return row;
      }),
    );
    this.addButton.disabled = this.peaks.length >= MAX_COMPONENTS;
  }
}
