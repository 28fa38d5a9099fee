#!/usr/bin/env node
// Serves the demo page (demo/index.html and its bundle demo/dist/, built by `npm run build`) on
// http://localhost:PORT/, where browsers allow WebGPU (a secure context). `npm run demo`, or
//   node demo/serve.mjs [--port 8080]
// test/browser.test.ts starts the same server on a free port. The MNIST page (mnist.html) also
// gets the shipped weights, weights/*.safetensors of the repository.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));
const repository = fileURLToPath(new URL('..', import.meta.url));
const WEIGHTS = /^weights[/\\][\w.-]+\.safetensors$/;
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
};

/** Starts the server; resolves to it once it listens (port 0: any free port, see server.address()). */
export function serveDemo(port = 8080, host = '127.0.0.1') {
  if (!existsSync(join(root, 'dist', 'main.js')))
    throw new Error('demo/dist/main.js is missing: run `npm run build` first');
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^([/\\])+/, '');
    // Only weights/NAME.safetensors comes from outside demo/ (NAME without a separator).
    const weights = WEIGHTS.test(path);
    const file = weights ? join(repository, path) : join(root, path === '' ? 'index.html' : path);
    if (!weights && (!file.startsWith(root) || file.includes(`${sep}..`) || !(extname(file) in TYPES))) {
      res.writeHead(404).end('not found');
      return;
    }
    try {
      const body = await readFile(file);
      const type = weights ? 'application/octet-stream' : TYPES[extname(file)];
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--port');
  const raw = at >= 0 ? args[at + 1] : '8080';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port ${raw}: expected an integer from 0 to 65535`);
    process.exit(2);
  }
  const server = await serveDemo(port);
  console.log(`demo: http://localhost:${server.address().port}/ (Chrome or Chromium with WebGPU; Ctrl-C stops)`);
}
