import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCsv, parseCsv, readCsv, writeCsvAtomic } from '../src/io/csv.js';

const t = suite('csv');

function inTempDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'csv-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function thrown(run: () => unknown): Error {
  let error: unknown;
  try {
    run();
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
  return error as Error;
}

t('round trip keeps every float32 value exactly, and non-finite ones', () => {
  const values = Float32Array.from([0.1, -1 / 3, 1e-38, 3.4028234663852886e38, 1.401298464324817e-45, 0, 123456.789]);
  const rows = [...values].map((v, i) => [i, v, v * 2]);
  rows.push([7, NaN, -Infinity], [8, Infinity, -0.5]);
  inTempDir((dir) => {
    const path = join(dir, 'loss.csv');
    writeCsvAtomic(path, ['step', 'loss', 'double'], rows);
    assert.equal(readdirSync(dir), ['loss.csv'], 'no temporary file is left');
    const back = readCsv(path);
    assert.equal(back.header, ['step', 'loss', 'double']);
    assert.is(back.rows.length, rows.length);
    back.rows.forEach((row, i) =>
      row.forEach((v, j) => assert.ok(Object.is(v, rows[i][j]), `row ${i} column ${j}: ${v}`)),
    );
    assert.equal(Float32Array.from(back.rows.map((r) => r[1])).slice(0, values.length), values);
  });
});

t('formatCsv writes one line per row, ending in a newline, and accepts typed-array rows', () => {
  assert.is(formatCsv(['a', 'b'], [[1, 'x'], Float32Array.from([0.5, 2])]), 'a,b\n1,x\n0.5,2\n');
  assert.is(formatCsv(['a'], []), 'a\n');
});

t('formatCsv rejects ragged rows and text that would need quoting', () => {
  assert.match(thrown(() => formatCsv(['a', 'b'], [[1, 2], [3]])).message, /^formatCsv: row 1 has 1 cells, expected 2/);
  assert.match(thrown(() => formatCsv(['a,b'], [])).message, /header name "a,b" contains a comma/);
  assert.match(
    thrown(() => formatCsv(['a'], [['x\ny']])).message,
    /row 0 cell "x\\ny" contains a comma, quote or line break/,
  );
  assert.match(thrown(() => formatCsv(['', 'b'], [])).message, /a header name is empty/);
});

t('readCsv accepts CRLF line endings', () => {
  inTempDir((dir) => {
    const path = join(dir, 'crlf.csv');
    writeFileSync(path, 'a,b\r\n1,2\r\n');
    assert.equal(readCsv(path), { header: ['a', 'b'], rows: [[1, 2]] });
  });
});

t('readCsv rejects a ragged row, naming file, line and row', () => {
  inTempDir((dir) => {
    const path = join(dir, 'ragged.csv');
    writeFileSync(path, 'a,b\n1,2\n3\n');
    assert.is(thrown(() => readCsv(path)).message, `${path}:3: row "3" has 1 cells, expected 2`);
  });
});

t('readCsv rejects non-numeric cells, naming file, line, value and column', () => {
  inTempDir((dir) => {
    const path = join(dir, 'text.csv');
    for (const cell of ['abc', '', ' 1', '0x10', '1e', '--1', 'inf']) {
      writeFileSync(path, `a,b\n1,2\n3,${cell}\n`);
      assert.is(
        thrown(() => readCsv(path)).message,
        `${path}:3: cell ${JSON.stringify(cell)} in column "b" is not a number`,
      );
    }
  });
});

t('readCsv rejects a file without a header row', () => {
  inTempDir((dir) => {
    const path = join(dir, 'empty.csv');
    writeFileSync(path, '');
    assert.is(thrown(() => readCsv(path)).message, `${path}:1: no header row`);
  });
});

t('writeCsvAtomic replaces an existing file whole', () => {
  inTempDir((dir) => {
    const path = join(dir, 'out.csv');
    writeCsvAtomic(path, ['a'], [[1], [2], [3]]);
    writeCsvAtomic(path, ['b'], [[4]]);
    assert.is(readFileSync(path, 'utf8'), 'b\n4\n');
    assert.equal(readdirSync(dir), ['out.csv']);
  });
});

t('10,000 mutated files either parse into rectangular numeric rows or throw a plain Error', () => {
  const good = formatCsv(
    ['t', 'left', 'right'],
    Array.from({ length: 20 }, (_, i) => [i, Math.sin(i) / 3, -i / 7]),
  );
  let seed = 2024;
  const next = (n: number) => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n;
  const alphabet = '0123456789,.-+eE\n\r x"';
  let parsed = 0;
  let rejected = 0;
  for (let k = 0; k < 10000; k++) {
    const chars = [...good];
    const edits = 1 + next(4);
    for (let e = 0; e < edits; e++) {
      const at = next(chars.length + 1);
      switch (next(3)) {
        case 0:
          chars.splice(at, 1);
          break;
        case 1:
          chars.splice(at, 0, alphabet[next(alphabet.length)]);
          break;
        default:
          chars.length = Math.min(chars.length, at);
      }
    }
    try {
      const { header, rows } = parseCsv(chars.join(''), 'mutant');
      for (const row of rows) {
        assert.is(row.length, header.length);
        for (const v of row) assert.type(v, 'number');
      }
      parsed++;
    } catch (err) {
      assert.is((err as Error).constructor, Error, String(err));
      assert.match((err as Error).message, /^mutant:\d+: /);
      rejected++;
    }
  }
  assert.ok(parsed > 0 && rejected > 0, `parsed ${parsed}, rejected ${rejected}`);
});

t.run();
