// The seizure package, format `cordon-package/1`: what each file of a package holds, shared by the cockpit that
// builds it, the exporter that copies it to removable media, and `cordon-verify`, which checks it on any machine
// with Node. docs/evidence.md describes the same format for a reader without the code.
//
//   PACKAGE/
//     evidence/…            the captured and collected files, each listed in manifest.json
//     manifest.json         every evidence file's path, size, SHA-256 (evidentiary), SHA-1 (legacy cross-check)
//     custody.jsonld        the chain of custody in the CASE/UCO ontology (JSON-LD), every entry signed and chained
//     affidavit.pdf         the printable affidavit for the officers (made with pdf-lib)
//     signer.pem            the public key (SPKI PEM) of whoever signed the latest custody entry
//     manifest.json.sig     ┐ detached Ed25519 signatures (64 raw bytes) over the exact bytes of each file,
//     custody.jsonld.sig    │ by the key in signer.pem; `openssl pkeyutl -verify -rawin` checks them
//     affidavit.pdf.sig     ┘
//     VERIFY.txt            plain-text instructions for a third party (written on export; not signed, not trusted)
//
// Nothing else may be in a package: an added file is a finding.

export const PACKAGE_FORMAT = 'cordon-package/1';

/** The files at a package's root, besides the evidence/ folder. */
export const PACKAGE_ROOT_FILES = [
  'manifest.json', 'custody.jsonld', 'affidavit.pdf', 'signer.pem',
  'manifest.json.sig', 'custody.jsonld.sig', 'affidavit.pdf.sig', 'VERIFY.txt',
] as const;
/** The files a package's signatures cover, each with its detached `<name>.sig`. */
export const SIGNED_FILES = ['manifest.json', 'custody.jsonld', 'affidavit.pdf'] as const;
/** Where the evidence files live, relative to the package. */
export const EVIDENCE_DIR = 'evidence';

export type FileRole = 'memory' | 'disk' | 'config' | 'log' | 'events' | 'console' | 'journal' | 'capture-manifest' | 'other';

export interface ManifestFile {
  /** Relative to the package, `/`-separated, always under `evidence/`. */
  path: string;
  role: FileRole;
  size: number;
  /** Evidentiary hash, lower-case hex. */
  sha256: string;
  /** Legacy cross-check for older custody forms, lower-case hex. */
  sha1: string;
  /** When the bytes were captured (ISO 8601 with offset). */
  capturedAt: string;
  /** Who produced the file: the agent on the hypervisor host, or the cockpit (recordings, journal slice). */
  source: 'agent' | 'cockpit';
  /** One line for the affidavit. */
  description: string;
}

/** NIST SP 800-61's item identity: which host, which VM, its network identity. */
export interface ItemIdentity {
  /** The hypervisor host's name, as its agent reports it. */
  host: string;
  agentId: string;
  hypervisor: { kind: string; version?: string };
  vm: { id: string; name: string; image?: string; macs: string[]; ips: string[] };
  /** The seize action's request id on the agent. */
  captureId: string;
  /** True when the VM was simulated (a demo or training capture: synthetic content). */
  simulated: boolean;
}

export interface CaseInfo {
  /** The case (incident) number, as the agency files it. */
  caseNumber: string;
  agency: string;
  /** An exhibit or item number, when the agency uses one. */
  exhibit?: string;
}

export interface Manifest {
  format: typeof PACKAGE_FORMAT;
  packageId: string;
  createdAt: string;
  tool: { name: 'Cordon'; version: string };
  case: CaseInfo;
  item: ItemIdentity;
  capture: { startedAt: string; finishedAt: string; seizedBy: Handler; reason: string };
  hashes: { evidentiary: 'SHA-256'; crossCheck: 'SHA-1' };
  /** Sorted by path. */
  files: ManifestFile[];
}

/** A person in the chain of custody (NIST SP 800-61: each handler's name and role). */
export interface Handler {
  name: string;
  role: string;
  agency?: string;
}

export type CustodyKind = 'seizure' | 'transfer';

/**
 * One entry of the chain of custody, as Cordon reads it from custody.jsonld's `@graph` (the CASE/UCO node with a
 * `cordon:sequence`). What the signature covers is the RFC 8785 canonical JSON of the node without `cordon:signature`.
 */
export interface CustodyEntry {
  sequence: number;
  kind: CustodyKind;
  /** ISO 8601 with the local offset, e.g. 2026-11-23T12:16:13+01:00. */
  at: string;
  /** IANA time zone name of `at`, e.g. Europe/Paris. */
  timeZone: string;
  from?: Handler;
  to: Handler;
  /** Where the handover happened. */
  location: string;
  /** Where the evidence is kept after this entry. */
  storageLocation: string;
  reason: string;
  /** SHA-256 (hex) of the previous entry's canonical JSON, signature included; 64 zeros for the first. */
  previousEntryHash: string;
  /** "SHA256:…" fingerprint of the key that signed this entry. */
  signerFingerprint: string;
  /** The same key, SPKI PEM. */
  signerKey: string;
  /** Ed25519 signature, base64, over the node's canonical JSON without this property. */
  signature: string;
}

/** 64 zeros: the previous-entry hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** The JSON-LD context of custody.jsonld: CASE 1.x and UCO 1.x namespaces, and Cordon's own few terms. */
export const CUSTODY_CONTEXT = {
  'case-investigation': 'https://ontology.caseontology.org/case/investigation/',
  'uco-action': 'https://ontology.unifiedcyberontology.org/uco/action/',
  'uco-core': 'https://ontology.unifiedcyberontology.org/uco/core/',
  'uco-identity': 'https://ontology.unifiedcyberontology.org/uco/identity/',
  'uco-location': 'https://ontology.unifiedcyberontology.org/uco/location/',
  'uco-observable': 'https://ontology.unifiedcyberontology.org/uco/observable/',
  'uco-tool': 'https://ontology.unifiedcyberontology.org/uco/tool/',
  'uco-types': 'https://ontology.unifiedcyberontology.org/uco/types/',
  'uco-vocabulary': 'https://ontology.unifiedcyberontology.org/uco/vocabulary/',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  cordon: 'https://cordon.invalid/ns/custody#',
} as const;
