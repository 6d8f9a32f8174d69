// The chain of custody of a seizure package, as a CASE/UCO JSON-LD graph (custody.jsonld): the tool, the case, the
// VM and every evidence file with its hashes, a provenance record, and one signed InvestigativeAction per custody
// event (the seizure, then each handover). Each entry is signed on its own by whoever recorded it and names the hash
// of the entry before it, so an altered, removed or reordered entry breaks the chain even where the graph is
// otherwise well formed; the whole file is also signed (custody.jsonld.sig). Pure apart from node:crypto.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../protocol/canonical.ts';
import { keyFingerprint, rawPublicKey } from '../main/journal/keys.ts';
import { shown } from './shown.ts';
import {
  CUSTODY_CONTEXT, GENESIS_HASH, type CustodyEntry, type Handler, type Manifest, type ManifestFile,
} from './format.ts';

type Node = Record<string, unknown>;

export interface CustodyDocument {
  '@context': Record<string, string>;
  '@graph': Node[];
}

/** What a new entry says; the chain fields and the signature are added by appendEntry(). */
export type NewCustodyEntry = Omit<CustodyEntry, 'sequence' | 'previousEntryHash' | 'signerFingerprint' | 'signerKey' | 'signature'>;

/** A finding about the chain: the entry it concerns (0 for the document) and a sentence. */
export interface CustodyFinding {
  sequence: number;
  message: string;
}

const TOOL_ID = 'kb:tool-cordon';
const CASE_ID = 'kb:investigation';
const VM_ID = 'kb:vm';
const PROVENANCE_ID = 'kb:provenance-record';
const ENTRY_TYPE = 'case-investigation:InvestigativeAction';

/** The IRI prefix of a package's own nodes. */
export function knowledgeBase(packageId: string): string {
  return `urn:cordon:package:${packageId}:`;
}

function fileId(f: ManifestFile): string {
  return `kb:file-${createHash('sha256').update(f.path).digest('hex').slice(0, 16)}`;
}

function dateTime(value: string): Node {
  return { '@type': 'xsd:dateTime', '@value': value };
}

function hashNode(method: 'SHA256' | 'SHA1', hex: string): Node {
  return {
    '@type': 'uco-types:Hash',
    'uco-types:hashMethod': { '@type': 'uco-vocabulary:HashNameVocab', '@value': method },
    'uco-types:hashValue': { '@type': 'xsd:hexBinary', '@value': hex },
  };
}

function person(h: Handler): Node {
  return {
    '@type': 'uco-identity:Person', 'uco-core:name': h.name, 'cordon:role': h.role,
    ...(h.agency ? { 'cordon:agency': h.agency } : {}),
  };
}

/**
 * The custody document of a new package: its context and the nodes that describe what is in custody (tool, case,
 * VM, files, provenance record), with no entry yet.
 */
export function newCustodyDocument(manifest: Manifest): CustodyDocument {
  const { item } = manifest;
  const files: Node[] = manifest.files.map((f) => ({
    '@id': fileId(f),
    '@type': 'uco-observable:File',
    'uco-core:hasFacet': [
      { '@type': 'uco-observable:FileFacet', 'uco-observable:fileName': f.path.split('/').pop(), 'uco-observable:filePath': f.path, 'uco-observable:sizeInBytes': { '@type': 'xsd:integer', '@value': String(f.size) } },
      { '@type': 'uco-observable:ContentDataFacet', 'uco-observable:hash': [hashNode('SHA256', f.sha256), hashNode('SHA1', f.sha1)] },
    ],
    'uco-core:description': f.description,
    'cordon:role': f.role,
    'cordon:capturedAt': dateTime(f.capturedAt),
  }));
  const vm: Node = {
    '@id': VM_ID,
    '@type': 'uco-observable:ObservableObject',
    'uco-core:name': item.vm.name,
    'uco-core:description': `Virtual machine ${item.vm.id} on host ${item.host} (${item.hypervisor.kind}${item.hypervisor.version ? ` ${item.hypervisor.version}` : ''}), agent ${item.agentId}${item.simulated ? '; SIMULATED: synthetic content' : ''}`,
    'cordon:vmId': item.vm.id,
    'cordon:host': item.host,
    'cordon:agentId': item.agentId,
    'cordon:macAddresses': [...item.vm.macs],
    'cordon:ipAddresses': [...item.vm.ips],
    'cordon:simulated': item.simulated,
    ...(item.vm.image ? { 'cordon:image': item.vm.image } : {}),
  };
  return {
    '@context': { ...CUSTODY_CONTEXT, kb: knowledgeBase(manifest.packageId) },
    '@graph': [
      { '@id': TOOL_ID, '@type': 'uco-tool:Tool', 'uco-core:name': manifest.tool.name, 'uco-tool:version': manifest.tool.version, 'uco-tool:toolType': 'incident response cockpit' },
      {
        '@id': CASE_ID, '@type': 'case-investigation:Investigation', 'uco-core:name': manifest.case.caseNumber,
        'case-investigation:focus': manifest.case.agency, ...(manifest.case.exhibit ? { 'cordon:exhibit': manifest.case.exhibit } : {}),
        'uco-core:object': [{ '@id': PROVENANCE_ID }],
      },
      vm,
      ...files,
      {
        '@id': PROVENANCE_ID, '@type': 'case-investigation:ProvenanceRecord',
        'case-investigation:exhibitNumber': manifest.case.exhibit ?? manifest.packageId,
        'case-investigation:rootExhibitNumber': manifest.packageId,
        'uco-core:object': [{ '@id': VM_ID }, ...files.map((f) => ({ '@id': f['@id'] }))],
      },
    ],
  };
}

