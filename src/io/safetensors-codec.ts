// The safetensors checkpoint format: an 8-byte little-endian header length N, N bytes of UTF-8
// JSON naming each tensor's dtype, shape and byte range, then the data. The reader treats every
// file as untrusted: anything it cannot account for is a one-line `Error` naming the source.
// Bytes in, bytes out, for Node and the browser alike; safetensors.ts adds files (and Node's
// native SHA-256).
import { sha256Hex } from './sha256.js';

export type Dtype = 'F32' | 'U32' | 'I32';
export type TensorData = Float32Array | Uint32Array | Int32Array;
export interface TensorEntry {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}
export interface Safetensors {
  tensors: Map<string, TensorEntry>;
  /** The metadata, less the checksums. */
  metadata: Record<string, string>;
  /** Whether the file carried checksums (all of which matched, or decoding would have thrown). */
  checksummed: boolean;
}
export interface EncodeOptions {
  /**
   * Record each tensor's dtype, shape and the SHA-256 of its bytes as `sha256:NAME` metadata, and
   * the SHA-256 of the other metadata as `sha256:__metadata__` (other readers see plain strings).
   */
  checksums?: boolean;
  /** The SHA-256 to use (hex digits); the portable one by default. */
  sha256?: Sha256;
}
/** A SHA-256 function: bytes, or a string as UTF-8, to 64 lowercase hex digits. */
export type Sha256 = (input: Uint8Array | string) => string;
export type TensorSet = Map<string, TensorEntry> | Record<string, TensorEntry>;

// Typed arrays use the host byte order; every host this engine runs on is little-endian.
const ARRAYS = { F32: Float32Array, U32: Uint32Array, I32: Int32Array } as const;
const METADATA_KEY = '__metadata__';
// Keys that could reach an object's prototype if some later code copied the header naively.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_HEADER_BYTES = 100_000_000;
const MAX_HEADER_DEPTH = 3;
/**
 * Limits on what a header may hold, far above what this project writes (the largest, the MNIST
 * UNet's checkpoint: 138 tensors of rank at most 4 and, with their checksums, about 155 metadata
 * entries): a header past them is refused as soon as the reader counts one too many.
 */
export const SAFETENSORS_LIMITS = { tensors: 4096, metadata: 4096 + 256, rank: 8 } as const;
const MAX_TENSORS = SAFETENSORS_LIMITS.tensors;
const MAX_METADATA = SAFETENSORS_LIMITS.metadata;
const MAX_RANK = SAFETENSORS_LIMITS.rank;
const CHECKSUM_PREFIX = 'sha256:';

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function isUtf8(bytes: Uint8Array): boolean {
  try {
    STRICT_UTF8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export function fail(source: string, problem: string): Error {
  return new Error(`${source}: ${problem}`.replace(/[\r\n\u2028\u2029]+/g, ' '));
}

/** A value for an error message: JSON-quoted (so control characters are escaped) and short. */
function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(ARRAYS, value);
}

function isDim(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** The element count of a shape, or null when it exceeds Number.MAX_SAFE_INTEGER. */
function elementCount(shape: readonly number[]): number | null {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) return null;
  }
  return count;
}

function entriesOf(tensors: TensorSet): [string, TensorEntry][] {
  return tensors instanceof Map ? [...tensors] : Object.entries(tensors);
}

function checkName(name: string, what: string, source: string): void {
  if (name === '' || name === METADATA_KEY || FORBIDDEN_KEYS.has(name)) {
    throw fail(source, `${what} name ${show(name)} is not allowed`);
  }
}

