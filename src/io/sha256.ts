// SHA-256 that runs the same in Node and in the browser (whose crypto.subtle is asynchronous, where
// decoding a checkpoint is not): @noble/hashes, an audited implementation without dependencies.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/** The SHA-256 of `input` (a string is hashed as its UTF-8 bytes), as 64 lowercase hex digits. */
export function sha256Hex(input: Uint8Array | string): string {
  return bytesToHex(sha256(typeof input === 'string' ? new TextEncoder().encode(input) : input));
}
