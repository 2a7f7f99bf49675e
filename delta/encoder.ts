/**
 * Delta encoder: suffix-array matching with bsdiff-style approximate extension, then an adaptive
 * binary range coder over one interleaved stream (control triple, diff data, extra data, ...).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { FORMAT_VERSION, MODEL_ID, crc32Update, writeHeader } from './format.js';
import { FlagModel, newFlagTables } from './flag.js';
import { CTX, OFF_LIT, OFF_REP, OFF_V, OFF_ZSIGN, SINCE_MAX, encInt, encTree, newProbs } from './model.js';
import { RangeEncoder } from './rc.js';
import { suffixArray } from './sais.js';

export interface EncodeOptions {
  /** Ignored placeholder for future tuning knobs. */
  readonly level?: number;
}

export interface Triple {
  /** new offset where this op starts */
  newPos: number;
  /** old offset the diff bytes are added to */
  oldPos: number;
  x: number;
  y: number;
  z: number;
}

function matchLen(a: Uint8Array, ai: number, b: Uint8Array, bi: number): number {
  const n = Math.min(a.length - ai, b.length - bi);
  let i = 0;
  while (i < n && a[ai + i] === b[bi + i]) i++;
  return i;
}

/** bsdiff's binary search over the suffix array; returns [length, oldPos]. */
function search(sa: Int32Array, old: Uint8Array, nw: Uint8Array, scan: number, out: Int32Array): number {
  let st = 0;
  let en = sa.length - 1;
  const nlen = nw.length - scan;
  while (en - st >= 2) {
    const x = st + ((en - st) >> 1);
    const p = sa[x]!;
    const n = Math.min(old.length - p, nlen);
    let cmp = 0;
    for (let i = 0; i < n; i++) {
      const d = old[p + i]! - nw[scan + i]!;
      if (d !== 0) {
        cmp = d;
        break;
      }
    }
    if (cmp === 0 && n < nlen) cmp = -1; // old suffix shorter: it sorts first
    if (cmp < 0) st = x;
    else en = x;
  }
  const x = matchLen(old, sa[st]!, nw, scan);
  const y = matchLen(old, sa[en]!, nw, scan);
  if (x > y) {
    out[0] = sa[st]!;
    return x;
  }
  out[0] = sa[en]!;
  return y;
}

/** bsdiff 4.3 matching loop, producing control triples. */
export function bsdiffTriples(old: Uint8Array, nw: Uint8Array): Triple[] {
  const triples: Triple[] = [];
  const oldsize = old.length;
  const newsize = nw.length;
  if (oldsize === 0) {
    triples.push({ newPos: 0, oldPos: 0, x: 0, y: newsize, z: 0 });
    return triples;
  }
  const sa = suffixArray(old);
  const posOut = new Int32Array(1);
  let scan = 0;
  let len = 0;
  let pos = 0;
  let lastscan = 0;
  let lastpos = 0;
  let lastoffset = 0;
  while (scan < newsize) {
    let oldscore = 0;
    let scsc = (scan += len);
    for (; scan < newsize; scan++) {
      len = search(sa, old, nw, scan, posOut);
      pos = posOut[0]!;
      for (; scsc < scan + len; scsc++)
        if (scsc + lastoffset < oldsize && old[scsc + lastoffset] === nw[scsc]) oldscore++;
      if ((len === oldscore && len !== 0) || len > oldscore + 8) break;
      if (scan + lastoffset < oldsize && old[scan + lastoffset] === nw[scan]) oldscore--;
    }
    if (len !== oldscore || scan === newsize) {
      let s = 0;
      let Sf = 0;
      let lenf = 0;
      for (let i = 0; lastscan + i < scan && lastpos + i < oldsize; ) {
        if (old[lastpos + i] === nw[lastscan + i]) s++;
        i++;
        if (s * 2 - i > Sf * 2 - lenf) {
          Sf = s;
          lenf = i;
        }
      }
      let lenb = 0;
      if (scan < newsize) {
        let s2 = 0;
        let Sb = 0;
        for (let i = 1; scan >= lastscan + i && pos >= i; i++) {
          if (old[pos - i] === nw[scan - i]) s2++;
          if (s2 * 2 - i > Sb * 2 - lenb) {
            Sb = s2;
            lenb = i;
          }
        }
      }
      if (lastscan + lenf > scan - lenb) {
        const overlap = lastscan + lenf - (scan - lenb);
        let s3 = 0;
        let Ss = 0;
        let lens = 0;
        for (let i = 0; i < overlap; i++) {
          if (nw[lastscan + lenf - overlap + i] === old[lastpos + lenf - overlap + i]) s3++;
          if (nw[scan - lenb + i] === old[pos - lenb + i]) s3--;
          if (s3 > Ss) {
            Ss = s3;
            lens = i + 1;
          }
        }
        lenf += lens - overlap;
        lenb -= lens;
      }
      triples.push({
        newPos: lastscan,
        oldPos: lastpos,
        x: lenf,
        y: scan - lenb - (lastscan + lenf),
        z: pos - lenb - (lastpos + lenf),
      });
      lastscan = scan - lenb;
      lastpos = pos - lenb;
      lastoffset = pos - scan;
    }
  }
  return triples;
}

