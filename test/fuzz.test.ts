// Hostile files: every mutant of a checksummed checkpoint and of an IDX file either loads exactly
// as the original or is refused with a one-line Error naming the file, each within a time and a
// memory bound, including headers of a million entries that the old reader took 19-100 s over.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  decodeSafetensors,
  encodeSafetensors,
  SAFETENSORS_LIMITS,
  type Safetensors,
  type TensorEntry,
} from '../src/io/safetensors.js';
import { parseIdx, type Idx } from '../src/data/mnist.js';

const t = suite('fuzz');
const SOURCE = 'mutant.safetensors';
const IDX_SOURCE = 'mutant-idx3-ubyte';
/** Per small case (a file of about 2 KB): generous for a shared 2-core machine. */
const CASE_MS = 250;
const CASE_HEAP_BYTES = 4 << 20;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = () => getHeapStatistics().used_heap_size;

/** mulberry32: every run sees the same mutants. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(20261202);
const int = (n: number) => Math.floor(random() * n);

function tensors(): Map<string, TensorEntry> {
  const floats = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1) * 3);
  return new Map<string, TensorEntry>([
    ['enc1.conv.w', { dtype: 'F32', shape: [4, 1, 3, 3], data: floats(36) }],
    ['enc1.norm.beta', { dtype: 'F32', shape: [4], data: floats(4) }],
    ['enc1.norm.gamma', { dtype: 'F32', shape: [4], data: floats(4).map((v) => v + 1) }],
    ['dense.w', { dtype: 'F32', shape: [6, 4], data: floats(24) }],
    ['dense.w.t', { dtype: 'F32', shape: [4, 6], data: floats(24).reverse() }],
    ['scale', { dtype: 'F32', shape: [], data: Float32Array.from([0.5]) }],
    ['empty', { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) }],
    ['labels', { dtype: 'I32', shape: [4], data: Int32Array.from([-1, 0, 7, 2 ** 31 - 1]) }],
    ['optimizer.state', { dtype: 'U32', shape: [4], data: Uint32Array.from([200, 0, 7, 1]) }],
  ]);
}
const META = { format: 'diffusion-webgpu/2', model: 'two-pixel-unet', T: '50', lr: '0.001', note: 'é "q"' };

/** A file from header text and data bytes, with the length field matching the text. */
function file(header: string, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function same(a: Safetensors, b: Safetensors): boolean {
  if (a.tensors.size !== b.tensors.size || a.checksummed !== b.checksummed) return false;
  for (const [name, want] of b.tensors) {
    const got = a.tensors.get(name);
    if (!got || got.dtype !== want.dtype || got.shape.join() !== want.shape.join()) return false;
    const g = new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength);
    const w = new Uint8Array(want.data.buffer, want.data.byteOffset, want.data.byteLength);
    if (!Buffer.from(g).equals(Buffer.from(w))) return false;
  }
  return JSON.stringify({ ...a.metadata }) === JSON.stringify({ ...b.metadata });
}

/** Runs one case: identical to `expected` or a plain one-line Error naming the source, in bounds. */
function check<T>(
  kind: string,
  run: () => T,
  source: string,
  isSame: (got: T) => boolean,
  limits: { ms: number; heapBytes: number },
): 'loaded' | 'refused' {
  const before = heap();
  const t0 = performance.now();
  let outcome: 'loaded' | 'refused';
  try {
    const got = run();
    assert.ok(isSame(got), `${kind}: a mutant loaded but differs from the original`);
    outcome = 'loaded';
  } catch (err) {
    if (err instanceof assert.Assertion) throw err;
    assert.ok(err instanceof Error && err.constructor === Error, `${kind}: threw ${String(err)}`);
    const { message } = err as Error;
    assert.ok(message.startsWith(`${source}: `), `${kind}: the message names the file: ${message}`);
    assert.not.ok(message.includes('\n'), `${kind}: one line: ${message}`);
    outcome = 'refused';
  }
  const ms = performance.now() - t0;
  const grown = heap() - before;
  assert.ok(ms < limits.ms, `${kind}: took ${ms.toFixed(1)} ms, over ${limits.ms}`);
  assert.ok(grown < limits.heapBytes, `${kind}: heap grew ${grown} bytes, over ${limits.heapBytes}`);
  return outcome;
}

