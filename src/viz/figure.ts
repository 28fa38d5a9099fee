// Multi-panel figures of the two-pixel plane: each panel is one Observable Plot SVG (drawn in
// Node on linkedom's document) holding a heat map, contour lines, a scatter, trajectories and
// labelled markers over the same square range; the panels are nested in one SVG with the titles
// and rasterised to PNG by sharp.
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import { writeFileAtomic } from '../io/atomic.js';
import { checkGrid, checkInteger, checkPairs, checkRange, type Grid, type Range } from './grid.js';
import { colourRamp, escapeXml, FONT_FAMILY, rgbaToDataUri, svgToPng } from './raster.js';

export interface Points {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color?: string;
  radius?: number;
  opacity?: number;
}

/** A trajectory: a line through the steps, a dot at each, the start hollow and the end filled. */
export interface Path {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color: string;
  label: string;
}

export interface Marker {
  x: number;
  y: number;
  label: string;
}

export interface Panel {
  /** Says what the panel shows, e.g. "p_theta(x_t), t = 40". */
  title: string;
  /** Drawn as a heat map in a sequential scheme (white at zero), the background. */
  density?: Grid;
  /** Drawn as contour lines at 2, 10, 30, 60 and 90 % of its maximum, e.g. the true PDF over a scatter. */
  contours?: Grid;
  points?: Points;
  paths?: Path[];
  markers?: Marker[];
}

export interface FigureOptions {
  title: string;
  /** Panels per row; rows are filled left to right, top to bottom. */
  columns: number;
  /** The square range of both axes on every panel. */
  range: Range;
  /** The side of one panel in SVG units, margins and title included (default 360). */
  panelSize?: number;
  /** PNG pixels per SVG unit (default 2: a 360-unit panel is 720 pixels wide). */
  pixelRatio?: number;
  xLabel?: string;
  yLabel?: string;
}

// Margins chosen so that left + right = top + bottom: a square panel has a square frame.
const MARGIN = { top: 28, right: 18, bottom: 40, left: 50 };
const TITLE_BAND = 40;
const MIN_PANEL_SIZE = 160;
const DENSITY_SCHEME: Plot.ColorScheme = 'blues';
const POINT_COLOUR = '#d95f02';
const CONTOUR_COLOUR = '#333';
// Fractions of the peak: for a Gaussian mode, radii of 2.8, 2.1, 1.6, 1.0 and 0.5 sigma, so the
// outer line encloses nearly all of its samples.
const CONTOUR_LEVELS = [0.02, 0.1, 0.3, 0.6, 0.9];

/** Renders the panels in a grid of `opts.columns` under the figure title, as PNG bytes. */
export async function renderFigure(panels: Panel[], opts: FigureOptions): Promise<Uint8Array> {
  return svgToPng(await figureSvg(panels, opts), opts.pixelRatio ?? 2);
}

/** Renders the figure and writes it to `path` atomically. */
export async function writeFigure(path: string, panels: Panel[], opts: FigureOptions): Promise<void> {
  writeFileAtomic(path, await renderFigure(panels, opts));
}

/** The whole figure as one SVG document: the title band, then the panels row by row. */
export async function figureSvg(panels: Panel[], opts: FigureOptions): Promise<string> {
  checkOptions(opts);
  if (!Array.isArray(panels) || panels.length === 0) {
    throw new Error(`panels: expected a non-empty array, got ${Array.isArray(panels) ? '[]' : panels}`);
  }
  panels.forEach((p, i) => checkPanel(p, `panels[${i}]`));
  const size = opts.panelSize ?? 360;
  const columns = Math.min(opts.columns, panels.length);
  const rows = Math.ceil(panels.length / opts.columns);
  const width = columns * size;
  const height = TITLE_BAND + rows * size;
  const { document } = parseHTML('<!doctype html><html><body></body></html>');
  const parts = await Promise.all(
    panels.map(async (panel, i) => {
      const x = (i % opts.columns) * size;
      const y = TITLE_BAND + Math.floor(i / opts.columns) * size;
      return panelSvg(panel, opts, size, document as unknown as Document, x, y);
    }),
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"`,
    ` font-family="${FONT_FAMILY}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="${TITLE_BAND / 2 + 6}" text-anchor="middle" font-size="17" font-weight="bold"`,
    ` fill="#111">${escapeXml(opts.title)}</text>`,
    ...parts,
    '</svg>',
  ].join('');
}

