// emergence.png: left, the share of settled ink against t for each 7x7 region of the digits and
// overall; right, the mean t at which each pixel settles, as a 28x28 map.
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import { escapeXml, FONT_FAMILY, svgToPng } from './raster.js';

export async function renderEmergence(
  e: { t: number[]; patchSettled: number[][]; settled: number[]; settleT: number[] },
  title: string,
): Promise<Uint8Array> {
  const { document } = parseHTML('<!doctype html><html><body></body></html>');
  const rows: { t: number; share: number; patch: string }[] = [];
  e.patchSettled.forEach((row, p) =>
    row.forEach((v, s) => {
      if (Number.isFinite(v)) rows.push({ t: e.t[s], share: v, patch: `r${Math.floor(p / 4)}c${p % 4}` });
    }),
  );
  const overall = e.settled.map((v, s) => ({ t: e.t[s], share: v }));
  const style = { fontFamily: FONT_FAMILY, fontSize: '11px', color: '#222' };
  const curves = Plot.plot({
    document,
    width: 460,
    height: 380,
    marginTop: 30,
    style,
    x: { label: 't (the reverse process runs left to right, T to 0)', reverse: true },
    y: { label: 'share of ink pixels settled', domain: [0, 1] },
    color: { scheme: 'turbo' },
    marks: [
      Plot.line(rows, { x: 't', y: 'share', z: 'patch', stroke: 'patch', strokeWidth: 1, strokeOpacity: 0.7 }),
      Plot.line(overall, { x: 't', y: 'share', stroke: '#000', strokeWidth: 2.5 }),
      Plot.text([{ t: e.t[0], share: 0.97 }], {
        x: 't',
        y: 'share',
        text: () => 'black: all ink; colours: 16 regions of 7x7',
        textAnchor: 'start',
        dx: 4,
      }),
      Plot.frame(),
    ],
  }) as unknown as Element;
  const domain = [Math.min(...e.settleT), Math.max(...e.settleT)];
  const colour = Plot.scale({ color: { type: 'linear', scheme: 'viridis', domain } });
  const swatches = Array.from({ length: 6 }, (_, i) => {
    const v = domain[0] + ((domain[1] - domain[0]) * i) / 5;
    return `<rect x="${480 + 58 * i}" y="430" width="58" height="12" fill="${colour.apply(v)}"/><text x="${480 + 58 * i}" y="456" font-size="11" fill="#222">${v.toFixed(0)}</text>`;
  }).join('');
  const legend = `${swatches}<text x="480" y="424" font-size="11" fill="#222">mean t at which each pixel settles</text>`;
  const cells = e.settleT.map((v, d) => ({ row: Math.floor(d / 28), col: d % 28, t: v }));
  const map = Plot.plot({
    document,
    width: 380,
    height: 380,
    marginTop: 30,
    style,
    x: { axis: null },
    y: { axis: null },
    color: { scheme: 'viridis', domain },
    marks: [Plot.cell(cells, { x: 'col', y: 'row', fill: 't', inset: 0 })],
  }) as unknown as Element;
  const parts = [curves, map].map((el, i) => {
    const w = i === 0 ? 0 : 460;
    el.setAttribute('x', String(w));
    el.setAttribute('y', '36');
    return el.outerHTML;
  });
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="860" height="470" viewBox="0 0 860 470" font-family="${FONT_FAMILY}">`,
    '<rect width="860" height="470" fill="white"/>',
    `<text x="430" y="24" text-anchor="middle" font-size="15" font-weight="bold" fill="#111">${escapeXml(title)}</text>`,
    ...parts,
    legend,
    '</svg>',
  ].join('');
  return svgToPng(svg, 2);
}
