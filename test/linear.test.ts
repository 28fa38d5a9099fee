import { suite } from 'uvu';
import { linear } from '../src/core/ops/linear.js';
import { weightedSum } from '../src/core/ops/loss.js';
import { assertClose, dot, finiteDifference, randomValues, runGraph } from './harness.js';
import { linearRef } from './reference.js';

const t = suite('linear');

for (const [M, K, N] of [[5, 7, 3], [33, 17, 40], [1, 64, 1]]) {
  t(`forward matches float64 at M=${M} K=${K} N=${N}`, async () => {
    const x = randomValues(M * K, 1), w = randomValues(K * N, 2), b = randomValues(N, 3);
    const { values } = await runGraph((g) => {
      const tx = g.input('x', [M, K]), tw = g.input('w', [K, N]), tb = g.input('b', [N]);
      return { feeds: [[tx, x], [tw, w], [tb, b]], outputs: [linear(g, tx, tw, tb)] };
    });
    assertClose(values[0], linearRef(x, w, b, M, K, N), 1e-5, 1e-5, 'y');
  });

  t(`backward matches finite differences at M=${M} K=${K} N=${N}`, async () => {
    const x = randomValues(M * K, 4), w = randomValues(K * N, 5), b = randomValues(N, 6), up = randomValues(M * N, 7);
    const { extra } = await runGraph((g) => {
      const tx = g.input('x', [M, K], 'f32', { requiresGrad: true });
      const tw = g.input('w', [K, N], 'f32', { requiresGrad: true });
      const tb = g.input('b', [N], 'f32', { requiresGrad: true });
      const tu = g.input('up', [M, N]);
      const loss = weightedSum(g, linear(g, tx, tw, tb), tu);
      return { feeds: [[tx, x], [tw, w], [tb, b], [tu, up]], outputs: [loss], gradientsOf: loss };
    }, {}, (p) => p.graph.tensors.filter((t) => t.wantsGrad).map((t) => p.gradOf(t)));
    const fx = (v: Float64Array) => dot(linearRef(v, w, b, M, K, N), up);
    const fw = (v: Float64Array) => dot(linearRef(x, v, b, M, K, N), up);
    const fb = (v: Float64Array) => dot(linearRef(x, w, v, M, K, N), up);
    assertClose(extra[0], finiteDifference(fx, x), 1e-4, 1e-4, 'dx');
    assertClose(extra[1], finiteDifference(fw, w), 1e-4, 1e-4, 'dw');
    assertClose(extra[2], finiteDifference(fb, b), 1e-4, 1e-4, 'db');
  });
}

t.run();