async function panelSvg(
  panel: Panel,
  opts: FigureOptions,
  size: number,
  document: Document,
  x: number,
  y: number,
): Promise<string> {
  const [lo, hi] = opts.range;
  const frame = size - MARGIN.left - MARGIN.right;
  const pixelRatio = opts.pixelRatio ?? 2;
  const marks: Plot.Markish[] = [];
  if (panel.density) {
    const side = Math.round(frame * pixelRatio);
    const src = await rgbaToDataUri(heatMap(panel.density, opts.range, side), side, side);
    const mid = (lo + hi) / 2;
    marks.push(
      Plot.image({ length: 1 }, { x: [mid], y: [mid], src, width: frame, height: frame, preserveAspectRatio: 'none' }),
    );
  }
  if (panel.points) {
    const p = panel.points;
    marks.push(
      Plot.dot(
        { length: p.x.length },
        {
          x: Array.from(p.x),
          y: Array.from(p.y),
          r: p.radius ?? 1.2,
          fill: p.color ?? POINT_COLOUR,
          fillOpacity: p.opacity ?? defaultOpacity(p.x.length),
          stroke: null,
          clip: true,
        },
      ),
    );
  }
  // Contours go over the scatter, so the true PDF stays visible under thousands of points.
  if (panel.contours && maxOf(panel.contours.values) > 0) {
    const g = panel.contours;
    const peak = maxOf(g.values);
    marks.push(
      Plot.contour(Array.from(g.values), {
        width: g.nx,
        height: g.ny,
        x1: g.x[0],
        x2: g.x[1],
        y1: g.y[0],
        y2: g.y[1],
        thresholds: CONTOUR_LEVELS.map((f) => f * peak),
        stroke: CONTOUR_COLOUR,
        strokeWidth: 0.9,
        strokeOpacity: 0.8,
        clip: true,
      }),
    );
  }
  marks.push(Plot.frame({ stroke: '#222', strokeWidth: 1 }));
  for (const path of panel.paths ?? []) {
    const xs = Array.from(path.x);
    const ys = Array.from(path.y);
    const last = xs.length - 1;
    marks.push(
      Plot.line({ length: xs.length }, { x: xs, y: ys, stroke: path.color, strokeWidth: 1.6, clip: true }),
      Plot.dot({ length: xs.length }, { x: xs, y: ys, r: 1.9, fill: path.color, clip: true }),
      Plot.dot(
        { length: 1 },
        { x: [xs[0]], y: [ys[0]], r: 4.5, fill: 'white', stroke: path.color, strokeWidth: 1.8, clip: true },
      ),
      Plot.dot(
        { length: 1 },
        {
          x: [xs[last]],
          y: [ys[last]],
          r: 5.5,
          symbol: 'square',
          fill: path.color,
          stroke: 'white',
          strokeWidth: 1,
          clip: true,
        },
      ),
    );
  }
  if (panel.markers && panel.markers.length > 0) {
    // A label sits on the side of its marker nearer the frame's centre, so it stays inside.
    const mid = (lo + hi) / 2;
    const left = panel.markers.filter((m) => m.x > mid);
    const right = panel.markers.filter((m) => m.x <= mid);
    const label = {
      x: 'x',
      y: 'y',
      text: 'label',
      dy: -9,
      fontSize: 11,
      fill: '#111',
      stroke: 'white',
      strokeWidth: 3,
    } as const;
    marks.push(
      Plot.dot(panel.markers, { x: 'x', y: 'y', symbol: 'times', r: 5, stroke: '#111', strokeWidth: 2, clip: true }),
      Plot.text(right, { ...label, dx: 7, textAnchor: 'start' }),
      Plot.text(left, { ...label, dx: -7, textAnchor: 'end' }),
    );
  }
  const axis = { domain: [lo, hi], nice: false, ticks: 5, labelAnchor: 'center', labelArrow: 'none' } as const;
  const svg = Plot.plot({
    document,
    width: size,
    height: size,
    ...marginOptions(),
    style: { fontFamily: FONT_FAMILY, fontSize: '11px', color: '#222' },
    x: { ...axis, label: opts.xLabel ?? 'left pixel', labelOffset: 34 },
    y: { ...axis, label: opts.yLabel ?? 'right pixel', labelOffset: 40 },
    marks,
  }) as unknown as Element;
  svg.setAttribute('x', String(x));
  svg.setAttribute('y', String(y));
  const title =
    `<text x="${MARGIN.left + frame / 2}" y="${MARGIN.top - 9}" text-anchor="middle" font-size="13" fill="#111">` +
    `${escapeXml(panel.title)}</text>`;
  const legend = panel.paths && panel.paths.length > 0 ? pathLegend(panel.paths, MARGIN.left + frame, MARGIN.top) : '';
  return svg.outerHTML.replace(/<\/svg>$/, `${title}${legend}</svg>`);
}

