import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../cbor.js';
import { sha256of55 } from './sha256-chain.js';

describe('single-block SHA-256', () => {
  it('single-block SHA-256 equals @noble/hashes on 55-byte inputs', () => {
    const m = new Uint8Array(55);
    const out = new Uint8Array(32);
    for (let i = 0; i < 50; i++) {
      crypto.getRandomValues(m);
      sha256of55(m, out, 0);
      expect(toHex(out)).toBe(toHex(sha256(m)));
    }
  });
});
