// Scores of generated digits by the engine's classifier (src/models/mnist/classifier.ts):
// accuracy against the conditioned label, the Frechet distance between Gaussian fits of the
// classifier's features (as FID does with Inception's), and per-digit diversity.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { ParamStore } from '../core/params.js';
import { loadMnist, MNIST_CLASSES, type MnistSet } from '../data/mnist.js';
import { classifyDigits } from '../models/mnist/classifier.js';

/** Mean [d] and covariance [d, d] (divided by n - 1) of n rows of d features. */
export function gaussianFit(features: Float32Array, d: number): { mean: Float64Array; cov: Matrix } {
  const n = features.length / d;
  if (!Number.isInteger(n) || n < 2)
    throw new Error(`Gaussian fit: ${features.length} values are not two or more rows of ${d}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j] / n;
  const cov = Matrix.zeros(d, d);
  const c = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) c[j] = features[i * d + j] - mean[j];
    for (let j = 0; j < d; j++) for (let k = j; k < d; k++) cov.set(j, k, cov.get(j, k) + (c[j] * c[k]) / (n - 1));
  }
  for (let j = 0; j < d; j++) for (let k = 0; k < j; k++) cov.set(j, k, cov.get(k, j));
  return { mean, cov };
}

/** The symmetric PSD square root V diag(sqrt(max(l, 0))) V^T. */
function sqrtPsd(m: Matrix): Matrix {
  const e = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const v = e.eigenvectorMatrix;
  const l = e.realEigenvalues.map((x) => Math.sqrt(Math.max(x, 0)));
  return v.mmul(Matrix.diag(l)).mmul(v.transpose());
}

/**
 * ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)), with tr (S_a S_b)^(1/2) taken as the sum of
 * the square roots of the eigenvalues of the symmetric S_a^(1/2) S_b S_a^(1/2) (the same spectrum).
 */
export function frechetDistance(
  a: { mean: Float64Array; cov: Matrix },
  b: { mean: Float64Array; cov: Matrix },
): number {
  let d2 = 0;
  for (let j = 0; j < a.mean.length; j++) d2 += (a.mean[j] - b.mean[j]) ** 2;
  const ha = sqrtPsd(a.cov);
  const m = ha.mmul(b.cov).mmul(ha);
  const sym = m.add(m.transpose()).div(2);
  const roots = new EigenvalueDecomposition(sym, { assumeSymmetric: true }).realEigenvalues.reduce(
    (s, x) => s + Math.sqrt(Math.max(x, 0)),
    0,
  );
  return d2 + a.cov.trace() + b.cov.trace() - 2 * roots;
}

/** The mean L2 distance over all pairs of the given rows of `images` (each `dims` values). */
export function meanPairwiseDistance(images: Float32Array, rows: readonly number[], dims: number): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < rows.length; i++)
    for (let j = i + 1; j < rows.length; j++) {
      let s = 0;
      for (let k = 0; k < dims; k++) s += (images[rows[i] * dims + k] - images[rows[j] * dims + k]) ** 2;
      sum += Math.sqrt(s);
      pairs++;
    }
  return pairs > 0 ? sum / pairs : NaN;
}

/** `count` images of each digit from a set (the first ones), as rows [10 count, 784] and their labels. */
function balanced(set: MnistSet, count: number): { images: Float32Array; labels: number[] } {
  const dims = 784;
  const images = new Float32Array(MNIST_CLASSES * count * dims);
  const labels: number[] = [];
  const taken = new Array<number>(MNIST_CLASSES).fill(0);
  for (let i = 0; i < set.count && labels.length < MNIST_CLASSES * count; i++) {
    const d = set.labels[i];
    if (taken[d] >= count) continue;
    images.set(set.images.subarray(i * dims, (i + 1) * dims), labels.length * dims);
    labels.push(d);
    taken[d]++;
  }
  return { images, labels };
}

/** The mean pairwise distance among the images of each digit. */
function diversityPerDigit(images: Float32Array, labels: readonly number[]): number[] {
  return Array.from({ length: MNIST_CLASSES }, (_, d) =>
    meanPairwiseDistance(
      images,
      labels.flatMap((l, i) => (l === d ? [i] : [])),
      784,
    ),
  );
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/**
 * Generated digits [n, 784] conditioned on `labels`, judged by the classifier in `store`:
 * accuracy (overall, per digit); the Frechet distance of their features to those of the 10 000
 * test digits, beside its floor (n class-balanced training digits against the same test
 * features); diversity (mean pairwise L2 within a digit) beside the same of n real digits.
 */
export async function scoreSamples(
  device: GPUDevice,
  store: ParamStore,
  images: Float32Array,
  labels: readonly number[],
) {
  const n = labels.length;
  const test = loadMnist('t10k');
  const real = balanced(loadMnist('train'), Math.ceil(n / MNIST_CLASSES));
  const [mine, ref, floor] = [
    await classifyDigits(device, store, images),
    await classifyDigits(device, store, test.images),
    await classifyDigits(device, store, real.images),
  ];
  const hidden = mine.features.length / n;
  const right = new Array<number>(MNIST_CLASSES).fill(0);
  const total = new Array<number>(MNIST_CLASSES).fill(0);
  labels.forEach((l, i) => {
    total[l]++;
    if (mine.labels[i] === l) right[l]++;
  });
  const refFit = gaussianFit(ref.features, hidden);
  const [spread, realSpread] = [diversityPerDigit(images, labels), diversityPerDigit(real.images, real.labels)];
  return {
    accuracy: right.reduce((a, b) => a + b, 0) / n,
    perDigit: right.map((r, d) => (total[d] > 0 ? r / total[d] : Number.NaN)),
    fd: frechetDistance(gaussianFit(mine.features, hidden), refFit),
    fdFloor: frechetDistance(gaussianFit(floor.features, hidden), refFit),
    diversity: mean(spread),
    diversityPerDigit: spread,
    realDiversity: mean(realSpread),
    realDiversityPerDigit: realSpread,
  };
}