const valid = encodeSafetensors(tensors(), META, { checksums: true });
const expected = decodeSafetensors(valid, SOURCE);
const dataStart = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
const headerText = new TextDecoder().decode(valid.subarray(8, dataStart));
const data = valid.subarray(dataStart);
const header = JSON.parse(headerText) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
const names = Object.keys(header).filter((k) => k !== '__metadata__');
const rebuild = (h: Record<string, unknown>) => file(JSON.stringify(h), data);

const flip = (bytes: Uint8Array, from: number, to: number, most = 4) => {
  const out = bytes.slice();
  for (let k = 1 + int(most); k > 0; k--) out[from + int(to - from)] ^= 1 << int(8);
  return out;
};

function editHeader(): Uint8Array {
  const chars = [...headerText];
  const i = int(chars.length);
  const digits = () => chars.flatMap((c, j) => (/\d/.test(c) && j + 1 < chars.length ? [j] : []));
  switch (int(6)) {
    case 0: {
      const d = digits();
      const j = d[int(d.length)];
      [chars[j], chars[j + 1]] = [chars[j + 1], chars[j]];
      break;
    }
    case 1: {
      const d = digits();
      chars[d[int(d.length)]] = String(int(10));
      break;
    }
    case 2:
      chars.splice(i, 1);
      break;
    case 3:
      chars.splice(i, 0, '{}[]",:0123456789-e.E+ \\_\t\n'[int(25)]);
      break;
    case 4:
      chars.splice(i, 0, chars.slice(i, i + 1 + int(40)).join(''));
      break;
    default:
      chars.splice(i, 1 + int(30));
  }
  return file(chars.join(''), data);
}

/** Rewrites one integer of a shape or data_offsets as something the spec does not call an integer. */
function nonInteger(): Uint8Array {
  const h = structuredClone(header);
  const name = names[int(names.length)];
  const field = random() < 0.5 ? 'shape' : 'data_offsets';
  const list = h[name][field];
  if (list.length === 0) list.push(0);
  const k = int(list.length);
  const n = list[k];
  const forms = [`${n}.0`, `${n}e0`, `${n}E0`, `${n}.00`, `-0`, `0${n}`, `${n}e+0`, `-${n}`, `${n}.5`];
  const form = forms[int(forms.length)];
  const text = JSON.stringify(h).replace(
    new RegExp(`("${name.replace(/\./g, '\\.')}":\\{[^}]*"${field}":\\[)((?:[0-9]+,){${k}})[0-9]+`),
    (_, a, b) => `${a}${b}${form}`,
  );
  assert.is.not(text, JSON.stringify(h), `${name} ${field}[${k}] rewritten`);
  return file(text, data);
}

