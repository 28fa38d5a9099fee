// The kernel page (demo/kernels.html) in headless Chromium: the checks of test/kernel-checks.ts,
// each a kernel against its float64 reference, all pass on the browser's WebGPU.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { KERNEL_CHECKS } from './kernel-checks.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const t = suite('browser kernel checks');

let server: Server | null = null;
let browser: Browser | null = null;

t.before(async () => {
  const { serveDemo } = await import(pathToFileURL(join(root, 'demo', 'serve.mjs')).href);
  server = (await serveDemo(0)) as Server;
  browser = await launchChromium();
});

t.after(async () => {
  await browser?.close();
  server?.close();
});

t('every kernel check passes in the page', async () => {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  await page.goto(`http://localhost:${(server!.address() as AddressInfo).port}/kernels.html?autorun=1`);
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, {
    timeout: 120_000,
    polling: 200,
  });
  const demo = (await page.evaluate('window.demoKernels')) as {
    state: string;
    adapter: string;
    results: { name: string; passed: boolean; message?: string; ms: number }[];
    error?: string;
  };
  await page.screenshot({ path: '/tmp/kernels.png', fullPage: true }).catch(() => {});
  await page.close();
  assert.equal(errors, []);
  assert.is(demo.error, undefined);
  assert.is(demo.state, 'done');
  console.log(
    `  on ${demo.adapter}: ${demo.results.map((r) => `${r.passed ? 'passed' : 'FAILED'} ${r.ms.toFixed(0)} ms`).join(', ')}`,
  );
  assert.equal(
    demo.results.map((r) => r.name),
    KERNEL_CHECKS.map((c) => c.name),
    'every check ran, in order',
  );
  for (const r of demo.results) assert.ok(r.passed, `${r.name}: ${r.message}`);
});

t.run();
