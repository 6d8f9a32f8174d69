// The cryptographic building blocks against published vectors: RFC 6962 trees and proofs, C2SP signed notes and
// checkpoints, RFC 8785 canonical JSON; and the journal's own proofs against its own checkpoints.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../main/journal/canonical.ts';
import { Journal } from '../../main/journal/journal.ts';
import { keySigner, privateKeyFromSeed } from '../../main/journal/keys.ts';
import {
  consistencyProof, EMPTY_ROOT, inclusionProof, leafHash, nodeHash, rangeHash, verifyConsistency, verifyInclusion, type NodeSource,
} from '../../main/journal/merkle.ts';
import { checkpointText, keyId, openNote, parseCheckpointText, parseVerifierKey, signNote, verifierKeyString } from '../../main/journal/note.ts';
import { tempDir } from '../helpers/processes.ts';
import { GO_NOTE, newKey, RFC6962, syntheticEntry } from './fixtures.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const h = (s: string) => Buffer.from(s, 'hex');

/** The test tree's nodes, computed the slow, obvious way. */
const leaves = RFC6962.leaves.map((l) => leafHash(h(l)));
const node: NodeSource = (height, index) => {
  let level = leaves;
  for (let k = 0; k < height; k++) {
    const next: Buffer[] = [];
    for (let j = 0; j + 1 < level.length; j += 2) next.push(nodeHash(level[j]!, level[j + 1]!));
    level = next;
  }
  return level[index]!;
};

