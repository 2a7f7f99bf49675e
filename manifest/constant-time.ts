/**
 * Constant-time equality of two byte strings, for digests, MACs and keys: the time depends only on the
 * lengths, which are public. Internal to manifest/ (not re-exported by index.ts).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
