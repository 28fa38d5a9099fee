import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  requireMetadata,
  saveSafetensors,
  type Safetensors,
  type TensorEntry,
} from '../src/io/safetensors.js';
import { decodeSafetensors as decodePortable } from '../src/io/safetensors-codec.js';
import { sha256Hex } from '../src/io/sha256.js';
import { createHash, randomBytes } from 'node:crypto';

const t = suite('safetensors');
const SOURCE = 'ckpt.safetensors';

function sample(): Map<string, TensorEntry> {
  return new Map<string, TensorEntry>([
    ['w', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1.5, -2, 0, 3.25, 1e-30, -0]) }],
    ['scale', { dtype: 'F32', shape: [], data: Float32Array.from([Math.PI]) }],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
    ['counts', { dtype: 'U32', shape: [4], data: Uint32Array.from([0, 1, 0xffffffff, 7]) }],
    ['grid', { dtype: 'U32', shape: [2, 2], data: Uint32Array.from([3, 1, 4, 1]) }],
    ['labels', { dtype: 'I32', shape: [3], data: Int32Array.from([-1, 0, 2147483647]) }],
    ['cube', { dtype: 'I32', shape: [1, 1, 2], data: Int32Array.from([-2147483648, 5]) }],
  ]);
}
const META = { model: 'two-pixel', step: '1000', note: 'line\nbreak "quoted" é' };

