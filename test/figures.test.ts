import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { gridFromFunction, histogram2d, kde2d, type Range } from '../src/viz/grid.js';
import { figureSvg, renderFigure, writeFigure, type Panel } from '../src/viz/figure.js';
import { renderImageGrid } from '../src/viz/images.js';

const t = suite('figures');

const RANGE: Range = [-1.5, 1.5];
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

// A fixed-seed Gaussian cloud around (cx, cy), so the tests see the same points every run.
function cloud(n: number, cx: number, cy: number, sigma: number, seed = 1): [Float64Array, Float64Array] {
  let s = seed >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const a = 2 * Math.PI * uniform();
    xs[i] = cx + sigma * r * Math.cos(a);
    ys[i] = cy + sigma * r * Math.sin(a);
  }
  return [xs, ys];
}

function integral(values: ArrayLike<number>, range: Range, n: number): number {
  const cell = (range[1] - range[0]) / n;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum * cell * cell;
}

function argmaxCentre(values: ArrayLike<number>, range: Range, n: number): [number, number] {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  const centre = (k: number) => range[0] + ((k + 0.5) * (range[1] - range[0])) / n;
  return [centre(best % n), centre(Math.floor(best / n))];
}

function throwsNaming(fn: () => unknown, ...parts: string[]): void {
  try {
    fn();
  } catch (err) {
    const message = (err as Error).message;
    for (const p of parts) assert.ok(message.includes(p), `message ${JSON.stringify(message)} should name ${p}`);
    return;
  }
  assert.unreachable(`expected an error naming ${parts.join(', ')}`);
}

async function rejectsNaming(promise: Promise<unknown>, ...parts: string[]): Promise<void> {
  try {
    await promise;
  } catch (err) {
    const message = (err as Error).message;
    for (const p of parts) assert.ok(message.includes(p), `message ${JSON.stringify(message)} should name ${p}`);
    return;
  }
  assert.unreachable(`expected an error naming ${parts.join(', ')}`);
}

function onePanel(title = 'panel'): Panel {
  const [xs, ys] = cloud(300, 0.4, -0.3, 0.15);
  return { title, density: kde2d(xs, ys, RANGE, 60, 0.08), points: { x: xs, y: ys } };
}

t('gridFromFunction samples f at the cell centres, row iy = 0 at the bottom', () => {
  const n = 6;
  const g = gridFromFunction((x, y) => x + 100 * y, RANGE, n);
  assert.is(g.nx, n);
  assert.is(g.ny, n);
  assert.equal(g.x, RANGE);
  const cell = 3 / n;
  for (let iy = 0; iy < n; iy++) {
    for (let ix = 0; ix < n; ix++) {
      const want = -1.5 + (ix + 0.5) * cell + 100 * (-1.5 + (iy + 0.5) * cell);
      assert.ok(Math.abs(g.values[iy * n + ix] - want) < 1e-9, `cell (${ix}, ${iy})`);
    }
  }
});

t('histogram2d integrates to 1 on points well inside the range and peaks where they are', () => {
  const [xs, ys] = cloud(5000, -0.35, 0.65, 0.1);
  const n = 60;
  const g = histogram2d(xs, ys, RANGE, n);
  assert.ok(Math.abs(integral(g.values, RANGE, n) - 1) < 1e-9, `integral ${integral(g.values, RANGE, n)}`);
  const [px, py] = argmaxCentre(g.values, RANGE, n);
  assert.ok(Math.hypot(px + 0.35, py - 0.65) < 0.1, `peak at (${px}, ${py})`);
});

t('histogram2d integrates to the share of points inside the range', () => {
  const xs = [0, 0.5, -1.5, 1.5, 2, Number.NaN, 0, -3];
  const ys = [0, 0.5, -1.5, 1.5, 0, 0, 1.6, -3];
  const g = histogram2d(xs, ys, RANGE, 10);
  // Four inside (both edges count), four outside or not finite.
  assert.ok(Math.abs(integral(g.values, RANGE, 10) - 0.5) < 1e-9);
  assert.ok(g.values[9 * 10 + 9] > 0, 'a point on the upper edge falls in the last cell');
});

t('kde2d integrates to 1 on points well inside the range and peaks where they are', () => {
  const [xs, ys] = cloud(5000, 0.75, -0.45, 0.1, 7);
  const n = 120;
  const g = kde2d(xs, ys, RANGE, n, 0.05);
  const mass = integral(g.values, RANGE, n);
  assert.ok(Math.abs(mass - 1) < 2e-3, `integral ${mass}`);
  const [px, py] = argmaxCentre(g.values, RANGE, n);
  assert.ok(Math.hypot(px - 0.75, py + 0.45) < 0.1, `peak at (${px}, ${py})`);
});

