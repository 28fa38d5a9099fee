// The report as the files a reader opens: report.html (the Markdown rendered by marked, figures
// embedded as data URIs so it opens offline from any folder, each problem starting a new page)
// and report.pdf, printed from that HTML by Debian's headless Chromium through playwright-core.
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { marked } from 'marked';

const CHROMIUM = '/usr/bin/chromium';

const STYLE = `
body { font-family: 'Liberation Sans', 'DejaVu Sans', Arial, sans-serif; font-size: 11pt; line-height: 1.4; color: #111; max-width: 60em; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 20pt; }
h2 { font-size: 15pt; break-before: page; border-bottom: 1px solid #999; padding-bottom: 0.2em; }
h1 + p + p + h2, h1 + p + h2 { break-before: auto; }
img { max-width: 100%; max-height: 7.2cm; display: block; margin: 0.6em auto; }
.pair { display: flex; gap: 0.6em; justify-content: center; }
.pair img { max-width: 49%; margin: 0.6em 0; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 9.5pt; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.45em; text-align: left; vertical-align: top; }
th { background: #eee; }
/* A last column holds short values (met / not met, a distance): one line each keeps a problem on its page. */
td:last-child { white-space: nowrap; }
code { font-size: 9.5pt; background: #f3f3f3; padding: 0 0.2em; }
@page { size: A4; margin: 1.6cm 1.4cm; }
@media print { body { margin: 0; max-width: none; } }
`;

/** The HTML of `markdown`, whose image paths are relative to `base`; every image inlined. */
export function reportHtml(markdown: string, base: string, title: string): string {
  const body = (marked.parse(markdown, { async: false }) as string).replace(/<img src="([^"]+)"/g, (_, src: string) => {
    const path = resolve(base, decodeURI(src));
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      throw new Error(`report figure ${path} cannot be read (${(err as Error).message})`);
    }
    return `<img src="data:image/png;base64,${data.toString('base64')}"`;
  });
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title><style>${STYLE}</style></head>\n<body>\n${body}</body></html>\n`;
}

/** Prints `html` to `path` (A4, written atomically) with headless Chromium. */
export async function printPdf(html: string, path: string): Promise<void> {
  const { chromium } = await import('playwright-core');
  let browser: Awaited<ReturnType<typeof chromium.launch>>;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  } catch (err) {
    throw new Error(
      `the PDF needs Debian's chromium at ${CHROMIUM} (bash .ci/setup-system installs it): ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const tmp = join(dirname(path), `.${process.pid}.report.pdf.tmp`);
  try {
    const page = await browser.newPage();
    await page.setContent(html, { waitUntil: 'load' });
    await page.pdf({ path: tmp, format: 'A4', printBackground: true, preferCSSPageSize: true });
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
    await browser.close();
  }
}
