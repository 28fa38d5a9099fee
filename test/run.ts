// The test entry: loads every built suite (or those whose file name contains an argument),
// runs them in one process so they share one device and its pipeline cache, and ends with the
// plain "N passed, N failed" line.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Outcome = [string | true, number, number, number];
type Queue = Array<Array<string | (() => Promise<Outcome>) | null>>;
const g = globalThis as unknown as { UVU_DEFER: number; UVU_QUEUE: Queue; UVU_INDEX: number };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [];

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
  .sort();
if (files.length === 0) throw new Error(`no test file matches ${JSON.stringify(filters)}`);

const { exec } = await import('uvu');
for (const [i, f] of files.entries()) {
  g.UVU_INDEX = i;
  g.UVU_QUEUE.push([f.replace(/\.test\.js$/, '')]);
  await import(join(here, f));
}

let passed = 0;
let total = 0;
for (const group of g.UVU_QUEUE) {
  for (let i = 1; i < group.length; i++) {
    const run = group[i] as () => Promise<Outcome>;
    group[i] = async () => {
      const out = await run();
      passed += out[1];
      total += out[3] - out[2];
      return out;
    };
  }
}
await exec(false);
const { releaseTestDevice } = await import('./device.js');
releaseTestDevice();
console.log(`${passed} passed, ${total - passed} failed`);