/** Diff bytes: new = old + v (mod 256), bytewise. */
export function diffBytes(old: Uint8Array, os: number, nw: Uint8Array, ns: number, n: number): Uint8Array {
  const v = new Uint8Array(n);
  for (let i = 0; i < n; i++) v[i] = (nw[ns + i]! - old[os + i]!) & 0xff;
  return v;
}

/** Old byte at `pos`, 0 outside the image (context only). */
export function oldAt(old: Uint8Array, pos: number): number {
  return pos >= 0 && pos < old.length ? old[pos]! : 0;
}

/** Entropy-code a list of triples (model 2). Shared contexts: see model.ts, flag.ts and the decoder. */
export function codeTriples(old: Uint8Array, nw: Uint8Array, triples: readonly Triple[]): Uint8Array {
  const enc = new RangeEncoder();
  const p = newProbs();
  const ft = newFlagTables();
  const fm = new FlagModel(ft.c, ft.w);
  let prevSign = 0;
  let out = 0;
  const rep = [0, 0, 0, 0];
  let h = 0;
  let since = 0;
  let dist = 0;
  for (const t of triples) {
    if (out >= nw.length) break;
    if (t.x === 0 && t.y === 0 && t.z === 0) continue;
    encInt(enc, p, CTX.X, t.x);
    encInt(enc, p, CTX.Y, t.y);
    const sign = t.z < 0 ? 1 : 0;
    enc.encodeBit(p, OFF_ZSIGN + prevSign, sign);
    prevSign = sign;
    encInt(enc, p, CTX.Z, Math.abs(t.z));
    // diff region: per byte a mixed "changed?" flag, then the value
    const ns = t.newPos;
    const os = t.oldPos;
    for (let i = 0; i < t.x; i++) {
      const op = os + i;
      const lane = (ns + i) & 3;
      const w = op - lane;
      const ob = old[op]!;
      const v = (nw[ns + i]! - ob) & 0xff;
      const bit = v !== 0 ? 1 : 0;
      enc.encodeP16(fm.predict(lane, ob, oldAt(old, w + 3), oldAt(old, w + 2), h, since, dist), bit);
      fm.update(bit);
      if (bit) {
        const vctx = h & 3; // previous two bytes changed?
        const isRep = v === rep[lane] ? 1 : 0;
        enc.encodeBit(p, OFF_REP + (h & 1) * 4 + lane, isRep);
        if (!isRep) encTree(enc, p, OFF_V + vctx * 256, 8, v);
        rep[lane] = v;
      }
      if (since < SINCE_MAX) since++;
      if (bit) {
        dist = since;
        since = 0;
      }
      h = ((h << 1) | bit) >>> 0;
    }
    // extra region
    const es = ns + t.x;
    for (let k = 0; k < t.y; k++) {
      const prev = es + k > 0 ? nw[es + k - 1]! : 0;
      encTree(enc, p, OFF_LIT + (prev >> 6) * 256, 8, nw[es + k]!);
      h = (h << 1) >>> 0;
      if (since < SINCE_MAX) since++;
    }
    out = es + t.y;
  }
  return enc.finish();
}

export function encodeDelta(oldBytes: Uint8Array, newBytes: Uint8Array, _opts: EncodeOptions = {}): Uint8Array {
  const triples = bsdiffTriples(oldBytes, newBytes);
  const body = codeTriples(oldBytes, newBytes, triples);
  const header = writeHeader({
    version: FORMAT_VERSION,
    flags: 0,
    model: MODEL_ID,
    oldSize: oldBytes.length,
    newSize: newBytes.length,
    oldDigest: sha256(oldBytes),
    newCrc32: crc32Update(0, newBytes),
  });
  const outBytes = new Uint8Array(header.length + body.length);
  outBytes.set(header, 0);
  outBytes.set(body, header.length);
  return outBytes;
}