/** A key in the frame's top right corner: one line per path, then the start and end symbols. */
function pathLegend(paths: Path[], right: number, top: number): string {
  const row = 15;
  const width = 10 + Math.max(86, ...paths.map((p) => 34 + 6.2 * p.label.length));
  const height = 8 + row * (paths.length + 1);
  const x0 = right - width - 6;
  const y0 = top + 6;
  const parts = [
    `<g font-size="11" fill="#111" text-anchor="start">`,
    `<rect x="${x0}" y="${y0}" width="${width}" height="${height}" rx="3" fill="white" fill-opacity="0.85" stroke="#bbb" stroke-width="0.6"/>`,
  ];
  paths.forEach((p, i) => {
    const cy = y0 + 4 + row * (i + 0.5);
    parts.push(
      `<line x1="${x0 + 6}" x2="${x0 + 28}" y1="${cy}" y2="${cy}" stroke="${escapeXml(p.color)}" stroke-width="1.6"/>`,
      `<circle cx="${x0 + 17}" cy="${cy}" r="1.9" fill="${escapeXml(p.color)}"/>`,
      `<text x="${x0 + 34}" y="${cy + 4}">${escapeXml(p.label)}</text>`,
    );
  });
  const cy = y0 + 4 + row * (paths.length + 0.5);
  parts.push(
    `<circle cx="${x0 + 10}" cy="${cy}" r="4" fill="white" stroke="#555" stroke-width="1.5"/>`,
    `<text x="${x0 + 18}" y="${cy + 4}">start</text>`,
    `<rect x="${x0 + 48}" y="${cy - 4.5}" width="9" height="9" fill="#555"/>`,
    `<text x="${x0 + 61}" y="${cy + 4}">end</text>`,
    '</g>',
  );
  return parts.join('');
}

/** Fades the dots as they grow in number, so dense regions still show their structure. */
function defaultOpacity(count: number): number {
  return clamp(0.6 * Math.sqrt(500 / Math.max(count, 1)), 0.2, 0.6);
}

function marginOptions() {
  return { marginTop: MARGIN.top, marginRight: MARGIN.right, marginBottom: MARGIN.bottom, marginLeft: MARGIN.left };
}

/**
 * The grid as `side` by `side` RGBA pixels covering the square `range`: values interpolated
 * bilinearly between cell centres and mapped linearly from [min(0, min), max] onto the sequential
 * scheme; pixels outside the grid's own extent are transparent.
 */
