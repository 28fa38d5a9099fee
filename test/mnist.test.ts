// The MNIST IDX reader: the real files parse to 60 000 and 10 000 digits in [-1, 1], and a file
// that is not IDX, or is cut short, is refused with its name.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist, parseIdx, MNIST_SIDE } from '../src/data/mnist.js';
import { nearestLabels } from '../src/study/mnist.js';

const t = suite('mnist');

t('the training and test sets have the published sizes and label counts', () => {
  const train = loadMnist('train');
  assert.is(train.count, 60000);
  assert.is(train.images.length, 60000 * MNIST_SIDE * MNIST_SIDE);
  const counts = new Array(10).fill(0);
  for (const l of train.labels) counts[l]++;
  // LeCun's published class counts of the training set
  assert.equal(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  assert.equal(Array.from(train.labels.subarray(0, 8)), [5, 0, 4, 1, 9, 2, 1, 3]);
  let lo = Infinity,
    hi = -Infinity,
    mean = 0;
  for (const v of train.images) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
    mean += v;
  }
  assert.equal([lo, hi], [-1, 1]);
  mean /= train.images.length;
  assert.ok(Math.abs(mean - (2 * 0.1307 - 1)) < 1e-3, `mean pixel ${mean}: MNIST's is 0.1307 on [0, 1]`);
  assert.is(loadMnist('t10k').count, 10000);
});

t('a digit is read as the label of its nearest image in the pool', () => {
  const pool = loadMnist('t10k');
  const picks = [0, 1, 2, 3, 4];
  const images = new Float32Array(picks.length * 784);
  // the pool's own images, lightly noised, come back with their labels
  picks.forEach((k, i) => {
    for (let d = 0; d < 784; d++) images[i * 784 + d] = pool.images[k * 784 + d] + 0.05 * Math.sin(d + i);
  });
  assert.equal(
    Array.from(nearestLabels(images, pool)),
    picks.map((k) => pool.labels[k]),
  );
});

t('a file that is not IDX, or is cut short, is refused with its name', () => {
  const header = (rank: number, dims: number[]) => {
    const b = new Uint8Array(4 + 4 * rank);
    b[2] = 8;
    b[3] = rank;
    dims.forEach((d, i) => new DataView(b.buffer).setUint32(4 + 4 * i, d));
    return b;
  };
  const good = new Uint8Array([...header(2, [2, 3]), 1, 2, 3, 4, 5, 6]);
  assert.equal(parseIdx(good, 'g').dims, [2, 3]);
  assert.throws(
    () => parseIdx(good.subarray(0, good.length - 1), 'short.idx'),
    /short\.idx: dimensions 2x3 need 18 bytes, the file has 17/,
  );
  const wrongType = Uint8Array.from(good);
  wrongType[2] = 0x0d;
  assert.throws(
    () => parseIdx(wrongType, 'float.idx'),
    /float\.idx: not an IDX file of unsigned bytes \(magic 00000d02/,
  );
  assert.throws(
    () => loadMnist('train', '/nonexistent'),
    /MNIST file \/nonexistent\/train-images-idx3-ubyte cannot be read/,
  );
});

t('an IDX file declaring no items, or fewer than one training batch, is refused with its name', () => {
  const write = (dir: string, split: string, count: number) => {
    const images = new Uint8Array(16 + count * MNIST_SIDE * MNIST_SIDE);
    const labels = new Uint8Array(8 + count);
    images.set([0, 0, 8, 3]);
    labels.set([0, 0, 8, 1]);
    const iv = new DataView(images.buffer);
    [count, MNIST_SIDE, MNIST_SIDE].forEach((d, i) => iv.setUint32(4 + 4 * i, d));
    new DataView(labels.buffer).setUint32(4, count);
    writeFileSync(join(dir, `${split}-images-idx3-ubyte`), images);
    writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), labels);
  };
  const dir = mkdtempSync(join(tmpdir(), 'mnist-'));
  try {
    write(dir, 'train', 0);
    assert.throws(
      () => loadMnist('train', dir),
      new RegExp(
        `${join(dir, 'train-images-idx3-ubyte')}: declares 0 items \\(dimensions 0x28x28\\), expected at least one`,
      ),
    );
    write(dir, 'train', 3);
    assert.is(loadMnist('train', dir).count, 3);
    assert.throws(
      () => loadMnist('train', dir, 4),
      new RegExp(`${join(dir, 'train-images-idx3-ubyte')}: declares 3 items, fewer than the 4 of one batch`),
    );
    assert.is(loadMnist('train', dir, 3).count, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