function structural(): Uint8Array {
  const h = structuredClone(header) as Record<string, unknown>;
  const entries = h as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
  const name = names[int(names.length)];
  switch (int(8)) {
    case 0: {
      // a renamed tensor, the header otherwise self-consistent
      const renamed = `${name}${'x_.0'[int(4)]}`;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(h)) out[k === name ? renamed : k] = v;
      return rebuild(out);
    }
    case 1: {
      // a changed dtype of the same size
      const other = { F32: ['I32', 'U32'], I32: ['F32', 'U32'], U32: ['F32', 'I32'] }[entries[name].dtype] ?? ['F32'];
      entries[name].dtype = other[int(2)];
      return rebuild(h);
    }
    case 2: {
      // two tensors of equal size swap their shapes or their bytes
      const [a, b] = ['dense.w', 'dense.w.t'];
      if (random() < 0.5) [entries[a].shape, entries[b].shape] = [entries[b].shape, entries[a].shape];
      else [entries[a].data_offsets, entries[b].data_offsets] = [entries[b].data_offsets, entries[a].data_offsets];
      return rebuild(h);
    }
    case 3: {
      // a duplicate key: a later copy of an entry (or of the metadata) replacing the first
      const key = random() < 0.8 ? name : '__metadata__';
      const body = JSON.stringify(h);
      const copy = JSON.stringify({ [key]: h[key] }).slice(1, -1);
      return file(`${body.slice(0, -1)},${copy}}`, data);
    }
    case 4: {
      // whitespace before the header, or a byte-order mark
      const lead = [' ', '\n', '\t', '\r\n', '   ', '\uFEFF'][int(6)];
      return file(`${lead}${JSON.stringify(h)}`, data);
    }
    case 5: {
      // a duplicate field inside an entry
      const field = ['dtype', 'shape', 'data_offsets'][int(3)];
      const body = JSON.stringify(h);
      const at = body.indexOf(`"${name}":{`) + name.length + 4;
      return file(
        `${body.slice(0, at)}"${field}":${JSON.stringify(entries[name][field as 'dtype'])},${body.slice(at)}`,
        data,
      );
    }
    case 6: {
      // a tensor removed (its bytes then belong to nothing) or its checksum removed
      const meta = h.__metadata__ as Record<string, string>;
      if (random() < 0.5) delete h[name];
      else delete meta[`sha256:${name}`];
      return rebuild(h);
    }
    default: {
      // a metadata value edited (a setting changed by hand)
      const meta = h.__metadata__ as Record<string, string>;
      const key = Object.keys(meta).filter((k) => !k.startsWith('sha256:'))[int(5)];
      meta[key] = `${meta[key]}${int(10)}`;
      return rebuild(h);
    }
  }
}

const safetensorsKinds: [string, number, () => Uint8Array][] = [
  ['flipped tensor bytes', 3000, () => flip(valid, dataStart, valid.length)],
  ['flipped header bits', 3000, () => flip(valid, 8, dataStart)],
  ['header text edits', 4000, editHeader],
  ['non-integer numbers', 2500, nonInteger],
  ['renames, dtypes, swaps, duplicates, whitespace, removals', 4500, structural],
  ['truncation', 1000, () => valid.slice(0, int(valid.length))],
  [
    'length field',
    1000,
    () => {
      const out = valid.slice();
      if (random() < 0.5) new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, dataStart - 24 + int(33))), true);
      else out.set(flip(out, 0, 8).subarray(0, 8));
      return out;
    },
  ],
  [
    'appended bytes',
    1000,
    () => {
      const out = new Uint8Array(valid.length + 1 + int(16));
      out.set(valid);
      for (let i = valid.length; i < out.length; i++) out[i] = int(256);
      return out;
    },
  ],
];

t('20,500 mutants of a checksummed checkpoint: the same tensors and metadata, or an Error naming the file', () => {
  const started = performance.now();
  const outcomes: Record<string, { loaded: number; refused: number }> = {};
  let cases = 0;
  for (const [kind, count, mutate] of safetensorsKinds) {
    const tally = (outcomes[kind] = { loaded: 0, refused: 0 });
    for (let n = 0; n < count; n++) {
      const mutant = mutate();
      tally[
        check(
          kind,
          () => decodeSafetensors(mutant, SOURCE),
          SOURCE,
          (got) => same(got, expected),
          {
            ms: CASE_MS,
            heapBytes: CASE_HEAP_BYTES,
          },
        )
      ]++;
      cases++;
    }
  }
  assert.ok(cases >= 20_000, String(cases));
  const o = JSON.stringify(outcomes);
  assert.is(outcomes['flipped tensor bytes'].loaded, 0, `every flipped tensor byte is caught: ${o}`);
  assert.is(outcomes['non-integer numbers'].loaded, 0, o);
  assert.ok(outcomes['header text edits'].loaded > 0 && outcomes['header text edits'].refused > 0, o);
  assert.ok(performance.now() - started < 40_000, `took ${(performance.now() - started).toFixed(0)} ms`);
});