test('RFC 6962: the empty tree, and the roots of the reference tree at every size', () => {
  assert.equal(hex(EMPTY_ROOT), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  RFC6962.roots.forEach((root, i) => assert.equal(hex(rangeHash(0, i + 1, node)), root, `root of size ${i + 1}`));
});

test('RFC 6962: inclusion proofs match the published ones and verify; a wrong index or root does not', () => {
  for (const v of RFC6962.inclusion) {
    const proof = inclusionProof(v.index, v.size, node);
    assert.deepEqual(proof.map(hex), v.proof, `path of leaf ${v.index} in tree ${v.size}`);
    const root = h(RFC6962.roots[v.size - 1]!);
    assert.ok(verifyInclusion(v.index, v.size, leaves[v.index]!, proof, root));
    if (v.size > 1) {
      assert.ok(!verifyInclusion((v.index + 1) % v.size, v.size, leaves[v.index]!, proof, root));
      assert.ok(!verifyInclusion(v.index, v.size, leaves[v.index]!, proof, h(RFC6962.roots[0]!)));
    }
  }
});

test('RFC 6962: consistency proofs match the published ones and verify; mismatched roots do not', () => {
  for (const v of RFC6962.consistency) {
    const proof = v.from === v.to ? [] : consistencyProof(v.from, v.to, node);
    assert.deepEqual(proof.map(hex), v.proof, `proof ${v.from} → ${v.to}`);
    const [a, b] = [h(RFC6962.roots[v.from - 1]!), h(RFC6962.roots[v.to - 1]!)];
    assert.ok(verifyConsistency(v.from, v.to, proof, a, b));
    if (v.from !== v.to) assert.ok(!verifyConsistency(v.from, v.to, proof, h(RFC6962.roots[(v.from % 8)]!), b));
  }
  // Every pair of the reference tree, both directions of the check.
  for (let n = 1; n <= 8; n++) {
    for (let m = 1; m <= n; m++) {
      const proof = m === n ? [] : consistencyProof(m, n, node);
      assert.ok(verifyConsistency(m, n, proof, h(RFC6962.roots[m - 1]!), h(RFC6962.roots[n - 1]!)), `${m} → ${n}`);
    }
  }
});

test('signed note: the Go reference key parses, and signing its note reproduces the published signature byte for byte', async () => {
  const v = parseVerifierKey(GO_NOTE.verifierKey)!;
  assert.equal(v.name, 'PeterNeumann');
  assert.equal(v.id, 0xc74f20a3);
  assert.equal(keyId(v.name, v.publicKey), 0xc74f20a3, 'key ID = SHA-256(name || 0x0A || 0x01 || key)[:4]');
  const signer = keySigner(privateKeyFromSeed(GO_NOTE.seed), 'PeterNeumann');
  assert.equal(verifierKeyString(signer.name, signer.publicKey), GO_NOTE.verifierKey);
  const note = await signNote(GO_NOTE.text, signer);
  assert.equal(note, `${GO_NOTE.text}\n${GO_NOTE.signature}`);
  const opened = openNote(note, [v]);
  assert.ok(opened.ok && opened.text === GO_NOTE.text);
  const altered = openNote(note.replace('cryptography', 'cryptographY'), [v]);
  assert.ok(!altered.ok && altered.code === 'bad_signature');
  const other = parseVerifierKey(verifierKeyString('PeterNeumann', keySigner(newKey(), 'x').publicKey))!;
  const unknown = openNote(note, [other]);
  assert.ok(!unknown.ok && unknown.code === 'unknown_key', 'a signature by a key not trusted is ignored, and then nothing verifies');
  assert.equal(parseVerifierKey(GO_NOTE.verifierKey.replace('c74f20a3', 'c74f20a4')), undefined, 'a key whose id does not match is refused');
});

test('checkpoint text is origin, decimal size and base64 root, each on its own line', () => {
  const root = h(RFC6962.roots[7]!);
  const text = checkpointText('cordon.journal/abc', 8, root);
  assert.equal(text, `cordon.journal/abc\n8\n${root.toString('base64')}\n`);
  assert.deepEqual(parseCheckpointText(text), { origin: 'cordon.journal/abc', size: 8, root });
  assert.ok('error' in parseCheckpointText('o\n08\nAAAA\n'), 'leading zeros are refused');
});

test('canonical JSON is RFC 8785: members sorted by UTF-16 code units, no whitespace, ECMAScript numbers', () => {
  assert.equal(canonicalJson({ b: [1, { z: true, y: null }], a: 'é', '\u20ac': 1, '\ud83d\ude00': 2, '10': 3, '9': 4, n: -0, f: 1e21, g: 0.000001 }),
    '{"10":3,"9":4,"a":"é","b":[1,{"y":null,"z":true}],"f":1e+21,"g":0.000001,"n":0,"\u20ac":1,"\ud83d\ude00":2}');
  assert.equal(canonicalJson({ s: 'line\nbreak "quoted" \u0001' }), '{"s":"line\\nbreak \\"quoted\\" \\u0001"}');
  assert.throws(() => canonicalJson({ a: { b: Number.NaN } }), /\$\.a\.b is NaN/);
  // A member named __proto__ (hostile input) is kept as a member, never turned into a prototype.
  assert.equal(canonicalJson(JSON.parse('{"z":0,"__proto__":{"polluted":1},"b":2}')), '{"__proto__":{"polluted":1},"b":2,"z":0}');
  assert.throws(() => canonicalJson({ d: new Date() }), /not a JSON object/);
});

/** RFC 8785 the slow, obvious way: sort member names, recurse. */
function referenceJcs(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(referenceJcs).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${referenceJcs(o[k])}`).join(',')}}`;
}

test('canonical JSON equals the obvious RFC 8785 encoding on any JSON value', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    assert.equal(canonicalJson(v), referenceJcs(v));
    // Canonical input comes back unchanged, and encoding is idempotent.
    assert.equal(canonicalJson(JSON.parse(canonicalJson(v))), canonicalJson(v));
  }), { numRuns: 3000 });
});

test('the journal proves any record in any signed size, and each checkpoint extends the one before', async () => {
  const dir = tempDir('journal-proofs');
  try {
    const j = await Journal.open({ dir: dir.path, signer: newKey(), checkpointMs: 0 });
    const sizes: number[] = [];
    // Across a segment boundary (65,536), with sizes that are and are not powers of two.
    for (const batch of [1000, 30_000, 40_000, 7]) {
      const first = j.size;
      j.append(Array.from({ length: batch }, (_, i) => syntheticEntry(first + i)));
      sizes.push((await j.checkpoint()).size);
    }
    for (const size of sizes) {
      const root = j.rootAt(size);
      for (const index of [0, 1, size >> 1, 65_535, 65_536, size - 1].filter((i) => i < size)) {
        assert.ok(verifyInclusion(index, size, j.leafHash(index), j.inclusionProof(index, size), root), `record ${index} in size ${size}`);
      }
    }
    for (let k = 1; k < sizes.length; k++) {
      const [m, n] = [sizes[k - 1]!, sizes[k]!];
      assert.ok(verifyConsistency(m, n, j.consistencyProof(m, n), j.rootAt(m), j.rootAt(n)), `${m} → ${n}`);
    }
    await j.close();
  } finally {
    dir.remove();
  }
});
