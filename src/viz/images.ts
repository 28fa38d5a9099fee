// Grids of small greyscale images (MNIST samples, a trajectory's steps): pixel values mapped to
// grey, tiles upscaled by nearest neighbour and laid out with a thin white gap, and optional
// title and row and column labels drawn as SVG around them.
import sharp from 'sharp';
import { checkInteger, checkRange, type Range } from './grid.js';
import { escapeXml, FONT_FAMILY } from './raster.js';

export interface ImageGridOptions {
  /** Output pixels per image pixel, an integer (default 3). */
  scale?: number;
  /** The pixel values drawn black and white (default [-1, 1]); values outside are clamped. */
  range?: Range;
  title?: string;
  /** One label per row, drawn to the left of it (e.g. the digit). */
  rowLabels?: string[];
  /** One label per column, drawn above it (e.g. "t = 200"). */
  columnLabels?: string[];
}

const GAP = 2;
const PAD = 8;
const TITLE_HEIGHT = 34;
const LABEL_HEIGHT = 20;
const LABEL_FONT = 13;

/**
 * Tiles `count` images of `height` by `width` pixels, stored one after another row by row, into
 * rows of `columns`, as PNG bytes.
 */
export async function renderImageGrid(
  images: Float32Array,
  count: number,
  height: number,
  width: number,
  columns: number,
  opts: ImageGridOptions = {},
): Promise<Uint8Array> {
  checkInteger(count, 'count', 1);
  checkInteger(height, 'height', 1);
  checkInteger(width, 'width', 1);
  checkInteger(columns, 'columns', 1);
  const scale = opts.scale ?? 3;
  checkInteger(scale, 'scale', 1, 64);
  const range = opts.range ?? [-1, 1];
  checkRange(range, 'range');
  if (!(images instanceof Float32Array) || images.length !== count * height * width) {
    throw new Error(
      `images has length ${images?.length}; expected a Float32Array of count * height * width = ` +
        `${count} * ${height} * ${width} = ${count * height * width}`,
    );
  }
  const cols = Math.min(columns, count);
  const rows = Math.ceil(count / columns);
  if (opts.rowLabels && opts.rowLabels.length !== rows) {
    throw new Error(`rowLabels has ${opts.rowLabels.length} labels; expected one per row, ${rows}`);
  }
  if (opts.columnLabels && opts.columnLabels.length !== cols) {
    throw new Error(`columnLabels has ${opts.columnLabels.length} labels; expected one per column, ${cols}`);
  }

  const tileW = width * scale;
  const tileH = height * scale;
  const gridW = cols * tileW + (cols - 1) * GAP;
  const gridH = rows * tileH + (rows - 1) * GAP;
  const grey = new Uint8Array(gridW * gridH).fill(255);
  const [lo, hi] = range;
  for (let n = 0; n < count; n++) {
    const left = (n % columns) * (tileW + GAP);
    const top = Math.floor(n / columns) * (tileH + GAP);
    for (let py = 0; py < tileH; py++) {
      const src = n * height * width + Math.floor(py / scale) * width;
      const dst = (top + py) * gridW + left;
      for (let px = 0; px < tileW; px++) {
        const i = src + Math.floor(px / scale);
        const v = images[i];
        if (!Number.isFinite(v)) throw new Error(`images[${i}] = ${v}: expected a finite pixel value`);
        grey[dst + px] = Math.round(Math.min(1, Math.max(0, (v - lo) / (hi - lo))) * 255);
      }
    }
  }
  const tiles = await sharp(grey, { raw: { width: gridW, height: gridH, channels: 1 } })
    .png()
    .toBuffer();
  if (opts.title === undefined && !opts.rowLabels && !opts.columnLabels) {
    return new Uint8Array(tiles.buffer, tiles.byteOffset, tiles.byteLength);
  }

  // The labels are drawn as SVG on a white canvas and the tiles composited at integer offsets,
  // so the upscaled pixels stay exact.
  const rowLabelW = opts.rowLabels ? Math.max(...opts.rowLabels.map((l) => 12 + 8 * l.length)) : 0;
  // A title wider than the grid widens the canvas; the grid is then centred under it.
  const titleW = opts.title !== undefined ? 2 * PAD + 9.5 * opts.title.length : 0;
  const slack = Math.max(0, Math.ceil(titleW - (2 * PAD + rowLabelW + gridW)));
  const gridLeft = PAD + rowLabelW + Math.floor(slack / 2);
  const gridTop = PAD + (opts.title !== undefined ? TITLE_HEIGHT : 0) + (opts.columnLabels ? LABEL_HEIGHT : 0);
  const totalW = 2 * PAD + rowLabelW + gridW + slack;
  const totalH = gridTop + gridH + PAD;
  const text: string[] = [];
  if (opts.title !== undefined) {
    text.push(
      `<text x="${totalW / 2}" y="${PAD + 20}" text-anchor="middle" font-size="16" font-weight="bold">` +
        `${escapeXml(opts.title)}</text>`,
    );
  }
  opts.columnLabels?.forEach((label, c) => {
    const x = gridLeft + c * (tileW + GAP) + tileW / 2;
    text.push(`<text x="${x}" y="${gridTop - 6}" text-anchor="middle">${escapeXml(label)}</text>`);
  });
  opts.rowLabels?.forEach((label, r) => {
    const y = gridTop + r * (tileH + GAP) + tileH / 2 + LABEL_FONT * 0.35;
    text.push(`<text x="${gridLeft - 8}" y="${y}" text-anchor="end">${escapeXml(label)}</text>`);
  });
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${totalW}" height="${totalH}" font-family="${FONT_FAMILY}"` +
    ` font-size="${LABEL_FONT}" fill="#111"><rect width="${totalW}" height="${totalH}" fill="white"/>${text.join('')}</svg>`;
  const png = await sharp(Buffer.from(svg))
    .composite([{ input: tiles, left: gridLeft, top: gridTop }])
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