t('the spec forbids it, so it is refused: duplicate keys, whitespace first, 4.0, 1e0 and -0 as integers', () => {
  const refused = (bytes: Uint8Array, problem: RegExp) => {
    let message = '';
    try {
      decodeSafetensors(bytes, SOURCE);
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(message, problem);
  };
  const plain = encodeSafetensors(tensors(), META);
  const start = 8 + Number(new DataView(plain.buffer).getBigUint64(0, true));
  const text = new TextDecoder().decode(plain.subarray(8, start)).trimEnd();
  const body = plain.subarray(start);
  const beta = `"enc1.norm.beta":${JSON.stringify(header['enc1.norm.beta'])}`;
  refused(file(`${text.slice(0, -1)},${beta}}`, body), /header has the key "enc1\.norm\.beta" twice/);
  refused(file(` ${text}`, body), /header begins with whitespace/);
  refused(file(text.replace('"shape":[4]', '"shape":[04]'), body), /header is not valid JSON/);
  for (const form of ['4.0', '4e0', '1E1', '-0', '-4'])
    refused(
      file(text.replace('"shape":[4]', `"shape":[${form}]`), body),
      new RegExp(`tensor "enc1\\.norm\\.beta" has shape element ${form}, expected`),
    );
});

/** A header of `entries` repetitions of `entry(i)`, as file bytes with no data. */
function big(open: string, entries: number, entry: (i: number) => string, close: string): Uint8Array {
  const parts: string[] = [open];
  for (let i = 0; i < entries; i++) parts.push(i === 0 ? entry(i) : `,${entry(i)}`);
  parts.push(close);
  return file(parts.join(''), new Uint8Array(0));
}

t('headers of millions of entries are refused at the limit, in linear time and within twice their size', () => {
  const zero = '{"dtype":"F32","shape":[0],"data_offsets":[0,0]}';
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['1,000,000 zero-size tensors', () => big('{', 1_000_000, (i) => `"t${i}":${zero}`, '}'), /more than 4096 tensors/],
    [
      'one shape of 5,000,000 dimensions',
      () => big('{"a":{"dtype":"F32","shape":[', 5_000_000, () => '0', '],"data_offsets":[0,0]}}'),
      /more than 8 dimensions/,
    ],
    [
      '2,000,000 metadata keys',
      () => big('{"__metadata__":{', 2_000_000, (i) => `"k${i}":"v"`, '}}'),
      /more than 4352 entries/,
    ],
    ['1,000,000 copies of one key', () => big('{', 1_000_000, () => `"a":${zero}`, '}'), /the key "a" twice/],
    [
      'a 60 MB metadata value, then a duplicate',
      () => file(`{"__metadata__":{"k":"${'x'.repeat(60_000_000)}","k":"y"}}`, new Uint8Array(0)),
      /the key "k" twice/,
    ],
    [
      '40 MB of whitespace before the header',
      () => file(`${' '.repeat(40_000_000)}{}`, new Uint8Array(0)),
      /begins with whitespace/,
    ],
    ['99 MB of nesting', () => file('['.repeat(99_000_000), new Uint8Array(0)), /nests deeper than 3 levels/],
  ];
  for (const [kind, make, problem] of cases) {
    const bytes = make();
    gc();
    const headerBytes = bytes.length - 8;
    const t0 = performance.now();
    const before = heap();
    let message = '';
    try {
      decodeSafetensors(bytes, SOURCE);
    } catch (err) {
      message = (err as Error).message;
    }
    const grown = heap() - before;
    const ms = performance.now() - t0;
    assert.match(message, problem, kind);
    assert.ok(message.startsWith(`${SOURCE}: `), message);
    // The old reader: 19-100 s and 19-25x the header. Linear: 20 ns a byte, and 2x the header.
    assert.ok(ms < 500 + headerBytes * 20e-6, `${kind}: ${ms.toFixed(0)} ms for ${headerBytes} bytes`);
    assert.ok(grown < 2 * headerBytes + (8 << 20), `${kind}: heap grew ${grown} bytes for ${headerBytes}`);
  }
});