/** The custody entries' nodes, in document order. */
export function entryNodes(doc: CustodyDocument): Node[] {
  return doc['@graph'].filter((n) => n['@type'] === ENTRY_TYPE);
}

/** SHA-256 (hex) of a node's canonical JSON: the chain link the next entry names. */
export function nodeHash(node: Node): string {
  return createHash('sha256').update(canonicalJson(node)).digest('hex');
}

function unsigned(node: Node): Node {
  const { 'cordon:signature': _signature, ...rest } = node;
  return rest;
}

/**
 * Appends a signed entry to `doc` (in place) and returns it. The entry names the previous entry's hash, the manifest's
 * SHA-256 (so every entry binds the same evidence list) and the signer's key, and is signed over its canonical JSON.
 */
export function appendEntry(doc: CustodyDocument, e: NewCustodyEntry, ctx: { manifestSha256: string; key: KeyObject }): CustodyEntry {
  const previous = entryNodes(doc);
  const sequence = previous.length + 1;
  const previousEntryHash = previous.length === 0 ? GENESIS_HASH : nodeHash(previous[previous.length - 1]!);
  const publicKey = createPublicKey(ctx.key);
  const signerKey = String(publicKey.export({ type: 'spki', format: 'pem' }));
  const signerFingerprint = keyFingerprint(rawPublicKey(publicKey));
  const performer = e.kind === 'seizure' ? e.to : (e.from ?? e.to);
  const files = doc['@graph'].filter((n) => n['@type'] === 'uco-observable:File').map((n) => ({ '@id': n['@id'] }));
  const node: Node = {
    '@id': `kb:custody-${sequence}`,
    '@type': ENTRY_TYPE,
    'uco-core:name': e.kind,
    'uco-core:description': e.reason,
    'uco-action:startTime': dateTime(e.at),
    'uco-action:endTime': dateTime(e.at),
    'uco-action:performer': person(performer),
    ...(e.kind === 'transfer' ? { 'uco-action:participant': [person(e.to)] } : {}),
    'uco-action:instrument': { '@id': TOOL_ID },
    'uco-action:location': { '@type': 'uco-location:Location', 'uco-core:name': e.location },
    'uco-action:object': files,
    'uco-action:result': [{ '@id': PROVENANCE_ID }],
    'cordon:sequence': sequence,
    'cordon:kind': e.kind,
    'cordon:timeZone': e.timeZone,
    ...(e.from ? { 'cordon:from': person(e.from) } : {}),
    'cordon:to': person(e.to),
    'cordon:storageLocation': e.storageLocation,
    'cordon:reason': e.reason,
    'cordon:manifestSha256': ctx.manifestSha256,
    'cordon:previousEntryHash': previousEntryHash,
    'cordon:signerFingerprint': signerFingerprint,
    'cordon:signerKey': signerKey,
  };
  node['cordon:signature'] = sign(null, Buffer.from(canonicalJson(node), 'utf8'), ctx.key).toString('base64');
  doc['@graph'].push(node);
  return readEntry(node);
}

function text(node: Node, key: string): string {
  const v = node[key];
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Node)['@value'] === 'string') return (v as Node)['@value'] as string;
  throw new TypeError(`${node['@id'] === undefined ? 'An entry' : shown(node['@id'], 80)} has no ${key}.`);
}

function handler(v: unknown, what: string): Handler {
  if (!v || typeof v !== 'object') throw new TypeError(`${what} is missing.`);
  const n = v as Node;
  const name = n['uco-core:name'];
  const role = n['cordon:role'];
  const agency = n['cordon:agency'];
  if (typeof name !== 'string' || typeof role !== 'string' || (agency !== undefined && typeof agency !== 'string')) throw new TypeError(`${what} needs a name and a role.`);
  return { name, role, ...(agency !== undefined ? { agency } : {}) };
}

