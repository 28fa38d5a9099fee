// Builds the engine with esbuild: the Node library (dist/engine.js, used by runners/ and bench/),
// the test suites (dist/test/, sharing one engine chunk so pipelines are shared) and the browser
// demo bundle (demo/dist/). WGSL files are inlined as text in every bundle.
import { build } from 'esbuild';
import { readdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const common = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  loader: { '.wgsl': 'text' },
  sourcemap: 'linked',
  logLevel: 'warning',
};
const nodeExternal = ['webgpu', 'sharp', 'uvu', 'uvu/*', '@observablehq/plot', 'linkedom', 'playwright-core'];

rmSync(join(root, 'dist'), { recursive: true, force: true });
const testFiles = readdirSync(join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join(root, 'test', f));

await Promise.all([
  build({
    ...common,
    platform: 'node',
    external: nodeExternal,
    entryPoints: { engine: join(root, 'src/index.ts') },
    outdir: join(root, 'dist'),
  }),
  build({
    ...common,
    platform: 'node',
    external: nodeExternal,
    splitting: true,
    entryPoints: [join(root, 'test/run.ts'), ...testFiles],
    outdir: join(root, 'dist/test'),
    chunkNames: 'chunks/[name]-[hash]',
  }),
  existsSync(join(root, 'demo/main.ts')) &&
    build({
      ...common,
      platform: 'browser',
      entryPoints: ['main.ts', 'mnist.ts', 'kernels.ts'].map((f) => join(root, 'demo', f)).filter(existsSync),
      outdir: join(root, 'demo/dist'),
    }),
]);
