// A few kernel checks that run unchanged in Node (test/kernel-checks.test.ts) and in the browser
// (demo/kernels.html, test/browser-kernels.test.ts): a kernel on random inputs against its
// float64 reference in test/reference.ts, with the device's default kernel variants. Cases and
// tolerances are those of the full suites named on each check.
import { attention } from '../src/core/ops/attention.js';
import { conv2d } from '../src/core/ops/conv2d.js';
import { groupNorm } from '../src/core/ops/groupnorm.js';
import { linear } from '../src/core/ops/linear.js';
import { assertClose, randomValues, runGraphOn } from './checks.js';
import { attentionRef, conv2dRef, groupNormRef, linearRef, type Conv2dShape } from './reference.js';

export interface KernelCheck {
  name: string;
  /** Throws an Error naming the worst element when the kernel misses its reference. */
  run(device: GPUDevice): Promise<void>;
}

export const KERNEL_CHECKS: readonly KernelCheck[] = [
  {
    // test/linear.test.ts: a K-term f32 dot product of values in ±1, atol 1e-5 + rtol 1e-5.
    name: 'linear (matmul + bias) at M=33 K=17 N=72 against float64',
    async run(device) {
      const [M, K, N] = [33, 17, 72];
      const x = randomValues(M * K, 1);
      const w = randomValues(K * N, 2);
      const b = randomValues(N, 3);
      const { values, program } = await runGraphOn(device, (g) => {
        const [tx, tw, tb] = [g.input('x', [M, K]), g.input('w', [K, N]), g.input('b', [N])];
        return {
          feeds: [
            [tx, x],
            [tw, w],
            [tb, b],
          ],
          outputs: [linear(g, tx, tw, tb)],
        };
      });
      program.destroy();
      assertClose(values[0], linearRef(x, w, b, M, K, N), 1e-5, 1e-5, 'y');
    },
  },
  {
    // test/conv2d.test.ts: sums of a few hundred products in f32, atol 1e-5 + rtol 1e-5.
    name: 'conv2d 3x3 stride 2 at B=2 4->9 channels 7x7 against float64',
    async run(device) {
      const s: Conv2dShape = { batch: 2, cin: 4, cout: 9, h: 7, w: 7, kh: 3, kw: 3, stride: 2, pad: [1, 1] };
      const x = randomValues(s.batch * s.cin * s.h * s.w, 1);
      const w = randomValues(s.cout * s.cin * s.kh * s.kw, 2);
      const b = randomValues(s.cout, 3);
      const { values, program } = await runGraphOn(device, (g) => {
        const tx = g.input('x', [s.batch, s.cin, s.h, s.w]);
        const tw = g.input('w', [s.cout, s.cin, s.kh, s.kw]);
        const tb = g.input('b', [s.cout]);
        return {
          feeds: [
            [tx, x],
            [tw, w],
            [tb, b],
          ],
          outputs: [conv2d(g, tx, tw, tb, { stride: s.stride, padding: s.pad })],
        };
      });
      program.destroy();
      assertClose(values[0], conv2dRef(x, w, b, s, false), 1e-5, 1e-5, 'y');
    },
  },
  {
    // test/groupnorm.test.ts: two-pass f32 mean and variance, atol 2e-5 + rtol 1e-5; spans of
    // 392 values, longer than a workgroup of 256.
    name: 'group norm GroupNorm(2, 16) at B=2 L=49 against float64',
    async run(device) {
      const [batch, channels, length, groups] = [2, 16, 49, 2];
      const x = randomValues(batch * channels * length, 1);
      const gamma = randomValues(channels, 2);
      const beta = randomValues(channels, 3);
      const { values, program } = await runGraphOn(device, (g) => {
        const tx = g.input('x', [batch, channels, length]);
        const [tg, tb] = [g.input('gamma', [channels]), g.input('beta', [channels])];
        return {
          feeds: [
            [tx, x],
            [tg, gamma],
            [tb, beta],
          ],
          outputs: [groupNorm(g, tx, tg, tb, groups)],
        };
      });
      program.destroy();
      assertClose(values[0], groupNormRef(x, gamma, beta, batch, channels, length, groups, 1e-5), 2e-5, 1e-5, 'y');
    },
  },
  {
    // test/attention.test.ts: scaled dot products, a softmax and sums of N products, atol 1e-5 +
    // rtol 1e-5; a 7x7 map (the MNIST UNet's attention).
    name: 'attention (softmax of q.k) at B=1 C=8 N=49 against float64',
    async run(device) {
      const [B, C, N] = [1, 8, 49];
      const qkv = randomValues(B * 3 * C * N, 1);
      const { values, program } = await runGraphOn(device, (g) => {
        const x = g.input('qkv', [B, 3 * C, N]);
        return { feeds: [[x, qkv]], outputs: [attention(g, x)] };
      });
      program.destroy();
      assertClose(values[0], attentionRef(qkv, B, C, N), 1e-5, 1e-5, 'out');
    },
  },
];