t('kde2d matches the full Gaussian sum within the cut-off error', () => {
  const [xs, ys] = cloud(40, 0.1, 0.2, 0.5, 3);
  const n = 24;
  const h = 0.2;
  const g = kde2d(xs, ys, RANGE, n, h);
  const cell = 3 / n;
  let worst = 0;
  for (let iy = 0; iy < n; iy++) {
    for (let ix = 0; ix < n; ix++) {
      const cx = -1.5 + (ix + 0.5) * cell;
      const cy = -1.5 + (iy + 0.5) * cell;
      let sum = 0;
      for (let i = 0; i < xs.length; i++) {
        sum += Math.exp(-((cx - xs[i]) ** 2 + (cy - ys[i]) ** 2) / (2 * h * h));
      }
      const want = sum / (xs.length * 2 * Math.PI * h * h);
      worst = Math.max(worst, Math.abs(g.values[iy * n + ix] - want));
    }
  }
  // Beyond 4 bandwidths a kernel is below exp(-8) of its peak 1 / (2 pi h^2) = 3.98.
  assert.ok(worst < 4e-3, `worst difference ${worst}`);
});

t('renderFigure returns a PNG of columns x rows panels, panelSize * pixelRatio pixels each', async () => {
  const four = await renderFigure([onePanel('a'), onePanel('b'), onePanel('c'), onePanel('d')], {
    title: '2x2',
    columns: 2,
    range: RANGE,
  });
  assert.equal(Array.from(four.subarray(0, 8)), PNG_SIGNATURE);
  const two = await renderFigure([onePanel('a'), onePanel('b')], { title: '2x1', columns: 2, range: RANGE });
  const m4 = await sharp(four).metadata();
  const m2 = await sharp(two).metadata();
  assert.is(m4.format, 'png');
  assert.is(m4.width, 2 * 360 * 2);
  assert.is(m2.width, 2 * 360 * 2);
  assert.is(m4.height! - m2.height!, 360 * 2, 'a second row adds one panel height');
  const small = await renderFigure([onePanel()], {
    title: 'small',
    columns: 1,
    range: RANGE,
    panelSize: 200,
    pixelRatio: 1,
  });
  assert.is((await sharp(small).metadata()).width, 200);
});

t('the rendered figure is not blank', async () => {
  const png = await renderFigure([onePanel()], { title: 'not blank', columns: 1, range: RANGE });
  const stats = await sharp(png).stats();
  for (const channel of stats.channels.slice(0, 3)) {
    assert.ok(channel.stdev > 5, `channel stdev ${channel.stdev}`);
    assert.ok(channel.min < 100, `darkest value ${channel.min}: expected dark ink somewhere`);
  }
});

t('the heat map puts row iy = 0 at the bottom of the panel', async () => {
  const n = 20;
  const values = new Float64Array(n * n);
  for (let i = n * (n / 2); i < n * n; i++) values[i] = 1;
  const png = await renderFigure(
    [{ title: 'upper half dense', density: { nx: n, ny: n, x: RANGE, y: RANGE, values } }],
    {
      title: 'orientation',
      columns: 1,
      range: RANGE,
      pixelRatio: 1,
    },
  );
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  // The mean red value of a 40 x 10 patch at the horizontal middle, `fraction` of the way down.
  const band = (fraction: number) => {
    const top = Math.round(info.height * fraction);
    const left = Math.round(info.width * 0.5);
    let sum = 0;
    for (let y = top; y < top + 10; y++)
      for (let x = left; x < left + 40; x++) sum += data[(y * info.width + x) * info.channels];
    return sum / 400;
  };
  const upper = band(0.3);
  const lower = band(0.8);
  assert.ok(upper < lower - 100, `red mean upper ${upper} should be far darker than lower ${lower}`);
});

t('a figure of 4 panels x 5000 points keeps a workable SVG', async () => {
  const panels: Panel[] = [0, 1, 2, 3].map((k) => {
    const [xs, ys] = cloud(5000, 0, 0, 0.4, k + 11);
    return {
      title: `panel ${k}`,
      points: { x: xs, y: ys },
      contours: gridFromFunction((x, y) => Math.exp(-(x * x + y * y)), RANGE, 50),
    };
  });
  const svg = await figureSvg(panels, { title: 'many points', columns: 2, range: RANGE });
  assert.ok(svg.length < 4_000_000, `SVG of ${svg.length} characters`);
  assert.not.ok(svg.includes('<title'), 'no per-point titles');
  const started = Date.now();
  await renderFigure(panels, { title: 'many points', columns: 2, range: RANGE });
  assert.ok(Date.now() - started < 20_000, `rendering took ${Date.now() - started} ms`);
});

