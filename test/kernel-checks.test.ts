// The kernel checks the browser's kernel page runs (test/kernel-checks.ts), here on the Node device.
import { suite } from 'uvu';
import { testGpu } from './device.js';
import { KERNEL_CHECKS } from './kernel-checks.js';

const t = suite('kernel checks');

for (const check of KERNEL_CHECKS) t(check.name, async () => check.run((await testGpu()).device));

t.run();