t('a header at the limits loads: 4096 tensors and 4352 metadata entries', () => {
  const many = new Map<string, TensorEntry>();
  for (let i = 0; i < SAFETENSORS_LIMITS.tensors; i++)
    many.set(`t${i}`, { dtype: 'F32', shape: [1, 1, 1, 1, 1, 1, 1, 1], data: Float32Array.from([i]) });
  const meta = Object.fromEntries(Array.from({ length: SAFETENSORS_LIMITS.metadata - 4097 }, (_, i) => [`k${i}`, 'v']));
  const decoded = decodeSafetensors(encodeSafetensors(many, meta, { checksums: true }), SOURCE);
  assert.is(decoded.tensors.size, 4096);
  assert.ok(decoded.checksummed);
  assert.throws(
    () => encodeSafetensors(new Map([...many, ['one-more', many.get('t0')!]])),
    /4097 tensors, over the reader's limit of 4096/,
  );
});

// IDX: an images file of 5 items of 4x4, as the MNIST files are laid out (big-endian dims).
function idx(dims: number[], bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + bytes.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(bytes, 4 + 4 * dims.length);
  return out;
}
const pixels = Uint8Array.from({ length: 80 }, (_, i) => (i * 37) % 256);
const validIdx = idx([5, 4, 4], pixels);
const expectedIdx = parseIdx(validIdx, IDX_SOURCE);
const sameIdx = (got: Idx) =>
  got.dims.join() === expectedIdx.dims.join() && Buffer.from(got.data).equals(Buffer.from(expectedIdx.data));

const idxKinds: [string, number, () => Uint8Array][] = [
  ['a flipped header bit', 3000, () => flip(validIdx, 0, 16, 1)],
  ['count 0', 1000, () => idx([0, ...[4, 4].slice(0, int(3))], new Uint8Array(int(2) * 16))],
  ['truncation', 2000, () => validIdx.slice(0, int(validIdx.length))],
  [
    'appended bytes',
    1500,
    () => {
      const out = new Uint8Array(validIdx.length + 1 + int(32));
      out.set(validIdx);
      return out;
    },
  ],
  [
    'another count or rank, the length unchanged',
    1500,
    () => {
      const dims = [5, 4, 4];
      dims[int(3)] = int(2) === 0 ? int(2 ** 32) : int(8);
      const rank = random() < 0.2 ? int(256) : dims.length;
      const out = idx(dims, pixels);
      out[3] = rank;
      return out;
    },
  ],
  [
    'a header of rank 255 with huge dimensions',
    1000,
    () =>
      idx(
        Array.from({ length: 255 }, () => 1 + int(2 ** 32 - 1)),
        new Uint8Array(int(64)),
      ),
  ],
];

t('10,000 mutants of an IDX file: the same dimensions and pixels, or an Error naming the file', () => {
  const started = performance.now();
  const outcomes: Record<string, { loaded: number; refused: number }> = {};
  let cases = 0;
  for (const [kind, count, mutate] of idxKinds) {
    const tally = (outcomes[kind] = { loaded: 0, refused: 0 });
    for (let n = 0; n < count; n++) {
      const mutant = mutate();
      tally[
        check(kind, () => parseIdx(mutant, IDX_SOURCE), IDX_SOURCE, sameIdx, {
          ms: CASE_MS,
          heapBytes: CASE_HEAP_BYTES,
        })
      ]++;
      cases++;
    }
  }
  assert.ok(cases >= 10_000, String(cases));
  assert.is(outcomes['count 0'].loaded, 0, JSON.stringify(outcomes));
  assert.is(outcomes['a flipped header bit'].loaded, 0, JSON.stringify(outcomes));
  assert.ok(performance.now() - started < 15_000, `took ${(performance.now() - started).toFixed(0)} ms`);
});

t.run();