export function encodeWithSource(
  tensors: TensorSet,
  given: Record<string, string>,
  options: EncodeOptions,
  source: string,
): Uint8Array {
  const sorted = entriesOf(tensors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (sorted.length > MAX_TENSORS)
    throw fail(source, `${sorted.length} tensors, over the reader's limit of ${MAX_TENSORS}`);
  for (const [name, { dtype, shape, data }] of sorted) {
    checkName(name, 'tensor', source);
    if (!isDtype(dtype)) throw fail(source, `tensor ${show(name)} has dtype ${show(dtype)}, expected F32, U32 or I32`);
    if (!(data instanceof ARRAYS[dtype])) {
      throw fail(
        source,
        `tensor ${show(name)} is ${dtype} but its data is a ${data?.constructor?.name ?? typeof data}, expected a ${ARRAYS[dtype].name}`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isDim)) {
      throw fail(source, `tensor ${show(name)} has shape ${show(shape)}, expected non-negative integers`);
    }
    if (shape.length > MAX_RANK) throw fail(source, `tensor ${show(name)} has rank ${shape.length}, over ${MAX_RANK}`);
    if (elementCount(shape) !== data.length) {
      throw fail(source, `tensor ${show(name)} has shape ${show(shape)} but ${data.length} elements`);
    }
  }
  const bytesOf = (data: TensorData) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const metadata: Record<string, string> = { ...given };
  for (const key of Object.keys(metadata)) {
    checkName(key, 'metadata key', source);
    if (key.startsWith(CHECKSUM_PREFIX)) throw fail(source, `metadata key ${show(key)} is reserved for checksums`);
    if (typeof metadata[key] !== 'string') {
      throw fail(source, `metadata ${show(key)} is ${show(metadata[key])}, expected a string`);
    }
  }
  if (options.checksums) {
    const hash = options.sha256 ?? sha256Hex;
    metadata[`${CHECKSUM_PREFIX}${METADATA_KEY}`] = metadataChecksum(metadata, hash);
    for (const [name, { dtype, shape, data }] of sorted) {
      metadata[`${CHECKSUM_PREFIX}${name}`] = tensorChecksum(dtype, shape, bytesOf(data), hash);
    }
  }
  const metaKeys = Object.keys(metadata).sort();
  if (metaKeys.length > MAX_METADATA) {
    throw fail(source, `${metaKeys.length} metadata entries, over the reader's limit of ${MAX_METADATA}`);
  }
  const parts: string[] = [];
  if (metaKeys.length > 0) {
    const fields = metaKeys.map((key) => `${JSON.stringify(key)}:${JSON.stringify(metadata[key])}`);
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${fields.join(',')}}`);
  }
  let offset = 0;
  for (const [name, { dtype, shape, data }] of sorted) {
    const end = offset + data.byteLength;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  let header = new TextEncoder().encode(`{${parts.join(',')}}`);
  if (header.length > MAX_HEADER_BYTES)
    throw fail(source, `header of ${header.length} bytes, over ${MAX_HEADER_BYTES}`);
  // Spaces pad the header so the data section starts 8-byte aligned, as the spec recommends.
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded !== header.length) {
    const grown = new Uint8Array(padded).fill(0x20);
    grown.set(header);
    header = grown;
  }
  const out = new Uint8Array(8 + header.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let at = 8 + header.length;
  for (const [, { data }] of sorted) {
    out.set(bytesOf(data), at);
    at += data.byteLength;
  }
  return out;
}

/**
 * Encodes tensors (stored contiguously in sorted-name order) and string metadata as safetensors.
 * Equal input gives identical bytes.
 */
export function encodeSafetensors(
  tensors: TensorSet,
  metadata: Record<string, string> = {},
  options: EncodeOptions = {},
): Uint8Array {
  return encodeWithSource(tensors, metadata, options, 'encodeSafetensors');
}

/** Bytes that may separate JSON tokens (the spec pads the header's end with spaces). */
function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

const STRUCTURAL = new Set([0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a]); // { } [ ] , :
const ESCAPES: Record<number, string> = {
  34: '"',
  92: '\\',
  47: '/',
  98: '\b',
  102: '\f',
  110: '\n',
  114: '\r',
  116: '\t',
};
const DIGITS = /^(0|[1-9][0-9]*)$/;
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

interface Located {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * The header, read in one pass over its bytes against the only shape a header has (an object of
 * tensor entries and one `__metadata__` object of strings). Nothing is built that the result does
 * not keep, every container is bounded by the limits, and the first problem stops the pass.
 */
class HeaderReader {
  private at: number;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly start: number,
    private readonly end: number,
    private readonly source: string,
  ) {
    this.at = start;
  }

  private fail(problem: string): Error {
    return fail(this.source, problem);
  }

  private syntax(expected: string): Error {
    if (this.at >= this.end)
      return this.fail(`header is not valid JSON (it ends at byte ${this.at - this.start}, expected ${expected})`);
    const b = this.bytes[this.at];
    const found =
      b >= 0x20 && b < 0x7f ? JSON.stringify(String.fromCharCode(b)) : `byte 0x${b.toString(16).padStart(2, '0')}`;
    return this.fail(`header is not valid JSON (${found} at byte ${this.at - this.start}, expected ${expected})`);
  }

  private space(): void {
    while (this.at < this.end && isSpace(this.bytes[this.at])) this.at++;
  }

  private peek(): number {
    return this.at < this.end ? this.bytes[this.at] : -1;
  }

  private take(byte: number, expected: string): void {
    this.space();
    if (this.peek() !== byte) throw this.syntax(expected);
    this.at++;
  }

  /** A JSON string starting at the current byte, which must be `"`. */
  private string(): string {
    if (this.peek() !== 0x22) throw this.syntax('a string');
    const { bytes, end } = this;
    let from = ++this.at;
    let text = '';
    for (;;) {
      if (this.at >= end) throw this.syntax('the closing quote of a string');
      const b = bytes[this.at];
      if (b === 0x22) break;
      if (b < 0x20) throw this.syntax('no control character inside a string');
      if (b !== 0x5c) {
        this.at++;
        continue;
      }
      text += UTF8.decode(bytes.subarray(from, this.at));
      const e = this.at + 1 < end ? bytes[this.at + 1] : -1;
      if (e === 0x75) {
        const hex = String.fromCharCode(...bytes.subarray(this.at + 2, this.at + 6));
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.syntax('four hex digits after \\u');
        text += String.fromCharCode(Number.parseInt(hex, 16));
        this.at += 6;
      } else {
        const c = ESCAPES[e];
        if (c === undefined) throw this.syntax('an escape such as \\n or \\u0041 after a backslash');
        text += c;
        this.at += 2;
      }
      from = this.at;
    }
    text += UTF8.decode(bytes.subarray(from, this.at));
    this.at++;
    return text;
  }

  /**
   * Skips one JSON value of any kind, checking its syntax and nesting (`depth` is the level it
   * sits at), and returns its text for an error message, shortened.
   */
  private skip(depth: number): string {
    this.space();
    const from = this.at;
    this.skipValue(depth);
    const text = new TextDecoder().decode(this.bytes.subarray(from, Math.min(this.at, from + 81)));
    return this.at - from > 80 ? `${text.slice(0, 77)}...` : text;
  }

  private skipValue(depth: number): void {
    const b = this.peek();
    if (b === 0x7b || b === 0x5b) {
      if (depth > MAX_HEADER_DEPTH) throw this.fail(`header nests deeper than ${MAX_HEADER_DEPTH} levels`);
      const close = b === 0x7b ? 0x7d : 0x5d;
      this.at++;
      this.space();
      if (this.peek() === close) {
        this.at++;
        return;
      }
      for (;;) {
        this.space();
        if (b === 0x7b) {
          this.string();
          this.take(0x3a, '":"');
          this.space();
        }
        this.skipValue(depth + 1);
        this.space();
        if (this.peek() === close) {
          this.at++;
          return;
        }
        this.take(0x2c, b === 0x7b ? '"," or "}"' : '"," or "]"');
      }
    }
    if (b === 0x22) {
      this.string();
      return;
    }
    const from = this.at;
    while (this.at < this.end && !isSpace(this.bytes[this.at]) && !STRUCTURAL.has(this.bytes[this.at])) this.at++;
    const word = String.fromCharCode(...this.bytes.subarray(from, Math.min(this.at, from + 32)));
    if (word === 'null' || word === 'true' || word === 'false') return;
    if (this.at > from && /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(word)) return;
    this.at = from;
    throw this.syntax('a JSON value');
  }

  /**
   * An integer written as decimal digits (the spec's integers: not 4.0, 1e0 or -0), as a number
   * that is exact, or null (with the cursor back at the value) for anything else.
   */
  private integer(): number | null {
    this.space();
    const from = this.at;
    while (this.at < this.end && this.bytes[this.at] >= 0x30 && this.bytes[this.at] <= 0x39) this.at++;
    const next = this.peek();
    const digits = String.fromCharCode(...this.bytes.subarray(from, Math.min(this.at, from + 17)));
    if (this.at === from || this.at - from > 16 || !DIGITS.test(digits) || !(isSpace(next) || STRUCTURAL.has(next))) {
      this.at = from;
      return null;
    }
    const v = Number(digits);
    if (!Number.isSafeInteger(v)) {
      this.at = from;
      return null;
    }
    return v;
  }

  /** An array of decimal integers (at most `limit`); null, with the cursor unmoved, when not an array. */
  private integers(
    limit: number,
    what: string,
    kind: keyof typeof ELEMENTS,
  ): { values: number[]; text: string } | null {
    this.space();
    if (this.peek() !== 0x5b) return null;
    this.at++;
    const values: number[] = [];
    this.space();
    if (this.peek() === 0x5d) {
      this.at++;
      return { values, text: '[]' };
    }
    for (;;) {
      this.space();
      const b = this.peek();
      if (b === 0x5b || b === 0x7b) throw this.fail(`header nests deeper than ${MAX_HEADER_DEPTH} levels`);
      const v = this.integer();
      if (v === null)
        throw this.fail(`${what} has ${kind} element ${this.skip(MAX_HEADER_DEPTH + 1)}, expected ${ELEMENTS[kind]}`);
      if (values.length === limit) {
        throw this.fail(
          kind === 'shape'
            ? `${what} has more than ${limit} dimensions, the limit`
            : `${what} has ${kind} of more than ${limit} elements, expected ${ELEMENTS[kind]}`,
        );
      }
      values.push(v);
      this.space();
      if (this.peek() === 0x5d) {
        this.at++;
        return { values, text: `[${values.join(',')}]` };
      }
      this.take(0x2c, '"," or "]"');
    }
  }

  /** The object at the cursor, calling `member` at each value with its key; duplicate keys refused. */
  private members(limit: number, what: string, member: (key: string) => void): void {
    this.take(0x7b, '"{"');
    const seen = new Set<string>();
    this.space();
    if (this.peek() === 0x7d) {
      this.at++;
      return;
    }
    for (;;) {
      this.space();
      const key = this.string();
      if (FORBIDDEN_KEYS.has(key)) throw this.fail(`header uses the forbidden key ${show(key)}`);
      if (seen.has(key)) throw this.fail(`${what} has the key ${show(key)} twice`);
      if (seen.size === limit) throw this.fail(`${what} has more than ${limit} entries, the limit`);
      seen.add(key);
      this.take(0x3a, '":"');
      this.space();
      member(key);
      this.space();
      if (this.peek() === 0x7d) {
        this.at++;
        return;
      }
      this.take(0x2c, '"," or "}"');
    }
  }

  read(dataLength: number): { located: Located[]; metadata: Record<string, string> } {
    const first = this.peek();
    if (first !== 0x7b) {
      if (isSpace(first)) throw this.fail('header begins with whitespace, expected "{" as its first byte');
      const b = this.bytes[this.at];
      if (
        b === 0x5b ||
        b === 0x22 ||
        b === 0x2d ||
        (b >= 0x30 && b <= 0x39) ||
        b === 0x6e ||
        b === 0x74 ||
        b === 0x66
      ) {
        throw this.fail(`header is ${this.skip(1)}, expected a JSON object`);
      }
      throw this.syntax('"{"');
    }
    const located: Located[] = [];
    const metadata: Record<string, string> = Object.create(null);
    this.members(MAX_TENSORS + 1, 'header', (name) => {
      if (name === METADATA_KEY) this.metadata(metadata);
      else {
        if (located.length === MAX_TENSORS) throw this.fail(`header has more than ${MAX_TENSORS} tensors, the limit`);
        located.push(this.entry(name, dataLength));
      }
    });
    this.space();
    if (this.at < this.end) throw this.syntax('only spaces after the header object');
    return { located, metadata };
  }

  private metadata(into: Record<string, string>): void {
    if (this.peek() !== 0x7b) throw this.fail(`${METADATA_KEY} is ${this.skip(2)}, expected an object of strings`);
    this.members(MAX_METADATA, METADATA_KEY, (key) => {
      if (this.peek() !== 0x22) throw this.fail(`${METADATA_KEY} ${show(key)} is ${this.skip(3)}, expected a string`);
      into[key] = this.string();
    });
  }

  private entry(name: string, dataLength: number): Located {
    const what = `tensor ${show(name)}`;
    if (name === '') throw this.fail('a tensor has an empty name');
    if (this.peek() !== 0x7b) throw this.fail(`${what} is ${this.skip(2)}, expected an object`);
    let dtype: Dtype | undefined;
    let shape: { values: number[]; text: string } | undefined;
    let offsets: { values: number[]; text: string } | undefined;
    // No limit needed: a fourth key is a duplicate or an unknown field, and refused as one.
    this.members(Number.POSITIVE_INFINITY, what, (field) => {
      if (field === 'dtype') {
        if (this.peek() !== 0x22) throw this.fail(`${what} has dtype ${this.skip(3)}, expected F32, U32 or I32`);
        const value = this.string();
        if (!isDtype(value)) throw this.fail(`${what} has dtype ${show(value)}, expected F32, U32 or I32`);
        dtype = value;
      } else if (field === 'shape' || field === 'data_offsets') {
        const limit = field === 'shape' ? MAX_RANK : 2;
        const read = this.integers(limit, what, field);
        if (!read) throw this.fail(`${what} has ${field} ${this.skip(3)}, expected ${ELEMENTS[field]}`);
        if (field === 'shape') shape = read;
        else offsets = read;
      } else throw this.fail(`${what} has an unknown field ${show(field)}`);
    });
    if (dtype === undefined) throw this.fail(`${what} lacks the field "dtype"`);
    if (shape === undefined) throw this.fail(`${what} lacks the field "shape"`);
    if (offsets === undefined) throw this.fail(`${what} lacks the field "data_offsets"`);
    return locate(name, dtype, shape.values, offsets, dataLength, this.source);
  }
}

const ELEMENTS = {
  shape: 'an array of non-negative integers (decimal digits, at most 2^53-1)',
  data_offsets: 'two integers [begin, end] (decimal digits)',
} as const;

function locate(
  name: string,
  dtype: Dtype,
  shape: number[],
  offsets: { values: number[]; text: string },
  dataLength: number,
  source: string,
): Located {
  const what = `tensor ${show(name)}`;
  const count = elementCount(shape);
  if (count === null) throw fail(source, `${what} has shape ${show(shape)}, more than 2^53-1 elements`);
  if (offsets.values.length !== 2) {
    throw fail(source, `${what} has data_offsets ${offsets.text}, expected ${ELEMENTS.data_offsets}`);
  }
  const [begin, end] = offsets.values as [number, number];
  if (begin > end) throw fail(source, `${what} has data_offsets ${offsets.text}, expected 0 <= begin <= end`);
  if (end > dataLength) {
    throw fail(source, `${what} has data_offsets ${offsets.text}, past the end of the ${dataLength}-byte data section`);
  }
  const bytes = count * ARRAYS[dtype].BYTES_PER_ELEMENT;
  if (end - begin !== bytes) {
    throw fail(
      source,
      `${what} has shape ${show(shape)} (${bytes} bytes of ${dtype}) but data_offsets ${offsets.text} span ${end - begin} bytes`,
    );
  }
  return { name, dtype, shape, begin, end };
}

/** Every byte of the data section must belong to exactly one tensor. */
function checkLayout(located: Located[], dataLength: number, source: string): void {
  const byStart = located.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  let covered = 0;
  let previous: Located | undefined;
  for (const t of byStart) {
    if (t.begin < covered) {
      throw fail(
        source,
        `tensors ${show(previous?.name)} and ${show(t.name)} overlap in the data section at byte ${t.begin}`,
      );
    }
    if (t.begin > covered) {
      throw fail(source, `data bytes ${covered}..${t.begin} are not covered by any tensor`);
    }
    covered = t.end;
    previous = t;
  }
  if (covered < dataLength) {
    throw fail(source, `data bytes ${covered}..${dataLength} (trailing) are not covered by any tensor`);
  }
}

/** The checksum a tensor's `sha256:NAME` metadata holds: dtype, shape and the SHA-256 of its bytes. */
function tensorChecksum(dtype: Dtype, shape: readonly number[], bytes: Uint8Array, hash: Sha256): string {
  return `${dtype}[${shape.join(',')}]:${hash(bytes)}`;
}

/** The SHA-256 of the other metadata (sorted key/value pairs as JSON), under `sha256:__metadata__`. */
function metadataChecksum(metadata: Record<string, string>, hash: Sha256): string {
  const pairs = Object.keys(metadata)
    .filter((k) => !k.startsWith(CHECKSUM_PREFIX))
    .sort()
    .map((k) => [k, metadata[k]]);
  return hash(JSON.stringify(pairs));
}

/**
 * When the file carries checksums, every tensor's dtype, shape and bytes and the metadata must
 * match them, and every checksum must name a tensor; returns whether it carries them. The
 * checksum keys are then removed from `metadata`.
 */
function verifyChecksums(
  located: readonly Located[],
  metadata: Record<string, string>,
  data: Uint8Array,
  source: string,
  hash: Sha256,
): boolean {
  const keys = Object.keys(metadata).filter((k) => k.startsWith(CHECKSUM_PREFIX));
  if (keys.length === 0) return false;
  const meta = `${CHECKSUM_PREFIX}${METADATA_KEY}`;
  if (metadata[meta] !== metadataChecksum(metadata, hash)) {
    throw fail(
      source,
      Object.hasOwn(metadata, meta)
        ? `the metadata does not match its SHA-256 (${meta}): edited or corrupted`
        : `the file checksums its tensors but lacks ${meta}`,
    );
  }
  const names = new Set<string>();
  for (const { name, dtype, shape, begin, end } of located) {
    names.add(name);
    const recorded = metadata[`${CHECKSUM_PREFIX}${name}`];
    if (recorded === undefined) {
      throw fail(source, `tensor ${show(name)} has no checksum, where every other tensor has one (renamed or added?)`);
    }
    const actual = tensorChecksum(dtype, shape, data.subarray(begin, end), hash);
    if (recorded === actual) continue;
    const [kind] = recorded.split(':');
    const ours = `${dtype}[${shape.join(',')}]`;
    throw fail(
      source,
      kind !== ours
        ? `tensor ${show(name)} is ${ours} but its checksum records ${show(kind)}`
        : `tensor ${show(name)} does not match its SHA-256: its bytes are corrupted`,
    );
  }
  for (const key of keys) {
    if (key !== meta && !names.has(key.slice(CHECKSUM_PREFIX.length))) {
      throw fail(source, `checksum ${show(key)} names no tensor in the file (renamed or removed?)`);
    }
    delete metadata[key];
  }
  return true;
}

/**
 * Decodes a safetensors file. `source` names it in errors. The header is read in one pass
 * (see HeaderReader) within the limits; tensor data is copied into fresh arrays only after the
 * whole header and any checksums check out.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = 'safetensors data',
  sha256: Sha256 = sha256Hex,
): Safetensors {
  if (bytes.length < 8) throw fail(source, `file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw fail(source, `header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (headerLength > BigInt(bytes.length - 8)) {
    throw fail(source, `header length ${headerLength} runs past the end of the ${bytes.length}-byte file`);
  }
  const dataStart = 8 + Number(headerLength);
  // Checked once (a fatal TextDecoder, in Node and browsers alike); strings are then decoded one by one.
  if (!isUtf8(bytes.subarray(8, dataStart))) throw fail(source, 'header is not valid UTF-8');
  const dataLength = bytes.length - dataStart;
  const { located, metadata } = new HeaderReader(bytes, 8, dataStart, source).read(dataLength);
  checkLayout(located, dataLength, source);
  const data = bytes.subarray(dataStart);
  const checksummed = verifyChecksums(located, metadata, data, source, sha256);

  const tensors = new Map<string, TensorEntry>();
  for (const { name, dtype, shape, begin, end } of located) {
    // A copy is aligned whatever the file's offsets, and does not keep the file's buffer alive.
    // (Not `bytes.slice`: on a Node Buffer that returns a view, not a copy.)
    const copy = new Uint8Array(end - begin);
    copy.set(data.subarray(begin, end));
    tensors.set(name, { dtype, shape, data: new ARRAYS[dtype](copy.buffer) });
  }
  return { tensors, metadata, checksummed };
}

/**
 * Throws unless every key of `expected` is in the file's metadata with the same value, naming the
 * first that is missing or differs, e.g. a checkpoint from another model configuration.
 */
export function requireMetadata(file: Safetensors, expected: Record<string, string>, source: string): void {
  const m = metadataMismatch(file, expected);
  if (!m) return;
  if (m.got === undefined) throw fail(source, `metadata ${show(m.key)} is missing, expected ${show(m.want)}`);
  throw fail(source, `metadata ${show(m.key)} is ${show(m.got)}, expected ${show(m.want)}`);
}

/** The first key of `expected` that the file's metadata lacks or holds another value for, or null. */
export function metadataMismatch(
  file: Safetensors,
  expected: Record<string, string>,
): { key: string; got?: string; want: string } | null {
  for (const [key, want] of Object.entries(expected)) {
    const got = Object.hasOwn(file.metadata, key) ? file.metadata[key] : undefined;
    if (got !== want) return { key, got, want };
  }
  return null;
}
