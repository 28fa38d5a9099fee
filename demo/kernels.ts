// The kernel page (demo/kernels.html): runs test/kernel-checks.ts on navigator.gpu and shows each
// check's outcome; ?autorun=1 runs them at once. window.demoKernels holds the outcomes (read by
// test/browser-kernels.test.ts); <body data-state> is "ready", "running", "done" or "error".
import { getBrowserGpu } from '../src/gpu/browser.js';
import type { Gpu } from '../src/gpu/gpu.js';
import { KERNEL_CHECKS } from '../test/kernel-checks.js';

interface Outcome {
  name: string;
  passed: boolean;
  /** The check's error, when it failed. */
  message?: string;
  ms: number;
}

interface KernelsDemo {
  state: 'loading' | 'ready' | 'running' | 'done' | 'error';
  adapter: string;
  results: Outcome[];
  error?: string;
}

const demo: KernelsDemo = { state: 'loading', adapter: '', results: [] };
(window as unknown as { demoKernels: KernelsDemo }).demoKernels = demo;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const button = $<HTMLButtonElement>('run');
const table = $<HTMLTableSectionElement>('results');

function setState(state: KernelsDemo['state']) {
  demo.state = state;
  document.body.dataset.state = state;
  button.disabled = state !== 'ready' && state !== 'done';
}

async function runChecks(gpu: Gpu) {
  setState('running');
  demo.results = [];
  table.replaceChildren();
  for (const check of KERNEL_CHECKS) {
    const row = table.insertRow();
    row.insertCell().textContent = check.name;
    const result = row.insertCell();
    const time = row.insertCell();
    result.textContent = 'running…';
    const started = performance.now();
    let outcome: Outcome;
    try {
      await check.run(gpu.device);
      outcome = { name: check.name, passed: true, ms: performance.now() - started };
    } catch (e) {
      outcome = { name: check.name, passed: false, message: (e as Error).message, ms: performance.now() - started };
    }
    demo.results.push(outcome);
    result.textContent = outcome.passed ? 'passed' : `failed: ${outcome.message}`;
    result.className = outcome.passed ? 'ok' : 'failed';
    time.textContent = outcome.ms.toFixed(0);
  }
  setState('done');
}

async function main() {
  let gpu: Gpu;
  try {
    gpu = await getBrowserGpu();
  } catch (e) {
    demo.error = (e as Error).message;
    $('error').textContent = demo.error;
    $('adapter').textContent = '';
    setState('error');
    return;
  }
  demo.adapter = gpu.adapterName;
  $('adapter').textContent = `WebGPU adapter: ${gpu.adapterName}.`;
  setState('ready');
  button.addEventListener('click', () => void runChecks(gpu));
  if (new URLSearchParams(location.search).get('autorun') === '1') await runChecks(gpu);
}

void main();