/** An entry node read back into its fields; throws a TypeError naming what is missing. */
export function readEntry(node: Node): CustodyEntry {
  const sequence = node['cordon:sequence'];
  const kind = node['cordon:kind'];
  if (typeof sequence !== 'number' || !Number.isInteger(sequence) || sequence < 1) throw new TypeError(`${node['@id'] === undefined ? 'An entry' : shown(node['@id'], 80)} has no valid cordon:sequence.`);
  if (kind !== 'seizure' && kind !== 'transfer') throw new TypeError(`Entry ${sequence}'s kind "${shown(kind, 40)}" is neither seizure nor transfer.`);
  const location = node['uco-action:location'];
  return {
    sequence, kind,
    at: text(node, 'uco-action:startTime'),
    timeZone: text(node, 'cordon:timeZone'),
    ...(node['cordon:from'] !== undefined ? { from: handler(node['cordon:from'], `Entry ${sequence}'s "from"`) } : {}),
    to: handler(node['cordon:to'], `Entry ${sequence}'s "to"`),
    location: location && typeof location === 'object' ? text(location as Node, 'uco-core:name') : '',
    storageLocation: text(node, 'cordon:storageLocation'),
    reason: text(node, 'cordon:reason'),
    previousEntryHash: text(node, 'cordon:previousEntryHash'),
    signerFingerprint: text(node, 'cordon:signerFingerprint'),
    signerKey: text(node, 'cordon:signerKey'),
    signature: text(node, 'cordon:signature'),
  };
}

/** The entries of a document, read back; throws a TypeError on a malformed one. */
export function readEntries(doc: CustodyDocument): CustodyEntry[] {
  return entryNodes(doc).map(readEntry);
}

/**
 * Checks the chain: sequences 1..n in document order, each entry's previous-entry hash, each signature by the key it
 * names (and that key's fingerprint), each entry bound to this manifest. Returns every finding; none means it holds.
 */
export function checkChain(doc: CustodyDocument, manifestSha256: string): CustodyFinding[] {
  const findings: CustodyFinding[] = [];
  const nodes = entryNodes(doc);
  if (nodes.length === 0) return [{ sequence: 0, message: 'The custody record has no entry: not even the seizure.' }];
  let previousHash = GENESIS_HASH;
  nodes.forEach((node, i) => {
    const expected = i + 1;
    let entry: CustodyEntry;
    try {
      entry = readEntry(node);
    } catch (err) {
      findings.push({ sequence: expected, message: `Custody entry ${expected} is malformed: ${(err as Error).message}` });
      previousHash = nodeHash(node);
      return;
    }
    if (entry.sequence !== expected) findings.push({ sequence: entry.sequence, message: `Custody entry ${entry.sequence} stands at position ${expected}: the entries were reordered, or one was removed.` });
    if (i === 0 && entry.kind !== 'seizure') findings.push({ sequence: entry.sequence, message: `The first custody entry is a ${entry.kind}, not the seizure.` });
    if (i > 0 && entry.kind === 'seizure') findings.push({ sequence: entry.sequence, message: `Custody entry ${entry.sequence} claims a second seizure.` });
    if (entry.previousEntryHash !== previousHash) {
      findings.push({ sequence: entry.sequence, message: `Custody entry ${entry.sequence} does not follow the entry before it (it names ${short(entry.previousEntryHash)}, the entry before hashes to ${short(previousHash)}): an entry was altered, removed, inserted or reordered.` });
    }
    const bound = node['cordon:manifestSha256'];
    if (bound !== manifestSha256) {
      findings.push({ sequence: entry.sequence, message: `Custody entry ${entry.sequence} was signed for another manifest (SHA-256 ${typeof bound === 'string' ? short(bound) : 'missing'}, this one is ${short(manifestSha256)}).` });
    }
    let key: KeyObject | undefined;
    try {
      key = createPublicKey(entry.signerKey);
      if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('not Ed25519');
    } catch {
      findings.push({ sequence: entry.sequence, message: `Custody entry ${entry.sequence}'s signer key is not an Ed25519 public key.` });
      key = undefined;
    }
    if (key) {
      const fingerprint = keyFingerprint(rawPublicKey(key));
      if (fingerprint !== entry.signerFingerprint) findings.push({ sequence: entry.sequence, message: `Custody entry ${entry.sequence} names key ${shown(entry.signerFingerprint, 64)} but carries key ${fingerprint}.` });
      const ok = verify(null, Buffer.from(canonicalJson(unsigned(node)), 'utf8'), key, Buffer.from(entry.signature, 'base64'));
      if (!ok) findings.push({ sequence: entry.sequence, message: `Custody entry ${entry.sequence}'s signature does not verify: the entry was altered after it was signed.` });
    }
    previousHash = nodeHash(node);
  });
  return findings;
}

function short(hex: string): string {
  return shown(hex, 16);
}

/** custody.jsonld's bytes: two-space JSON and a final newline (what custody.jsonld.sig covers). */
export function custodyBytes(doc: CustodyDocument): Buffer {
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8');
}

/** Parses custody.jsonld; throws a TypeError when it is not a custody document. */
export function parseCustody(bytes: Uint8Array): CustodyDocument {
  const value = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new TypeError('custody.jsonld is not a JSON object.');
  const v = value as Node;
  if (!v['@context'] || typeof v['@context'] !== 'object' || !Array.isArray(v['@graph'])) throw new TypeError('custody.jsonld has no @context and @graph.');
  if (!(v['@graph'] as unknown[]).every((n) => n !== null && typeof n === 'object' && !Array.isArray(n))) throw new TypeError('custody.jsonld\'s @graph holds something other than nodes.');
  return v as unknown as CustodyDocument;
}
