// The safetensors checkpoint format: an 8-byte little-endian header length N, N bytes of UTF-8
// JSON naming each tensor's dtype, shape and byte range, then the data. The reader treats every
// file as untrusted: anything it cannot account for is a one-line `Error` naming the source.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';

export type Dtype = 'F32' | 'U32' | 'I32';
export type TensorData = Float32Array | Uint32Array | Int32Array;
export interface TensorEntry {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}
export interface Safetensors {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}
export type TensorSet = Map<string, TensorEntry> | Record<string, TensorEntry>;

// Typed arrays use the host byte order; every host this engine runs on is little-endian.
const ARRAYS = { F32: Float32Array, U32: Uint32Array, I32: Int32Array } as const;
const METADATA_KEY = '__metadata__';
// Keys that could reach an object's prototype if some later code copied the header naively.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const ENTRY_FIELDS = ['dtype', 'shape', 'data_offsets'];
const MAX_HEADER_BYTES = 100_000_000;
const MAX_HEADER_DEPTH = 3;

function fail(source: string, problem: string): Error {
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

function encodeWithSource(tensors: TensorSet, metadata: Record<string, string>, source: string): Uint8Array {
  const sorted = entriesOf(tensors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: string[] = [];
  const metaKeys = Object.keys(metadata).sort();
  if (metaKeys.length > 0) {
    const fields = metaKeys.map((key) => {
      checkName(key, 'metadata key', source);
      const value = metadata[key];
      if (typeof value !== 'string') {
        throw fail(source, `metadata ${show(key)} is ${show(value)}, expected a string`);
      }
      return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
    });
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${fields.join(',')}}`);
  }
  let offset = 0;
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
    if (elementCount(shape) !== data.length) {
      throw fail(source, `tensor ${show(name)} has shape ${show(shape)} but ${data.length} elements`);
    }
    const end = offset + data.byteLength;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  let header = new TextEncoder().encode(`{${parts.join(',')}}`);
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
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

/**
 * Encodes tensors (stored contiguously in sorted-name order) and string metadata as safetensors.
 * Equal input gives identical bytes.
 */
export function encodeSafetensors(tensors: TensorSet, metadata: Record<string, string> = {}): Uint8Array {
  return encodeWithSource(tensors, metadata, 'encodeSafetensors');
}

/** Writes a safetensors file atomically: `path` holds either the old file or the whole new one. */
export function saveSafetensors(path: string, tensors: TensorSet, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeWithSource(tensors, metadata, path));
}

/**
 * Rejects nesting deeper than a valid header has (header, entry, shape), before JSON.parse: deeply
 * nested input is slow to parse and overflows the stack of the reviver.
 */
function checkDepth(text: string, source: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_HEADER_DEPTH) throw fail(source, `header nests deeper than ${MAX_HEADER_DEPTH} levels`);
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
}

function parseHeader(text: string, source: string): unknown {
  checkDepth(text, source);
  let forbidden: string | undefined;
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (FORBIDDEN_KEYS.has(key)) {
        forbidden = key;
        throw new Error('forbidden key');
      }
      return value;
    });
  } catch (err) {
    if (forbidden !== undefined) throw fail(source, `header uses the forbidden key ${show(forbidden)}`);
    throw fail(source, `header is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

function readMetadata(value: unknown, source: string): Record<string, string> {
  const metadata: Record<string, string> = Object.create(null);
  if (value === undefined) return metadata;
  if (!isRecord(value)) throw fail(source, `${METADATA_KEY} is ${show(value)}, expected an object of strings`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw fail(source, `${METADATA_KEY} ${show(key)} is ${show(v)}, expected a string`);
    metadata[key] = v;
  }
  return metadata;
}

interface Located {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

function readEntry(name: string, value: unknown, dataLength: number, source: string): Located {
  const what = `tensor ${show(name)}`;
  if (name === '') throw fail(source, 'a tensor has an empty name');
  if (!isRecord(value)) throw fail(source, `${what} is ${show(value)}, expected an object`);
  for (const field of ENTRY_FIELDS) {
    if (!Object.hasOwn(value, field)) throw fail(source, `${what} lacks the field "${field}"`);
  }
  for (const field of Object.keys(value)) {
    if (!ENTRY_FIELDS.includes(field)) throw fail(source, `${what} has an unknown field ${show(field)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isDtype(dtype)) throw fail(source, `${what} has dtype ${show(dtype)}, expected F32, U32 or I32`);
  if (!Array.isArray(shape) || !shape.every(isDim)) {
    throw fail(source, `${what} has shape ${show(shape)}, expected an array of non-negative integers`);
  }
  const count = elementCount(shape);
  if (count === null) throw fail(source, `${what} has shape ${show(shape)}, more than 2^53-1 elements`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o))) {
    throw fail(source, `${what} has data_offsets ${show(offsets)}, expected two integers [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin < 0 || begin > end) {
    throw fail(source, `${what} has data_offsets ${show(offsets)}, expected 0 <= begin <= end`);
  }
  if (end > dataLength) {
    throw fail(
      source,
      `${what} has data_offsets ${show(offsets)}, past the end of the ${dataLength}-byte data section`,
    );
  }
  const bytes = count * ARRAYS[dtype].BYTES_PER_ELEMENT;
  if (end - begin !== bytes) {
    throw fail(
      source,
      `${what} has shape ${show(shape)} (${bytes} bytes of ${dtype}) but data_offsets ${show(offsets)} span ${end - begin} bytes`,
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

/**
 * Decodes a safetensors file. `source` names it in errors. Tensor data is copied into fresh
 * arrays only after the whole header checks out, so memory stays within a small multiple of
 * the input's size whatever the header claims.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): Safetensors {
  if (bytes.length < 8) throw fail(source, `file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw fail(source, `header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (headerLength > BigInt(bytes.length - 8)) {
    throw fail(source, `header length ${headerLength} runs past the end of the ${bytes.length}-byte file`);
  }
  const dataStart = 8 + Number(headerLength);
  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, where JSON.parse rejects it.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    throw fail(source, 'header is not valid UTF-8');
  }
  const header = parseHeader(text, source);
  if (!isRecord(header)) throw fail(source, `header is ${show(header)}, expected a JSON object`);

  const dataLength = bytes.length - dataStart;
  const metadata = readMetadata(header[METADATA_KEY], source);
  const located = Object.keys(header)
    .filter((name) => name !== METADATA_KEY)
    .map((name) => readEntry(name, header[name], dataLength, source));
  checkLayout(located, dataLength, source);

  const tensors = new Map<string, TensorEntry>();
  for (const { name, dtype, shape, begin, end } of located) {
    // A copy is aligned whatever the file's offsets, and does not keep the file's buffer alive.
    // (Not `bytes.slice`: on a Node Buffer that returns a view, not a copy.)
    const copy = new Uint8Array(end - begin);
    copy.set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { dtype, shape, data: new ARRAYS[dtype](copy.buffer) });
  }
  return { tensors, metadata };
}

/** Reads and decodes a safetensors file; errors name `path`. */
export function loadSafetensors(path: string): Safetensors {
  return decodeSafetensors(readFileSync(path), path);
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