/** A file from header text and data bytes, with the length field matching the text. */
function file(header: string, data: ArrayLike<number> = []): Uint8Array {
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function entry(dtype: unknown, shape: unknown, offsets: unknown): string {
  return JSON.stringify({ dtype, shape, data_offsets: offsets });
}

/** The error `run` throws, which must be a plain Error (not a TypeError, RangeError...). */
function thrown(run: () => unknown): Error {
  let error: unknown;
  try {
    run();
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof Error && error.constructor === Error, `expected a plain Error, got ${String(error)}`);
  return error as Error;
}

function rejects(bytes: Uint8Array, problem: RegExp): void {
  const { message } = thrown(() => decodeSafetensors(bytes, SOURCE));
  assert.ok(message.startsWith(`${SOURCE}: `), `message names the source: ${message}`);
  assert.not.ok(message.includes('\n'), `message is one line: ${message}`);
  assert.match(message, problem);
}

function assertSame(actual: Safetensors, tensors: Map<string, TensorEntry>, metadata: Record<string, string>): void {
  assert.equal([...actual.tensors.keys()].sort(), [...tensors.keys()].sort());
  for (const [name, want] of tensors) {
    const got = actual.tensors.get(name)!;
    assert.is(got.dtype, want.dtype, name);
    assert.equal(got.shape, want.shape, name);
    assert.is(got.data.constructor, want.data.constructor, name);
    assert.equal(Array.from(got.data), Array.from(want.data), name);
  }
  assert.equal({ ...actual.metadata }, metadata);
}

t('round trip keeps every dtype, shape, value and the metadata', () => {
  const bytes = encodeSafetensors(sample(), META);
  const decoded = decodeSafetensors(bytes, SOURCE);
  assertSame(decoded, sample(), META);
  assert.ok(Object.is(decoded.tensors.get('w')!.data[5], -0), 'negative zero survives');
  assert.equal(encodeSafetensors(decoded.tensors, decoded.metadata), bytes, 're-encoding gives identical bytes');
  assert.equal(encodeSafetensors(Object.fromEntries(sample()), META), bytes, 'a record encodes like a map');
});

t('the writer pads the header to 8 bytes and stores tensors contiguously in name order', () => {
  const bytes = encodeSafetensors(sample(), META);
  const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is(length % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const byOffset = names.sort(
    (a, b) =>
      header[a].data_offsets[0] - header[b].data_offsets[0] || header[a].data_offsets[1] - header[b].data_offsets[1],
  );
  assert.equal(byOffset, [...sample().keys()].sort());
  let end = 0;
  for (const name of byOffset) {
    assert.is(header[name].data_offsets[0], end, name);
    end = header[name].data_offsets[1];
  }
  assert.is(8 + length + end, bytes.length);
});

t('the reader accepts a data section that is not aligned, and inputs that are views', () => {
  const data = new Uint8Array(new Float32Array([1.25, -3]).buffer);
  const bytes = file(`{"x":${entry('F32', [2], [0, 8])}}`, data);
  assert.is((bytes.length - data.length) % 4, 2, 'data starts unaligned');
  const framed = new Uint8Array(bytes.length + 3);
  framed.set(bytes, 3);
  const x = decodeSafetensors(framed.subarray(3), SOURCE).tensors.get('x')!;
  assert.equal(Array.from(x.data), [1.25, -3]);
});

t('metadata is optional and comes back as an object without a prototype', () => {
  const decoded = decodeSafetensors(encodeSafetensors(sample()), SOURCE);
  assert.equal({ ...decoded.metadata }, {});
  assert.is(Object.getPrototypeOf(decoded.metadata), null);
});

t('rejects a file shorter than 8 bytes', () => {
  rejects(new Uint8Array(5), /5 bytes, shorter than the 8-byte header length/);
});

t('rejects a header length past the end of the file', () => {
  const bytes = file('{}');
  new DataView(bytes.buffer).setBigUint64(0, 3n, true);
  rejects(bytes, /header length 3 runs past the end of the 10-byte file/);
});

t('rejects a header length over 100 MB before reading it', () => {
  const bytes = file('{}');
  new DataView(bytes.buffer).setBigUint64(0, 100_000_001n, true);
  rejects(bytes, /header length 100000001 is over the 100000000-byte limit/);
  new DataView(bytes.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
  rejects(bytes, /header length 18446744073709551615 is over the 100000000-byte limit/);
});

t('rejects a header that is not UTF-8', () => {
  rejects(
    file('{"a":1}').map((b, i) => (i === 9 ? 0xff : b)),
    /header is not valid UTF-8/,
  );
});

t('rejects a header that is not JSON, or starts with a byte-order mark', () => {
  rejects(file('{"a": '), /header is not valid JSON/);
  rejects(file('\uFEFF{}'), /header is not valid JSON/);
});

t('rejects a header nested deeper than header, entry and shape, before parsing it', () => {
  rejects(file(`{"a":{"dtype":"F32","shape":[[0]],"data_offsets":[0,0]}}`), /header nests deeper than 3 levels/);
  rejects(file('['.repeat(1_000_000) + ']'.repeat(1_000_000)), /header nests deeper than 3 levels/);
  // Brackets inside strings, after escaped backslashes and quotes, do not count as nesting.
  const brackets = `${String.raw`{"__metadata__":{"[[[[\\":"{{{{\\\""},"a":`}${entry('F32', [0], [0, 0])}}`;
  assert.equal({ ...decodeSafetensors(file(brackets), SOURCE).metadata }, { '[[[[\\': '{{{{\\"' });
});

t('rejects a header that is not a JSON object', () => {
  rejects(file('[]'), /header is \[\], expected a JSON object/);
  rejects(file('null'), /header is null, expected a JSON object/);
  rejects(file('42'), /header is 42, expected a JSON object/);
  rejects(file('"x"'), /header is "x", expected a JSON object/);
});

t('rejects an entry that is not an object', () => {
  rejects(file('{"a":3}'), /tensor "a" is 3, expected an object/);
  rejects(file('{"a":null}'), /tensor "a" is null, expected an object/);
  rejects(file('{"a":[0,1]}'), /tensor "a" is \[0,1\], expected an object/);
});

t('rejects an entry with a missing or unknown field', () => {
  rejects(file('{"a":{"dtype":"F32","shape":[0]}}'), /tensor "a" lacks the field "data_offsets"/);
  rejects(file('{"a":{"dtype":"F32","data_offsets":[0,0]}}'), /tensor "a" lacks the field "shape"/);
  rejects(file('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"x":1}}'), /tensor "a" has an unknown field "x"/);
});

t('rejects an empty tensor name', () => {
  rejects(file(`{"":${entry('F32', [0], [0, 0])}}`), /empty name/);
});

t('rejects an unknown or mistyped dtype', () => {
  rejects(file(`{"a":${entry('F16', [1], [0, 2])}}`, [0, 0]), /tensor "a" has dtype "F16", expected F32, U32 or I32/);
  rejects(file(`{"a":${entry(4, [1], [0, 4])}}`, [0, 0, 0, 0]), /tensor "a" has dtype 4/);
});

t('rejects a shape that is not an array of non-negative safe integers', () => {
  for (const shape of ['[-1]', '[1.5]', '[1e300]', '["2"]', '2', '{"0":1}', '[null]', '[9007199254740992]']) {
    rejects(
      file(`{"a":{"dtype":"F32","shape":${shape},"data_offsets":[0,0]}}`),
      /tensor "a" has shape .*, expected an array of non-negative integers/,
    );
  }
});

t('rejects a shape whose element count overflows a safe integer', () => {
  rejects(
    file(`{"a":${entry('F32', [2 ** 32, 2 ** 32], [0, 0])}}`),
    /tensor "a" has shape \[4294967296,4294967296\], more than 2\^53-1 elements/,
  );
});

t('accepts a huge shape with a zero dimension as an empty tensor', () => {
  const decoded = decodeSafetensors(file(`{"a":${entry('I32', [2 ** 40, 2 ** 40, 0], [0, 0])}}`), SOURCE);
  assert.is(decoded.tensors.get('a')!.data.length, 0);
});

t('rejects a shape that disagrees with the byte range', () => {
  rejects(
    file(`{"a":${entry('U32', [3], [0, 8])}}`, new Uint8Array(8)),
    /tensor "a" has shape \[3\] \(12 bytes of U32\) but data_offsets \[0,8\] span 8 bytes/,
  );
  rejects(file(`{"a":${entry('U32', [1], [0, 6])}}`, new Uint8Array(6)), /span 6 bytes/);
});

t('rejects data_offsets that are not two safe integers with 0 <= begin <= end', () => {
  for (const offsets of ['[0]', '[0,4,8]', '[0,4.5]', '"0,4"', '[-4,0]', '[0,9007199254740992]', '[null,4]']) {
    rejects(
      file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":${offsets}}}`, new Uint8Array(4)),
      /tensor "a" has data_offsets .*, expected/,
    );
  }
  rejects(file(`{"a":${entry('F32', [1], [4, 0])}}`, new Uint8Array(4)), /expected 0 <= begin <= end/);
});

t('rejects data_offsets past the data section', () => {
  rejects(
    file(`{"a":${entry('F32', [2], [0, 8])}}`, new Uint8Array(4)),
    /tensor "a" has data_offsets \[0,8\], past the end of the 4-byte data section/,
  );
});

t('rejects tensors whose byte ranges overlap', () => {
  const header = `{"a":${entry('F32', [2], [0, 8])},"b":${entry('F32', [2], [4, 12])}}`;
  rejects(file(header, new Uint8Array(12)), /tensors "a" and "b" overlap in the data section at byte 4/);
  const same = `{"a":${entry('F32', [1], [0, 4])},"b":${entry('I32', [1], [0, 4])}}`;
  rejects(file(same, new Uint8Array(4)), /overlap/);
});

t('rejects data bytes that no tensor covers, in a gap or trailing', () => {
  const gap = `{"a":${entry('F32', [1], [0, 4])},"b":${entry('F32', [1], [8, 12])}}`;
  rejects(file(gap, new Uint8Array(12)), /data bytes 4\.\.8 are not covered by any tensor/);
  rejects(
    file(`{"a":${entry('F32', [1], [0, 4])}}`, new Uint8Array(6)),
    /data bytes 4\.\.6 \(trailing\) are not covered by any tensor/,
  );
  rejects(file('{}', [1]), /data bytes 0\.\.1 \(trailing\)/);
});

t('rejects __proto__, constructor and prototype as keys anywhere in the header', () => {
  const ok = entry('F32', [0], [0, 0]);
  const headers = [
    `{"__proto__":${ok}}`,
    `{"constructor":${ok}}`,
    `{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"prototype":1}}`,
    `{"__metadata__":{"__proto__":"x"}}`,
    `{"__metadata__":{"a":"b","constructor":"x"}}`,
    `{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"__proto__":{"polluted":"yes"}}}`,
  ];
  for (const header of headers)
    rejects(file(header), /header uses the forbidden key "(__proto__|constructor|prototype)"/);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

t('rejects __metadata__ that is not an object of strings', () => {
  rejects(file('{"__metadata__":"x"}'), /__metadata__ is "x", expected an object of strings/);
  rejects(file('{"__metadata__":["a"]}'), /__metadata__ is \["a"\], expected an object of strings/);
  rejects(file('{"__metadata__":null}'), /__metadata__ is null/);
  rejects(file('{"__metadata__":{"step":1000}}'), /__metadata__ "step" is 1000, expected a string/);
});

t('error messages stay one short line whatever the file holds', () => {
  const name = `bad\nname${'x'.repeat(500)}`;
  rejects(
    file(JSON.stringify({ [name]: 1 })),
    /^ckpt\.safetensors: tensor "bad\\nnamex+\.\.\. is 1, expected an object$/,
  );
});

t('the writer rejects input it could not read back', () => {
  const cases: [() => unknown, RegExp][] = [
    [
      () => encodeSafetensors({ a: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }),
      /tensor "a" has shape \[2,2\] but 3 elements/,
    ],
    [
      () => encodeSafetensors({ a: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } }),
      /shape \[-1\], expected non-negative integers/,
    ],
    [() => encodeSafetensors({ a: { dtype: 'F32', shape: [1.5], data: new Float32Array(1) } }), /shape \[1.5\]/],
    [
      () => encodeSafetensors({ a: { dtype: 'U32', shape: [1], data: new Int32Array(1) } }),
      /tensor "a" is U32 but its data is a Int32Array, expected a Uint32Array/,
    ],
    [() => encodeSafetensors({ a: { dtype: 'F64' as 'F32', shape: [1], data: new Float32Array(1) } }), /dtype "F64"/],
    [
      () => encodeSafetensors({ '': { dtype: 'F32', shape: [0], data: new Float32Array(0) } }),
      /tensor name "" is not allowed/,
    ],
    [
      () => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [0], data: new Float32Array(0) } }),
      /tensor name "__metadata__" is not allowed/,
    ],
    [
      () =>
        encodeSafetensors(
          new Map([['constructor', { dtype: 'F32', shape: [0], data: new Float32Array(0) } as TensorEntry]]),
        ),
      /"constructor" is not allowed/,
    ],
    [() => encodeSafetensors({}, { step: 3 as unknown as string }), /metadata "step" is 3, expected a string/],
  ];
  for (const [run, problem] of cases) {
    const { message } = thrown(run);
    assert.match(message, /^encodeSafetensors: /);
    assert.match(message, problem);
  }
});

t('requireMetadata names the first missing or differing key with both values', () => {
  const decoded = decodeSafetensors(encodeSafetensors(sample(), META), SOURCE);
  requireMetadata(decoded, { model: 'two-pixel', step: '1000' }, SOURCE);
  const differs = thrown(() => requireMetadata(decoded, { model: 'two-pixel', step: '2000', x: 'y' }, SOURCE));
  assert.is(differs.message, `${SOURCE}: metadata "step" is "1000", expected "2000"`);
  const missing = thrown(() => requireMetadata(decoded, { channels: '64' }, SOURCE));
  assert.is(missing.message, `${SOURCE}: metadata "channels" is missing, expected "64"`);
  thrown(() => requireMetadata(decoded, { toString: 'x' }, SOURCE));
});

t('save is atomic: it leaves no temporary file and replaces an existing file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'safetensors-'));
  try {
    const path = join(dir, 'model.safetensors');
    saveSafetensors(path, sample(), META);
    assert.equal(readdirSync(dir), ['model.safetensors']);
    assertSame(loadSafetensors(path), sample(), META);
    const next = new Map<string, TensorEntry>([['v', { dtype: 'I32', shape: [1], data: Int32Array.from([9]) }]]);
    saveSafetensors(path, next, { step: '2' });
    assert.equal(readdirSync(dir), ['model.safetensors']);
    assertSame(loadSafetensors(path), next, { step: '2' });
    const bad = () => saveSafetensors(path, { a: { dtype: 'F32', shape: [2], data: new Float32Array(1) } });
    assert.match(thrown(bad).message, new RegExp(`^${path}: tensor "a"`));
    assert.equal(readdirSync(dir), ['model.safetensors'], 'a rejected save leaves the old file alone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('load names the path in its errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'safetensors-'));
  try {
    const path = join(dir, 'broken.safetensors');
    writeFileSync(path, encodeSafetensors(sample(), META).subarray(0, 100));
    assert.match(thrown(() => loadSafetensors(path)).message, new RegExp(`^${path}: `));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('the header must begin with "{", keys appear once, and integers are decimal digits', () => {
  const ok = entry('F32', [0], [0, 0]);
  rejects(file(` {"a":${ok}}`), /header begins with whitespace, expected "\{" as its first byte/);
  rejects(file(`\n{"a":${ok}}`), /header begins with whitespace/);
  rejects(file(`{"a":${ok},"a":${ok}}`), /header has the key "a" twice/);
  rejects(file('{"__metadata__":{"k":"1","k":"2"}}'), /__metadata__ has the key "k" twice/);
  rejects(file('{"__metadata__":{},"__metadata__":{}}'), /header has the key "__metadata__" twice/);
  rejects(
    file('{"a":{"dtype":"F32","shape":[0],"shape":[0],"data_offsets":[0,0]}}'),
    /tensor "a" has the key "shape" twice/,
  );
  for (const n of ['4.0', '1e0', '-0', '0.0', '1E+0']) {
    rejects(
      file(`{"a":{"dtype":"F32","shape":[${n}],"data_offsets":[0,0]}}`),
      new RegExp(`tensor "a" has shape element ${n.replace(/[.+]/g, '\\$&')}, expected`),
    );
    rejects(
      file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,${n}]}}`),
      new RegExp(`tensor "a" has data_offsets element ${n.replace(/[.+]/g, '\\$&')}, expected`),
    );
  }
  // Trailing spaces are the spec's padding; anything else after the object is not.
  assert.is(decodeSafetensors(file(`{"a":${ok}}    `), SOURCE).tensors.size, 1);
  rejects(
    file(`{"a":${ok}} x`),
    /header is not valid JSON \("x" at byte \d+, expected only spaces after the header object\)/,
  );
});

t('a header is refused past 4096 tensors, 4352 metadata entries or rank 8', () => {
  const zero = entry('F32', [0], [0, 0]);
  const tensors = (n: number) => `{${Array.from({ length: n }, (_, i) => `"t${i}":${zero}`).join(',')}}`;
  assert.is(decodeSafetensors(file(tensors(4096)), SOURCE).tensors.size, 4096);
  rejects(file(tensors(4097)), /header has more than 4096 tensors, the limit/);
  const meta = (n: number) => `{"__metadata__":{${Array.from({ length: n }, (_, i) => `"k${i}":""`).join(',')}}}`;
  assert.is(Object.keys(decodeSafetensors(file(meta(4352)), SOURCE).metadata).length, 4352);
  rejects(file(meta(4353)), /__metadata__ has more than 4352 entries, the limit/);
  assert.is(decodeSafetensors(file(`{"a":${entry('F32', [1, 1, 1, 1, 1, 1, 1, 0], [0, 0])}}`), SOURCE).tensors.size, 1);
  rejects(
    file(`{"a":${entry('F32', [1, 1, 1, 1, 1, 1, 1, 1, 0], [0, 0])}}`),
    /tensor "a" has more than 8 dimensions, the limit/,
  );
});

/** `bytes` with its header rewritten by `edit` (the length field follows), the data unchanged. */
interface Header {
  __metadata__: Record<string, string>;
  [name: string]: { dtype: string; shape: number[]; data_offsets: number[] } | Record<string, string>;
}
type Entry = { dtype: string; shape: number[]; data_offsets: number[] };

function reheader(bytes: Uint8Array, edit: (header: Header) => void): Uint8Array {
  const start = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, start)));
  edit(header);
  return file(JSON.stringify(header), bytes.subarray(start));
}

t('checksums: each tensor and the metadata round-trip verified, and stay out of the metadata', () => {
  const bytes = encodeSafetensors(sample(), META, { checksums: true });
  const decoded = decodeSafetensors(bytes, SOURCE);
  assertSame(decoded, sample(), META);
  assert.ok(decoded.checksummed);
  assert.equal(encodeSafetensors(decoded.tensors, decoded.metadata, { checksums: true }), bytes);
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))),
  );
  assert.match(header.__metadata__['sha256:w'], /^F32\[2,3\]:[0-9a-f]{64}$/);
  assert.match(header.__metadata__['sha256:__metadata__'], /^[0-9a-f]{64}$/);
  assert.not.ok(decodeSafetensors(encodeSafetensors(sample(), META), SOURCE).checksummed);
  assert.throws(
    () => encodeSafetensors(sample(), { 'sha256:x': 'y' }),
    /metadata key "sha256:x" is reserved for checksums/,
  );
});

t('checksums: flipped bits, a renamed tensor, a changed dtype or shape, an edited setting are refused by name', () => {
  const bytes = encodeSafetensors(sample(), META, { checksums: true });
  for (let i = 1; i <= 8; i++) {
    const flipped = bytes.slice();
    flipped[bytes.length - i * 3] ^= 1 << (i % 8);
    rejects(flipped, /tensor "(w|scale|labels)" does not match its SHA-256: its bytes are corrupted/);
  }
  rejects(
    reheader(bytes, (h) => {
      h.w2 = h.w;
      delete h.w;
    }),
    /tensor "w2" has no checksum, where every other tensor has one \(renamed or added\?\)/,
  );
  rejects(
    reheader(bytes, (h) => {
      (h.counts as Entry).dtype = 'I32';
    }),
    /tensor "counts" is I32\[4\] but its checksum records "U32\[4\]"/,
  );
  rejects(
    reheader(bytes, (h) => {
      (h.grid as Entry).shape = [4];
    }),
    /tensor "grid" is U32\[4\] but its checksum records "U32\[2,2\]"/,
  );
  rejects(
    reheader(bytes, (h) => {
      h.__metadata__.step = '2000';
    }),
    /the metadata does not match its SHA-256 \(sha256:__metadata__\)/,
  );
  rejects(
    reheader(bytes, (h) => {
      delete h.__metadata__['sha256:__metadata__'];
    }),
    /lacks sha256:__metadata__/,
  );
});

t('load names a folder where the file should be, and a missing file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'safetensors-'));
  try {
    assert.is(thrown(() => loadSafetensors(dir)).message, `${dir}: is a folder, expected a safetensors file`);
    const missing = join(dir, 'none.safetensors');
    assert.is(thrown(() => loadSafetensors(missing)).message, `${missing}: cannot be read (ENOENT)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** mulberry32: a tiny seeded generator, so every run sees the same mutants. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t('fuzz: 12,000 mutants either decode well-formed or throw a plain one-line Error', () => {
  const random = prng(20240611);
  const int = (n: number) => Math.floor(random() * n);
  const valid = encodeSafetensors(sample(), META);
  const dataStart = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
  const headerText = new TextDecoder().decode(valid.subarray(8, dataStart));
  const data = valid.subarray(dataStart);

  const flip = (bytes: Uint8Array, from: number, to: number) => {
    const out = bytes.slice();
    for (let k = 1 + int(4); k > 0; k--) {
      const i = from + int(to - from);
      out[i] ^= 1 << int(8);
    }
    return out;
  };
  const editHeader = (): Uint8Array => {
    const chars = [...headerText];
    const i = int(chars.length);
    switch (int(5)) {
      case 0: {
        // swap two adjacent characters, preferring digits
        const digits = chars.flatMap((c, j) => (/\d/.test(c) && j + 1 < chars.length ? [j] : []));
        const j = digits[int(digits.length)];
        [chars[j], chars[j + 1]] = [chars[j + 1], chars[j]];
        break;
      }
      case 1: {
        // replace a digit with another
        const digits = chars.flatMap((c, j) => (/\d/.test(c) ? [j] : []));
        chars[digits[int(digits.length)]] = String(int(10));
        break;
      }
      case 2:
        chars.splice(i, 1);
        break;
      case 3:
        chars.splice(i, 0, '{}[]",:0123456789-e. _'[int(22)]);
        break;
      default:
        chars.splice(i, 0, chars.slice(i, i + 1 + int(20)).join(''));
    }
    return file(chars.join(''), data);
  };
  const kinds: [string, () => Uint8Array][] = [
    ['header bit flips', () => flip(valid, 8, dataStart)],
    ['data bit flips', () => flip(valid, dataStart, valid.length)],
    ['truncation', () => valid.slice(0, int(valid.length))],
    [
      'length field',
      () => {
        const out = valid.slice();
        const view = new DataView(out.buffer);
        if (random() < 0.5) view.setBigUint64(0, BigInt(Math.max(0, dataStart - 8 + int(33) - 16)), true);
        else out.set(flip(out, 0, 8).subarray(0, 8));
        return out;
      },
    ],
    [
      'appended bytes',
      () => {
        const out = new Uint8Array(valid.length + 1 + int(16));
        out.set(valid);
        for (let i = valid.length; i < out.length; i++) out[i] = int(256);
        return out;
      },
    ],
    ['header text edits', editHeader],
  ];

  const expected = decodeSafetensors(valid, SOURCE);
  const arrays = { F32: Float32Array, U32: Uint32Array, I32: Int32Array };
  const outcomes: Record<string, { decoded: number; rejected: number }> = {};
  for (const [kind, mutate] of kinds) {
    const count = (outcomes[kind] = { decoded: 0, rejected: 0 });
    for (let n = 0; n < 2000; n++) {
      const mutant = mutate();
      let result: Safetensors | undefined;
      let error: unknown;
      try {
        result = decodeSafetensors(mutant, 'mutant');
      } catch (err) {
        error = err;
      }
      if (result === undefined) {
        assert.ok(error instanceof Error && error.constructor === Error, `${kind}: threw ${String(error)}`);
        const { message } = error as Error;
        assert.ok(message.startsWith('mutant: ') && !message.includes('\n'), message);
        count.rejected++;
        continue;
      }
      count.decoded++;
      for (const [name, { dtype, shape, data: values }] of result.tensors) {
        assert.ok(values instanceof arrays[dtype], `${kind}: ${name} is ${dtype}`);
        assert.is(
          values.length,
          shape.reduce((a, b) => a * b, 1),
          `${kind}: ${name} length matches its shape`,
        );
      }
      assert.ok(Object.values(result.metadata).every((v) => typeof v === 'string'));
      if (kind === 'data bit flips') {
        for (const [name, want] of expected.tensors) {
          const got = result.tensors.get(name);
          assert.ok(got && got.dtype === want.dtype, name);
          assert.equal(got.shape, want.shape, name);
        }
        assert.equal({ ...result.metadata }, META);
      }
    }
  }
  assert.is(outcomes['data bit flips'].rejected, 0, 'flipping data bits never breaks a file');
  const total = Object.values(outcomes).reduce((s, o) => ({
    decoded: s.decoded + o.decoded,
    rejected: s.rejected + o.rejected,
  }));
  assert.ok(total.decoded > 2000 && total.rejected > 0, JSON.stringify(outcomes));
  assert.ok(
    outcomes['header text edits'].decoded > 0 && outcomes['header text edits'].rejected > 0,
    JSON.stringify(outcomes),
  );
});

t('the portable SHA-256 (used in the browser) equals the native one, at every padding edge and on a string', () => {
  for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 65_537]) {
    const bytes = new Uint8Array(randomBytes(n));
    assert.is(sha256Hex(bytes), createHash('sha256').update(bytes).digest('hex'), `${n} bytes`);
  }
  assert.is(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.is(sha256Hex('é'), createHash('sha256').update('é').digest('hex'));
});

t('a file checksummed in Node decodes with the portable SHA-256, and its corruption is caught', () => {
  const bytes = encodeSafetensors(sample(), META, { checksums: true });
  const decoded = decodePortable(bytes, SOURCE);
  assert.ok(decoded.checksummed);
  assertSame(decoded, sample(), META);
  const bad = bytes.slice();
  bad[bad.length - 1] ^= 1;
  assert.throws(() => decodePortable(bad, SOURCE), /does not match its SHA-256: its bytes are corrupted/);
});

t.run();