t('writeFigure writes the PNG atomically and leaves no temporary file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'figures-'));
  try {
    const path = join(dir, 'figure.png');
    await writeFigure(path, [onePanel()], { title: 'written', columns: 1, range: RANGE });
    assert.equal(readdirSync(dir), ['figure.png']);
    assert.equal(Array.from(readFileSync(path).subarray(0, 8)), PNG_SIGNATURE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('titles and labels with markup characters are escaped', async () => {
  const svg = await figureSvg(
    [{ ...onePanel('p(x) < 1 & "q"'), paths: [{ x: [0, 1], y: [0, 1], color: 'red', label: 'a<b' }] }],
    { title: 'A & B', columns: 1, range: RANGE, xLabel: 'x <left>' },
  );
  assert.ok(svg.includes('A &#38; B'));
  assert.not.ok(svg.includes('a<b'));
  await sharp(Buffer.from(svg)).png().toBuffer();
});

t('renderImageGrid tiles images by nearest neighbour, value range mapped to black..white', async () => {
  const h = 2;
  const w = 3;
  const images = new Float32Array(5 * h * w);
  images.fill(-1);
  images[0] = 1; // image 0, pixel (0, 0) white
  images[1 * h * w + 5] = 0; // image 1, pixel (1, 2) mid-grey
  images[4 * h * w + 1] = 7; // clamped to white
  const scale = 4;
  const png = await renderImageGrid(images, 5, h, w, 3, { scale });
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const gap = 2;
  assert.is(info.width, 3 * w * scale + 2 * gap);
  assert.is(info.height, 2 * h * scale + gap);
  const at = (x: number, y: number) => data[(y * info.width + x) * info.channels];
  for (let y = 0; y < scale; y++) for (let x = 0; x < scale; x++) assert.is(at(x, y), 255);
  assert.is(at(scale, 0), 0);
  const tile1 = w * scale + gap;
  assert.ok(Math.abs(at(tile1 + 2 * scale, scale) - 128) <= 1, `mid-grey ${at(tile1 + 2 * scale, scale)}`);
  assert.is(at(tile1 + 1, 1), 0);
  assert.is(at(w * scale, 0), 255, 'the gap between tiles is white');
  const tile4 = { left: w * scale + gap, top: h * scale + gap };
  assert.is(at(tile4.left + scale, tile4.top), 255);
});

t('renderImageGrid with a title and labels draws them around the tiles', async () => {
  const images = new Float32Array(4 * 28 * 28).fill(-1);
  const plain = await sharp(await renderImageGrid(images, 4, 28, 28, 2)).metadata();
  const labelled = await sharp(
    await renderImageGrid(images, 4, 28, 28, 2, { title: 'digits', rowLabels: ['0', '1'], columnLabels: ['a', 'b'] }),
  ).metadata();
  assert.ok(labelled.width! > plain.width! && labelled.height! > plain.height!);
});

t('bad inputs throw errors that name the value and what was expected', async () => {
  throwsNaming(() => histogram2d([0], [0], [1, -1], 10), 'range', '[1, -1]', 'lo < hi');
  throwsNaming(() => histogram2d([0], [0], [Number.NaN, 1], 10), 'range', 'NaN', 'finite');
  throwsNaming(() => histogram2d([0, 1], [0], RANGE, 10), 'x has 2', 'y has 1');
  throwsNaming(() => histogram2d([0], [0], RANGE, 0), 'n 0', 'integer');
  throwsNaming(() => kde2d([0], [0], RANGE, 10, 0), 'bandwidth 0', '> 0');
  throwsNaming(() => gridFromFunction(() => 0, [0, Number.POSITIVE_INFINITY], 4), 'Infinity');
  const opts = { title: 'bad', columns: 1, range: RANGE };
  await rejectsNaming(renderFigure([onePanel()], { ...opts, columns: 0 }), 'columns 0', '>= 1');
  await rejectsNaming(renderFigure([onePanel()], { ...opts, range: [2, 2] }), 'range [2, 2]');
  await rejectsNaming(renderFigure([], opts), 'panels', 'non-empty');
  await rejectsNaming(
    renderFigure([{ title: 'x', density: { nx: 3, ny: 3, x: RANGE, y: RANGE, values: new Float64Array(8) } }], opts),
    'panels[0].density.values',
    'length 8',
    '9',
  );
  await rejectsNaming(
    renderFigure([{ title: 'x', density: { nx: 0, ny: 3, x: RANGE, y: RANGE, values: [] } }], opts),
    'panels[0].density.nx 0',
  );
  await rejectsNaming(
    renderFigure([{ title: 'x', points: { x: [0, 1, 2], y: [0] } }], opts),
    'panels[0].points',
    'x has 3',
    'y has 1',
  );
  await rejectsNaming(
    renderFigure([{ title: 'x', paths: [{ x: [], y: [], color: 'red', label: 'empty' }] }], opts),
    'panels[0].paths[0]',
    'empty',
  );
  await rejectsNaming(renderImageGrid(new Float32Array(10), 2, 2, 2, 1), 'length 10', '2 * 2 * 2 = 8');
  await rejectsNaming(renderImageGrid(new Float32Array(8), 2, 2, 2, 0), 'columns 0');
  await rejectsNaming(renderImageGrid(new Float32Array(8).fill(Number.NaN), 2, 2, 2, 1), 'images[0] = NaN');
});

t.run();
