// The MNIST sample scores and the IDX writer: the Frechet distance against its closed form for
// commuting covariances and its invariance under a rotation; pairwise distances against a direct
// sum; IDX files round-tripping through the reader, and bad dimensions refused.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Matrix } from 'ml-matrix';
import { frechetDistance, gaussianFit, meanPairwiseDistance } from '../src/study/score.js';
import { encodeIdx, toPixelBytes } from '../src/data/idx.js';
import { parseIdx } from '../src/data/mnist.js';
import { randomValues } from './harness.js';

const t = suite('scores and IDX');

t('Frechet distance: sum (sqrt a - sqrt b)^2 + |mu|^2 for diagonal covariances, unchanged by a rotation', () => {
  const d = 6;
  const va = Array.from(randomValues(d, 1), (v) => 0.5 + Math.abs(v));
  const vb = Array.from(randomValues(d, 2), (v) => 0.2 + Math.abs(v));
  const mu = Float64Array.from(randomValues(d, 3));
  const a = { mean: new Float64Array(d), cov: Matrix.diag(va) };
  const b = { mean: mu, cov: Matrix.diag(vb) };
  const want = va.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(vb[i])) ** 2 + mu[i] ** 2, 0);
  assert.ok(Math.abs(frechetDistance(a, b) - want) < 1e-9, `${frechetDistance(a, b)} vs ${want}`);
  // A rotation Q (Householder) of both Gaussians keeps the distance.
  const v = Matrix.columnVector(Array.from(randomValues(d, 4)));
  const q = Matrix.eye(d).sub(v.mmul(v.transpose()).mul(2 / v.transpose().mmul(v).get(0, 0)));
  const rot = (g: { mean: Float64Array; cov: Matrix }) => ({
    mean: Float64Array.from(q.mmul(Matrix.columnVector(Array.from(g.mean))).to1DArray()),
    cov: q.mmul(g.cov).mmul(q.transpose()),
  });
  assert.ok(Math.abs(frechetDistance(rot(a), rot(b)) - want) < 1e-8, 'rotated');
  assert.ok(Math.abs(frechetDistance(a, a)) < 1e-9, 'a Gaussian against itself');
});

t('a Gaussian fit of rows: their mean and the n - 1 covariance', () => {
  const rows = Float32Array.from([1, 2, 3, 6, 5, 10]);
  const { mean, cov } = gaussianFit(rows, 2);
  assert.equal(Array.from(mean), [3, 6]);
  assert.equal(cov.to2DArray(), [
    [4, 8],
    [8, 16],
  ]);
  assert.throws(() => gaussianFit(Float32Array.from([1, 2]), 2), /two or more rows/);
});

t('mean pairwise distance of chosen rows', () => {
  const images = Float32Array.from([0, 0, 3, 4, 6, 8, 100, 100]);
  assert.ok(Math.abs(meanPairwiseDistance(images, [0, 1, 2], 2) - (5 + 10 + 5) / 3) < 1e-12);
});

t('IDX files round-trip through the reader; wrong sizes are refused with the numbers', () => {
  const images = Float32Array.from(randomValues(3 * 784, 5), (v) => Math.tanh(v * 2));
  const bytes = toPixelBytes(images);
  const file = encodeIdx([3, 28, 28], bytes);
  assert.equal(Array.from(file.subarray(0, 8)), [0, 0, 8, 3, 0, 0, 0, 3]);
  const back = parseIdx(file, 'samples');
  assert.equal(back.dims, [3, 28, 28]);
  assert.ok(Buffer.from(back.data).equals(Buffer.from(bytes)));
  const labels = encodeIdx([4], Uint8Array.from([7, 0, 9, 3]));
  assert.equal(Array.from(parseIdx(labels, 'labels').data), [7, 0, 9, 3]);
  assert.equal(Array.from(toPixelBytes(Float32Array.from([-1, 1, 0, -2, 2, Number.NaN]))), [0, 255, 128, 0, 255, 0]);
  assert.throws(() => encodeIdx([2, 2], new Uint8Array(3)), /2x2 hold 4 bytes, got 3/);
  assert.throws(() => encodeIdx([], new Uint8Array(0)), /rank 0/);
  assert.throws(() => encodeIdx([1.5], new Uint8Array(1)), /dimension 1.5/);
});

t.run();
