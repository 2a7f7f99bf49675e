/**
 * Suffix array by induced sorting (SA-IS, Nong/Zhang/Chan 2009). Linear time.
 * `suffixArray(bytes)` returns the n start offsets of the suffixes of `bytes` in sorted order.
 */
export function suffixArray(bytes: Uint8Array): Int32Array {
  const n = bytes.length;
  if (n === 0) return new Int32Array(0);
  const s = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) s[i] = bytes[i]! + 1;
  s[n] = 0; // unique smallest sentinel
  const sa = new Int32Array(n + 1);
  saIs(s, sa, n + 1, 257);
  return sa.subarray(1); // sa[0] is the sentinel
}

function getBuckets(s: Int32Array, bkt: Int32Array, n: number, K: number, end: boolean): void {
  bkt.fill(0, 0, K);
  for (let i = 0; i < n; i++) bkt[s[i]!]!++;
  let sum = 0;
  for (let i = 0; i < K; i++) {
    sum += bkt[i]!;
    bkt[i] = end ? sum : sum - bkt[i]!;
  }
}

function saIs(s: Int32Array, SA: Int32Array, n: number, K: number): void {
  if (n === 1) {
    SA[0] = 0;
    return;
  }
  const t = new Uint8Array(n); // 1 = S-type
  t[n - 1] = 1;
  t[n - 2] = 0;
  for (let i = n - 3; i >= 0; i--) t[i] = s[i]! < s[i + 1]! || (s[i] === s[i + 1] && t[i + 1] === 1) ? 1 : 0;
  const isLMS = (i: number): boolean => i > 0 && t[i] === 1 && t[i - 1] === 0;
  const bkt = new Int32Array(K);

  // stage 1: sort LMS substrings
  getBuckets(s, bkt, n, K, true);
  SA.fill(-1, 0, n);
  for (let i = 1; i < n; i++) if (isLMS(i)) SA[--bkt[s[i]!]!] = i;
  induce(t, SA, s, bkt, n, K);

  let n1 = 0;
  for (let i = 0; i < n; i++) if (isLMS(SA[i]!)) SA[n1++] = SA[i]!;
  SA.fill(-1, n1, n);
  let name = 0;
  let prev = -1;
  for (let i = 0; i < n1; i++) {
    const pos = SA[i]!;
    let diff = false;
    for (let d = 0; d < n; d++) {
      if (prev === -1 || s[pos + d] !== s[prev + d] || t[pos + d] !== t[prev + d]) {
        diff = true;
        break;
      } else if (d > 0 && (isLMS(pos + d) || isLMS(prev + d))) break;
    }
    if (diff) {
      name++;
      prev = pos;
    }
    SA[n1 + (pos >> 1)] = name - 1;
  }
  for (let i = n - 1, j = n - 1; i >= n1; i--) if (SA[i]! >= 0) SA[j--] = SA[i]!;

  // stage 2: sort the reduced problem
  const s1 = SA.subarray(n - n1);
  const SA1 = SA.subarray(0, n1);
  if (name < n1) saIs(s1, SA1, n1, name);
  else for (let i = 0; i < n1; i++) SA1[s1[i]!] = i;

  // stage 3: induce the full order from the sorted LMS suffixes
  getBuckets(s, bkt, n, K, true);
  for (let i = 1, j = 0; i < n; i++) if (isLMS(i)) s1[j++] = i;
  for (let i = 0; i < n1; i++) SA1[i] = s1[SA1[i]!]!;
  SA.fill(-1, n1, n);
  for (let i = n1 - 1; i >= 0; i--) {
    const j = SA[i]!;
    SA[i] = -1;
    SA[--bkt[s[j]!]!] = j;
  }
  induce(t, SA, s, bkt, n, K);
}

function induce(t: Uint8Array, SA: Int32Array, s: Int32Array, bkt: Int32Array, n: number, K: number): void {
  getBuckets(s, bkt, n, K, false);
  for (let i = 0; i < n; i++) {
    const j = SA[i]! - 1;
    if (j >= 0 && t[j] === 0) SA[bkt[s[j]!]!++] = j;
  }
  getBuckets(s, bkt, n, K, true);
  for (let i = n - 1; i >= 0; i--) {
    const j = SA[i]! - 1;
    if (j >= 0 && t[j] === 1) SA[--bkt[s[j]!]!] = j;
  }
}