function heatMap(grid: Grid, range: Range, side: number): Uint8Array {
  const { nx, ny, values } = grid;
  let min = 0;
  for (let i = 0; i < values.length; i++) min = Math.min(min, values[i]);
  let max = maxOf(values);
  if (!(max > min)) max = min + 1;
  const ramp = colourRamp(DENSITY_SCHEME);
  const steps = ramp.length / 3;
  const rgba = new Uint8Array(side * side * 4);
  const [lo, hi] = range;
  const cellX = (grid.x[1] - grid.x[0]) / nx;
  const cellY = (grid.y[1] - grid.y[0]) / ny;
  for (let py = 0; py < side; py++) {
    const y = hi - ((py + 0.5) / side) * (hi - lo);
    if (y < grid.y[0] || y > grid.y[1]) continue;
    const fy = clamp((y - grid.y[0]) / cellY - 0.5, 0, ny - 1);
    const iy = Math.min(Math.floor(fy), Math.max(ny - 2, 0));
    const ty = fy - iy;
    for (let px = 0; px < side; px++) {
      const x = lo + ((px + 0.5) / side) * (hi - lo);
      if (x < grid.x[0] || x > grid.x[1]) continue;
      const fx = clamp((x - grid.x[0]) / cellX - 0.5, 0, nx - 1);
      const ix = Math.min(Math.floor(fx), Math.max(nx - 2, 0));
      const tx = fx - ix;
      const at = (dx: number, dy: number) => values[Math.min(iy + dy, ny - 1) * nx + Math.min(ix + dx, nx - 1)];
      const v = (1 - ty) * ((1 - tx) * at(0, 0) + tx * at(1, 0)) + ty * ((1 - tx) * at(0, 1) + tx * at(1, 1));
      const k = Math.round(clamp((v - min) / (max - min), 0, 1) * (steps - 1)) * 3;
      const o = (py * side + px) * 4;
      rgba[o] = ramp[k];
      rgba[o + 1] = ramp[k + 1];
      rgba[o + 2] = ramp[k + 2];
      rgba[o + 3] = 255;
    }
  }
  return rgba;
}

function maxOf(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]);
  return max;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : Math.min(v, hi);
}

function checkOptions(opts: FigureOptions): void {
  if (opts == null || typeof opts !== 'object') throw new Error(`figure options: expected an object, got ${opts}`);
  if (typeof opts.title !== 'string') throw new Error(`title ${opts.title}: expected a string`);
  checkInteger(opts.columns, 'columns', 1);
  checkRange(opts.range, 'range');
  if (opts.panelSize !== undefined && !(Number.isFinite(opts.panelSize) && opts.panelSize >= MIN_PANEL_SIZE)) {
    throw new Error(`panelSize ${opts.panelSize}: expected a finite number >= ${MIN_PANEL_SIZE}`);
  }
  if (
    opts.pixelRatio !== undefined &&
    !(Number.isFinite(opts.pixelRatio) && opts.pixelRatio > 0 && opts.pixelRatio <= 8)
  ) {
    throw new Error(`pixelRatio ${opts.pixelRatio}: expected a finite number in (0, 8]`);
  }
}

function checkPanel(panel: Panel, name: string): void {
  if (panel == null || typeof panel !== 'object') throw new Error(`${name}: expected a Panel, got ${panel}`);
  if (typeof panel.title !== 'string') throw new Error(`${name}.title ${panel.title}: expected a string`);
  if (panel.density) checkGrid(panel.density, `${name}.density`);
  if (panel.contours) checkGrid(panel.contours, `${name}.contours`);
  if (panel.points) checkPairs(panel.points.x, panel.points.y, `${name}.points`);
  (panel.paths ?? []).forEach((p, i) => {
    checkPairs(p.x, p.y, `${name}.paths[${i}]`);
    if (p.x.length === 0) throw new Error(`${name}.paths[${i}] is empty; expected at least one step`);
  });
  (panel.markers ?? []).forEach((m, i) => {
    if (!Number.isFinite(m.x) || !Number.isFinite(m.y)) {
      throw new Error(`${name}.markers[${i}] at (${m.x}, ${m.y}): expected finite coordinates`);
    }
  });
}
