// RFC 6962 Merkle tree hashing, inclusion and consistency proofs, and their verification (RFC 9162 §2.1), so one
// record can be proved to belong to a signed journal, and a later checkpoint to extend an earlier one.
//
// Leaf hash: SHA-256(0x00 || leaf bytes). Interior node: SHA-256(0x01 || left || right). The tree over n leaves
// splits at the largest power of two below n (RFC 6962 §2.1). The empty tree's root is SHA-256 of nothing.
import { hash } from 'node:crypto';

export const HASH_BYTES = 32;
export const EMPTY_ROOT: Buffer = hash('sha256', Buffer.alloc(0), 'buffer');

let leafInput = Buffer.alloc(64 * 1024);

export function leafHash(leaf: Uint8Array): Buffer {
  // One growing scratch buffer: this runs once per record on append, import and verification.
  if (leafInput.length < leaf.length + 1) leafInput = Buffer.alloc(Math.max(leaf.length + 1, leafInput.length * 2));
  leafInput[0] = 0;
  leafInput.set(leaf, 1);
  return hash('sha256', leafInput.subarray(0, leaf.length + 1), 'buffer');
}

// One scratch buffer for node hashes: this runs once per record on append and on verification.
const nodeInput = Buffer.alloc(1 + 2 * HASH_BYTES, 1);

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_BYTES);
  return hash('sha256', nodeInput, 'buffer');
}

/** The largest power of two strictly below n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The perfect subtrees ("peaks") of a growing tree, biggest first: appending a leaf merges equal-sized peaks, so the
 * root of any size is at hand without keeping the leaves. Used to verify a journal in one streaming pass.
 */
export class MerkleFrontier {
  /** Peaks, biggest first, with their heights (a peak of height h covers 2^h leaves). */
  readonly peaks: Buffer[] = [];
  readonly heights: number[] = [];
  size = 0;

  append(leaf: Buffer): void {
    let h = leaf;
    let height = 0;
    while (this.heights.length > 0 && this.heights[this.heights.length - 1] === height) {
      h = nodeHash(this.peaks.pop()!, h);
      this.heights.pop();
      height++;
    }
    this.peaks.push(h);
    this.heights.push(height);
    this.size++;
  }

  /** Appends a whole perfect subtree of 2^height leaves at once (the size must be a multiple of 2^height). */
  appendSubtree(root: Buffer, height: number): void {
    if (this.size % 2 ** height !== 0) throw new RangeError('A subtree must start at a multiple of its size.');
    let h = root;
    let ht = height;
    while (this.heights.length > 0 && this.heights[this.heights.length - 1] === ht) {
      h = nodeHash(this.peaks.pop()!, h);
      this.heights.pop();
      ht++;
    }
    this.peaks.push(h);
    this.heights.push(ht);
    this.size += 2 ** height;
  }

  root(): Buffer {
    return rootFromPeaks(this.peaks);
  }
}

/** RFC 6962's root from the perfect subtrees of a tree, biggest first: folded from the right. */
export function rootFromPeaks(peaks: readonly Buffer[]): Buffer {
  if (peaks.length === 0) return EMPTY_ROOT;
  let r = peaks[peaks.length - 1]!;
  for (let i = peaks.length - 2; i >= 0; i--) r = nodeHash(peaks[i]!, r);
  return r;
}

/**
 * Where a tree's nodes come from: the hash of the perfect subtree of height `height` whose leftmost leaf is
 * `index * 2^height`. The store answers from what it keeps on disk, or computes.
 */
export type NodeSource = (height: number, index: number) => Buffer;

/** MTH(D[a:b]) of RFC 6962 from perfect subtrees. */
export function rangeHash(a: number, b: number, node: NodeSource): Buffer {
  const n = b - a;
  if (n <= 0) return EMPTY_ROOT;
  if ((n & (n - 1)) === 0 && a % n === 0) return node(Math.log2(n), a / n);
  const k = splitPoint(n);
  return nodeHash(rangeHash(a, a + k, node), rangeHash(a + k, b, node));
}

/** PATH(m, D[0:n]) of RFC 6962 §2.1.1: the audit path of leaf m in the tree of size n, leaf side first. */
export function inclusionProof(m: number, n: number, node: NodeSource): Buffer[] {
  if (!(m >= 0 && m < n)) throw new RangeError(`Leaf ${m} is not in a tree of size ${n}.`);
  const out: Buffer[] = [];
  const walk = (m: number, a: number, b: number): void => {
    if (b - a <= 1) return;
    const k = splitPoint(b - a);
    if (m < k) {
      walk(m, a, a + k);
      out.push(rangeHash(a + k, b, node));
    } else {
      walk(m - k, a + k, b);
      out.push(rangeHash(a, a + k, node));
    }
  };
  walk(m, 0, n);
  return out;
}

/** PROOF(m, D[0:n]) of RFC 6962 §2.1.2: proves the tree of size m is a prefix of the tree of size n. */
export function consistencyProof(m: number, n: number, node: NodeSource): Buffer[] {
  if (!(m > 0 && m <= n)) throw new RangeError(`No consistency proof from size ${m} to size ${n}.`);
  const out: Buffer[] = [];
  const sub = (m: number, a: number, b: number, complete: boolean): void => {
    const n = b - a;
    if (m === n) {
      if (!complete) out.push(rangeHash(a, b, node));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, a, a + k, complete);
      out.push(rangeHash(a + k, b, node));
    } else {
      sub(m - k, a + k, b, false);
      out.push(rangeHash(a, a + k, node));
    }
  };
  sub(m, 0, n, true);
  return out;
}

/** RFC 9162 §2.1.3.2: does `proof` prove leaf `index` (by its leaf hash) is in the tree of `size` with `root`? */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2: does `proof` prove the tree of size `m` with `oldRoot` is a prefix of size `n` with `newRoot`? */
export function verifyConsistency(m: number, n: number, proof: readonly Uint8Array[], oldRoot: Uint8Array, newRoot: Uint8Array): boolean {
  if (m > n || m < 0) return false;
  if (m === n) return proof.length === 0 && Buffer.from(oldRoot).equals(newRoot);
  if (m === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = (m & (m - 1)) === 0 ? [oldRoot, ...proof] : [...proof];
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(oldRoot) && sr.equals(newRoot);
}
