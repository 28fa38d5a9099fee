import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { Program } from '../src/core/program.js';
import { linear } from '../src/core/ops/linear.js';
import { pumpStats } from '../src/gpu/pump.js';
import { testGpu } from './device.js';

// Dawn's event pump (src/gpu/pump.ts): a long wait on the device polls once per millisecond
// after its first half millisecond instead of spinning the main thread; other setImmediate
// callbacks are untouched.

const t = suite('pump');

t('a long device wait is polled mostly by timers, and its result is right', async () => {
  const { device } = await testGpu();
  const N = 256;
  const g = new Graph('pump wait');
  const x = g.input('x', [N, N]);
  const w = g.input('w', [N, N]);
  const y = linear(g, x, w, null, 'y');
  const program = await Program.compile(device, g, { seed: 0, keep: [y] });
  try {
    const xs = Float32Array.from({ length: N * N }, (_, i) => ((i * 7919) % 13) / 13 - 0.5);
    const ws = Float32Array.from({ length: N * N }, (_, i) => ((i * 104729) % 11) / 11 - 0.5);
    program.write(x, xs);
    program.write(w, ws);
    await program.readF32(y); // compiled and warm
    const before = pumpStats();
    const started = performance.now();
    program.run(40); // tens of milliseconds on a software adapter, less on hardware
    const out = await program.readF32(y);
    const waited = performance.now() - started;
    const after = pumpStats();
    const immediate = after.immediate - before.immediate;
    const deferred = after.deferred - before.deferred;
    // Spinning would run a poll every few microseconds of the wait; the pump runs at most the
    // polls of its first half millisecond at once, and one per millisecond after that.
    assert.ok(immediate + deferred > 0, 'the wait went through the pump');
    assert.ok(immediate < 500, `${immediate} immediate polls in a ${waited.toFixed(1)} ms wait`);
    if (waited > 20)
      assert.ok(deferred > 0 && deferred <= waited + 5, `${deferred} deferred polls in a ${waited.toFixed(1)} ms wait`);
    for (const [r, c] of [
      [0, 0],
      [17, 200],
      [N - 1, N - 1],
    ]) {
      let ref = 0;
      for (let k = 0; k < N; k++) ref += xs[r * N + k] * ws[k * N + c];
      assert.ok(Math.abs(out[r * N + c] - ref) < 1e-4, `y[${r}, ${c}] = ${out[r * N + c]}, expected ${ref}`);
    }
  } finally {
    program.destroy();
  }
});

t('setImmediate callbacks of JavaScript run at once with their arguments', async () => {
  await testGpu();
  const before = pumpStats();
  const got = await new Promise<unknown[]>((resolve) =>
    setImmediate((a: number, b: string) => resolve([a, b]), 7, 'x'),
  );
  assert.equal(got, [7, 'x']);
  assert.equal(pumpStats(), before);
});

t.run();
