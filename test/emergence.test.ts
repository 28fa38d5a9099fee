// The emergence measurement on constructed chains whose answer is known: every region of the
// digit settling at the same step (all at once), and the top half settling long before the
// bottom half (part by part); the settle-time map and the shares against a direct count.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { measureEmergence } from '../src/study/emergence.js';

const t = suite('emergence');
const dims = 784;
const S = 40;
const times = Array.from({ length: S }, (_, s) => S - s); // t = 40 .. 1

/** R samples whose final image is a full ink square in rows 4..23, cols 4..23; pixel d settles at step settle(d). */
function chains(R: number, settle: (d: number, r: number) => number) {
  const finals = new Float32Array(R * dims).fill(-1);
  for (let r = 0; r < R; r++)
    for (let d = 0; d < dims; d++) {
      const [row, col] = [Math.floor(d / 28), d % 28];
      if (row >= 4 && row < 24 && col >= 4 && col < 24) finals[r * dims + d] = 1;
    }
  const x0s = new Float32Array(S * R * dims);
  for (let s = 0; s < S; s++)
    for (let r = 0; r < R; r++)
      for (let d = 0; d < dims; d++) {
        const f = finals[r * dims + d];
        // far from the final value before the settle step, within tolerance from it on
        x0s[(s * R + r) * dims + d] = s >= settle(d, r) ? f + 0.05 : f - 0.9 * Math.sign(f);
      }
  return { x0s, finals };
}

t('all regions settling together, at step 20 give or take one, read as all at once', () => {
  const { x0s, finals } = chains(3, (d, r) => 19 + ((d + r) % 3));
  const e = measureEmergence(x0s, finals, times);
  assert.ok(e.ratio < 0.5, `ratio ${e.ratio}`);
  assert.match(e.answer, /^all at once/);
  // step 19..21 is t = 21..19: every ink pixel settled by t = 19
  assert.ok(Math.abs(e.settled[21] - 1) < 1e-12 && e.settled[18] === 0, `${e.settled.slice(17, 23)}`);
  assert.ok(Math.abs(e.settleT[10 * 28 + 10] - 20) <= 1, `settle t ${e.settleT[10 * 28 + 10]}`);
});

t('the top half settling at step 5 and the bottom half at step 35 reads as part by part', () => {
  const { x0s, finals } = chains(2, (d) => (Math.floor(d / 28) < 14 ? 5 : 35));
  const e = measureEmergence(x0s, finals, times);
  assert.ok(e.ratio >= 0.5, `ratio ${e.ratio}`);
  assert.match(e.answer, /^part by part/);
  // a top region (row 0 of patches, column 1) is fully settled from step 5, a bottom one only from 35
  assert.is(e.patchSettled[1][5], 1);
  assert.is(e.patchSettled[13][34], 0);
  assert.is(e.patchSettled[13][35], 1);
  assert.throws(() => measureEmergence(x0s.subarray(1), finals, times), /expected 40x2x784/);
});

t.run();
