// The bridge from vector to pixels: SVG text to PNG through sharp (librsvg, fonts from
// fontconfig), raw pixels to a PNG data URI for embedding in an SVG, and colour ramps sampled
// from Observable Plot's schemes so a heat map matches Plot's own colours.
import * as Plot from '@observablehq/plot';
import sharp from 'sharp';

/** The fonts every figure asks for; fonts-liberation is installed with the system set-up. */
export const FONT_FAMILY = "'Liberation Sans', 'DejaVu Sans', Arial, sans-serif";

/** Escapes text for an SVG text node or attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Rasterises an SVG document to PNG bytes, `pixelRatio` device pixels per SVG unit. */
export async function svgToPng(svg: string, pixelRatio: number): Promise<Uint8Array> {
  const png = await sharp(Buffer.from(svg), { density: 72 * pixelRatio })
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** Encodes raw RGBA pixels, row by row from the top, as a PNG data URI. */
export async function rgbaToDataUri(rgba: Uint8Array, width: number, height: number): Promise<string> {
  const png = await sharp(rgba, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/** Plot's colour `scheme` sampled at `steps` evenly spaced points, as RGB triples. */
export function colourRamp(scheme: Plot.ColorScheme, steps = 256): Uint8Array {
  const scale = Plot.scale({ color: { type: 'linear', scheme, domain: [0, 1] } });
  const ramp = new Uint8Array(steps * 3);
  for (let i = 0; i < steps; i++) {
    const rgb = parseColour(String(scale.apply(i / (steps - 1))));
    ramp.set(rgb, i * 3);
  }
  return ramp;
}

function parseColour(colour: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
  if (hex) return [parseInt(hex[1], 16), parseInt(hex[2], 16), parseInt(hex[3], 16)];
  const rgb = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(colour);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  throw new Error(`colour ${JSON.stringify(colour)}: expected #rrggbb or rgb(r, g, b) from Plot's scheme`);
}
