// affidavit.pdf, read back the way a third party reads it (poppler's pdftotext): the case, the item, every file's full
// SHA-256 and SHA-1 unbroken on one line, every custody entry, the signer's fingerprint and "page N of M" on each
// page; 200 files and 50 entries flow across pages in well under a second; hostile text (CJK, emoji, NUL, newline,
// U+202E) is escaped visibly instead of throwing or vanishing, and no text runs off the page; the same input gives
// the same bytes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { renderAffidavit, type AffidavitInput } from '../../evidence/affidavit.ts';
import { GENESIS_HASH, PACKAGE_FORMAT, type CustodyEntry, type FileRole, type Handler, type ManifestFile } from '../../evidence/format.ts';

const run = promisify(execFile);
const PAGE_WIDTH = 595.28;
const PAGE_HEIGHT = 841.89;

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const sha1 = (data: string | Buffer): string => createHash('sha1').update(data).digest('hex');
const fingerprint = (seed: string): string => `SHA256:${createHash('sha256').update(seed).digest('base64').replace(/=+$/, '')}`;

const RESPONDER: Handler = { name: 'Camille Durand', role: 'Incident responder', agency: 'CERT-FR' };
const OFFICER: Handler = { name: 'Lt. Marc Petit', role: 'Evidence officer', agency: 'Gendarmerie nationale, C3N' };
const CLERK: Handler = { name: 'Inès Moreau', role: 'Evidence clerk', agency: 'Tribunal judiciaire de Paris' };
const ROLES: FileRole[] = ['memory', 'disk', 'config', 'log', 'events', 'console', 'journal', 'capture-manifest', 'other'];

/** A file with real hashes of real (small) bytes. */
function file(i: number): ManifestFile {
  const bytes = Buffer.from(`evidence file ${i}: ${'x'.repeat(i % 97)}`);
  const role = ROLES[i % ROLES.length]!;
  return {
    path: `evidence/${role}/vm-web-07-${String(i).padStart(3, '0')}.${role === 'memory' ? 'lime' : 'bin'}`,
    role, size: bytes.length, sha256: sha256(bytes), sha1: sha1(bytes),
    capturedAt: `2026-11-23T11:${String(50 + (i % 10)).padStart(2, '0')}:07+01:00`,
    source: role === 'console' || role === 'journal' ? 'cockpit' : 'agent',
    description: `${role} of web-07, part ${i}`,
  };
}

const REASONS = [
  'Suspected ransomware staging on the payroll web server; VM paused and captured before containment, at the request of the CISO.',
  'Handed to the gendarmerie for forensic analysis under requisition 2026/1123-C3N.',
  'Logged into the court evidence store.',
];

/** The chain: a seizure, then transfers, each naming the previous entry's hash. */
function custody(count: number): CustodyEntry[] {
  const entries: CustodyEntry[] = [];
  let previous = GENESIS_HASH;
  for (let i = 0; i < count; i++) {
    const [from, to] = i === 0 ? [undefined, RESPONDER] : i % 2 === 1 ? [RESPONDER, OFFICER] : [OFFICER, CLERK];
    const entry: CustodyEntry = {
      sequence: i + 1, kind: i === 0 ? 'seizure' : 'transfer',
      at: `2026-11-${String(23 + Math.floor(i / 24)).padStart(2, '0')}T${String(12 + (i % 12)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:13+01:00`,
      timeZone: 'Europe/Paris', from, to,
      location: i === 0 ? 'SOC room 2, 12 rue de la Paix, 75002 Paris' : `Handover desk ${i}, Caserne Lobau, Paris`,
      storageLocation: `Evidence locker ${i + 1}, sealed bag CJ-${1000 + i}`,
      reason: REASONS[i] ?? `Transfer number ${i + 1} for continued analysis (entry ${i + 1} of ${count}).`,
      previousEntryHash: previous,
      signerFingerprint: fingerprint(`key ${i % 3}`),
      signerKey: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n',
      signature: Buffer.from(`signature ${i}`).toString('base64'),
    };
    previous = sha256(JSON.stringify(entry));
    entries.push(entry);
  }
  return entries;
}

function input(files: number, entries: number, over: Partial<AffidavitInput> = {}): AffidavitInput {
  return {
    manifest: {
      format: PACKAGE_FORMAT, packageId: '7f3c2a10-5b1e-4c8d-9a2f-0e6d4b8c1a95', createdAt: '2026-11-23T12:10:02+01:00',
      tool: { name: 'Cordon', version: '0.1.0' },
      case: { caseNumber: 'INC-2026-0412', agency: 'CERT-FR', exhibit: 'EX-07' },
      item: {
        host: 'hv-07.dc-east.example', agentId: 'agent-hv-07', hypervisor: { kind: 'qemu', version: '9.2.0' },
        vm: { id: '3b1f7c2e-8d4a-4e6b-9c1d-2a5f6e7b8c9d', name: 'web-07-payroll', image: 'debian-12-genericcloud-amd64.qcow2', macs: ['52:54:00:12:34:56', '52:54:00:ab:cd:ef'], ips: ['10.0.7.21', 'fd00:7::21'] },
        captureId: 'cap-20261123-115007-0001', simulated: false,
      },
      capture: { startedAt: '2026-11-23T11:50:07+01:00', finishedAt: '2026-11-23T12:09:58+01:00', seizedBy: RESPONDER, reason: REASONS[0]! },
      hashes: { evidentiary: 'SHA-256', crossCheck: 'SHA-1' },
      files: Array.from({ length: files }, (_, i) => file(i)),
    },
    custody: custody(entries),
    signerFingerprint: fingerprint('responder key'),
    madeAt: '2026-11-23T12:16:13+01:00', timeZone: 'Europe/Paris', place: 'SOC room 2, Paris', responder: RESPONDER,
    ...over,
  };
}

/** pdftotext's reading of the PDF, one string per page (pages end with a form feed). */
async function pdfText(bytes: Uint8Array): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-affidavit-'));
  try {
    const path = join(dir, 'affidavit.pdf');
    writeFileSync(path, bytes);
    const { stdout } = await run('pdftotext', ['-layout', '-enc', 'UTF-8', path, '-'], { maxBuffer: 64 * 1024 * 1024 });
    const pages = stdout.split('\f');
    if (pages.at(-1)?.trim() === '') pages.pop();
    return pages;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every word's box as pdftotext -bbox sees it. */
async function wordBoxes(bytes: Uint8Array): Promise<{ word: string; xMin: number; yMin: number; xMax: number; yMax: number }[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-affidavit-'));
  try {
    const path = join(dir, 'affidavit.pdf');
    writeFileSync(path, bytes);
    const { stdout } = await run('pdftotext', ['-bbox', '-enc', 'UTF-8', path, '-'], { maxBuffer: 64 * 1024 * 1024 });
    return [...stdout.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g)]
      .map((m) => ({ xMin: Number(m[1]), yMin: Number(m[2]), xMax: Number(m[3]), yMax: Number(m[4]), word: m[5]! }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Within half an inch of the paper's edge: what any printer prints. */
const insidePage = (w: { xMin: number; yMin: number; xMax: number; yMax: number }): boolean =>
  w.xMin >= 36 && w.xMax <= PAGE_WIDTH - 36 && w.yMin >= 18 && w.yMax <= PAGE_HEIGHT - 18;

const flat = (text: string): string => text.replace(/\s+/g, ' ');

function assertPaged(pages: string[], caseNumber: string): void {
  pages.forEach((page, i) => {
    assert.match(page, new RegExp(`page ${i + 1} of ${pages.length}\\b`), `page ${i + 1} has its number`);
    assert.ok(page.includes(caseNumber), `page ${i + 1} names the case`);
  });
}

test('a realistic affidavit: pdftotext reads the case, the item, every file hash whole, every custody entry and the signer', async () => {
  const data = input(7, 3);
  const bytes = await renderAffidavit(data);
  const pages = await pdfText(bytes);
  const text = pages.join('\n');
  const words = flat(text);

  assert.ok(words.includes('Affidavit of seizure of digital evidence'));
  for (const value of ['INC-2026-0412', 'CERT-FR', 'EX-07', 'web-07-payroll', 'hv-07.dc-east.example', 'agent-hv-07', 'qemu 9.2.0',
    '3b1f7c2e-8d4a-4e6b-9c1d-2a5f6e7b8c9d', 'debian-12-genericcloud-amd64.qcow2', '52:54:00:12:34:56', '52:54:00:ab:cd:ef', '10.0.7.21',
    'fd00:7::21', 'cap-20261123-115007-0001', '2026-11-23T11:50:07+01:00', '2026-11-23T12:09:58+01:00', 'SOC room 2, Paris',
    '2026-11-23T12:16:13+01:00 (Europe/Paris)', 'Camille Durand', 'Incident responder']) {
    assert.ok(words.includes(value), `the affidavit shows ${value}`);
  }
  for (const f of data.manifest.files) {
    // Whole on one line: the raw text, not the whitespace-flattened one.
    assert.ok(text.includes(f.sha256), `SHA-256 of ${f.path} whole`);
    assert.ok(text.includes(f.sha1), `SHA-1 of ${f.path} whole`);
    assert.ok(words.includes(f.path), `path ${f.path}`);
    assert.match(words, new RegExp(`${f.path.replace(/\./g, '\\.')} .*?${f.size}\\b`), `size of ${f.path}`);
  }
  for (const e of data.custody) {
    assert.ok(words.includes(e.reason), `custody reason ${e.sequence} (wrapped lines read back as one sentence)`);
    assert.ok(words.includes(e.location), `custody location ${e.sequence}`);
    assert.ok(words.includes(e.storageLocation), `custody storage ${e.sequence}`);
    assert.ok(words.includes(`${e.at} (${e.timeZone})`), `custody time ${e.sequence}`);
    assert.ok(words.includes(`${e.to.name}, ${e.to.role} (${e.to.agency})`), `custody recipient ${e.sequence}`);
    if (e.from) assert.ok(words.includes(`${e.from.name}, ${e.from.role} (${e.from.agency})`), `custody sender ${e.sequence}`);
    assert.ok(text.includes(e.signerFingerprint), `custody signer ${e.sequence}`);
    assert.ok(text.includes(e.previousEntryHash), `custody previous hash ${e.sequence}`);
  }
  assert.ok(text.includes(data.signerFingerprint), 'the package signer in full');
  assert.match(words, /SHA-256 is the evidentiary hash; SHA-1 is recorded only as a legacy cross-check/);
  assert.match(words, /Witness \/ receiving officer/);
  assert.ok(!/SIMULATED/i.test(text), 'a real VM is not marked simulated');

  // In order: identity before files, files before custody, custody before the signer and the signatures.
  const at = (s: string): number => { const i = words.indexOf(s); assert.ok(i >= 0, s); return i; };
  assert.ok(at('Item seized') < at(data.manifest.files[0]!.sha256));
  assert.ok(at(data.manifest.files.at(-1)!.sha256) < at('Chain of custody'));
  assert.ok(at(REASONS[2]!) < at('Package signature'));
  assert.ok(at('Package signature') < at('Witness / receiving officer'));

  assert.ok(words.includes('page 1 of'));
  assertPaged(pages, 'INC-2026-0412');
  const doc = await PDFDocument.load(bytes);
  assert.equal(doc.getPageCount(), pages.length);
  const { width, height } = doc.getPage(0).getSize();
  assert.deepEqual([width, height], [PAGE_WIDTH, PAGE_HEIGHT], 'A4 portrait');
  assert.match(doc.getTitle() ?? '', /INC-2026-0412/);
  assert.equal(doc.getAuthor(), 'Camille Durand, Incident responder (CERT-FR)');

  const simulated = input(3, 1);
  simulated.manifest.item.simulated = true;
  const simPages = await pdfText(await renderAffidavit(simulated));
  assert.match(flat(simPages.join('\n')), /this virtual machine was SIMULATED .* Its content is SYNTHETIC/);
  simPages.forEach((page, i) => assert.match(page, /SIMULATED VM: synthetic content/, `simulated, said on page ${i + 1}`));
});

test('200 files and 50 custody entries flow across pages, every hash whole', async () => {
  // Its speed is a figure, not an assertion (shared machines): the render is only checked for what it says.
  const data = input(200, 50);
  const bytes = await renderAffidavit(data);

  const pages = await pdfText(bytes);
  const text = pages.join('\n');
  const words = flat(text);
  const doc = await PDFDocument.load(bytes);
  assert.ok(doc.getPageCount() > 1);
  assert.equal(pages.length, doc.getPageCount(), 'pdftotext and pdf-lib agree on the pages');
  assertPaged(pages, 'INC-2026-0412');
  for (const f of data.manifest.files) {
    assert.ok(text.includes(f.sha256), `SHA-256 of ${f.path}`);
    assert.ok(text.includes(f.sha1), `SHA-1 of ${f.path}`);
  }
  for (const e of data.custody) {
    assert.ok(words.includes(e.reason), `reason of entry ${e.sequence}`);
    assert.ok(words.includes(`Entry ${e.sequence}: ${e.kind}`), `entry ${e.sequence}`);
  }
  assert.ok(text.includes(data.signerFingerprint));
  // The tables say where they continue, and a file's block is never split from its hashes.
  assert.ok(pages.slice(1).some((p) => p.includes('Files (200, continued)')));
  assert.ok(pages.some((p) => p.includes('Chain of custody (continued)')));
  for (const page of pages) {
    for (const m of page.matchAll(/evidence\/[a-z-]+\/vm-web-07-(\d{3})/g)) {
      assert.ok(page.includes(data.manifest.files[Number(m[1])]!.sha1), `file ${m[1]} and its SHA-1 on the same page`);
    }
  }
  for (const w of await wordBoxes(bytes)) {
    assert.ok(insidePage(w), `"${w.word}" inside the page`);
  }
});

test('hostile text is escaped visibly, never thrown on, never lost, and never runs off the page', async () => {
  const data = input(3, 2);
  data.manifest.item.vm.name = '财务服务器 😀\u0000evil\nname\u202Etxt.exe';
  data.manifest.item.host = `hv-${'a'.repeat(300)}.example`; // no break opportunity at all
  data.manifest.files[0]!.path = 'evidence/other/\u{1F4A3}bomb\u0007.bin';
  data.manifest.files[1]!.description = 'invoice\u202Efdp.exe \u200B hidden\u00A0space soft\u00ADhyphen';
  data.custody[1]!.reason = 'Line one\nline two\ttabbed\r\nline three \u0000 with a NUL and 𝕏 and 中文';
  data.custody[1]!.location = `Caserne ${'Z'.repeat(900)}`;
  data.custody[0]!.storageLocation = 'y'.repeat(20_000);
  data.place = 'Saint-Étienne, café « Œuvre » — 5 € ‰ ™ “quotes” ‘single’ • … ƒ ß ÿ';
  data.responder = { name: 'Zoë Ørsted', role: 'Responder\u0085', agency: 'Agence 🛡' };
  data.manifest.case.caseNumber = `INC-${'9'.repeat(600)}`; // shown whole in the body, cut (visibly) in the page header

  const bytes = await renderAffidavit(data);
  const pages = await pdfText(bytes);
  const text = pages.join('\n');
  const words = flat(text);

  assert.ok(words.includes('\\u{8D22}\\u{52A1}\\u{670D}\\u{52A1}\\u{5668} \\u{1F600}\\u{0000}evil\\u{000A}name\\u{202E}txt.exe'), 'the VM name, every character accounted for');
  assert.ok(words.includes('evidence/other/\\u{1F4A3}bomb\\u{0007}.bin'), 'the path');
  assert.ok(words.includes('invoice\\u{202E}fdp.exe \\u{200B} hidden\\u{00A0}space soft\\u{00AD}hyphen'), 'invisible characters made visible');
  assert.ok(words.includes('Line one line two tabbed line three \\u{0000} with a NUL and \\u{1D54F} and \\u{4E2D}\\u{6587}'), 'a reason: line breaks read as spaces');
  assert.ok(words.includes('Zoë Ørsted'), 'WinAnsi letters are kept');
  assert.ok(words.includes('Responder\\u{0085}') && words.includes('Agence \\u{1F6E1}'));
  assert.ok(words.includes(data.place), 'every WinAnsi punctuation mark kept as it is');
  assert.ok(text.includes(`hv-${'a'.repeat(60)}`), 'a long unbroken name is cut across lines, not dropped');
  assert.match(words, /more UTF-16 code units not shown here/, 'a huge field is cut, visibly');
  for (const raw of ['\u202E', '\u0000', '\u0007', '\u200B', '😀', '财', '𝕏', '\u00AD']) {
    assert.ok(!text.includes(raw), `no raw U+${raw.codePointAt(0)!.toString(16).toUpperCase()} in the PDF's text`);
  }
  assert.ok(pages.length < 10, `a 20,000-character field does not balloon the affidavit (${pages.length} pages)`);
  assertPaged(pages, `INC-${'9'.repeat(50)}`);
  assert.ok(text.replace(/\s+/g, '').includes(data.manifest.case.caseNumber), 'the whole case number, once');
  for (const w of await wordBoxes(bytes)) {
    assert.ok(insidePage(w), `"${w.word.slice(0, 40)}" inside the page`);
  }

  // Every character the standard fonts can encode is drawn as itself: render them all and read them back.
  const probe = await PDFDocument.create();
  const charset = (await probe.embedFont(StandardFonts.Helvetica)).getCharacterSet()
    .filter((cp) => cp > 0x20 && cp !== 0xa0 && cp !== 0xad).map((cp) => String.fromCodePoint(cp)).join('')
    .replace(/(.{16})/gu, '$1 ').trim(); // words short enough to wrap at the spaces
  assert.ok(charset.length > 200, 'the probe font reports its character set');
  const all = input(1, 1, { place: charset });
  const allText = flat((await pdfText(await renderAffidavit(all))).join('\n'));
  assert.ok(allText.includes(charset), 'the whole WinAnsi set survives');
});

test('the same input gives the same bytes, whatever the clock and Math.random say', async (t) => {
  const data = input(20, 4);
  const first = await renderAffidavit(data);
  const random = Math.random;
  Math.random = () => 0.987654321;
  t.mock.timers.enable({ apis: ['Date'], now: Date.parse('2031-01-01T00:00:00Z') });
  let second: Uint8Array;
  try {
    second = await renderAffidavit(structuredClone(data));
  } finally {
    Math.random = random;
    t.mock.timers.reset();
  }
  assert.equal(Buffer.compare(Buffer.from(first), Buffer.from(second)), 0, 'byte-identical');

  const later = await renderAffidavit({ ...data, madeAt: '2026-11-23T12:17:13+01:00' });
  assert.notEqual(Buffer.compare(Buffer.from(first), Buffer.from(later)), 0, 'a different input gives different bytes');

  const doc = await PDFDocument.load(first, { updateMetadata: false });
  assert.equal(doc.getCreationDate()?.toISOString(), new Date(data.madeAt).toISOString());
  assert.equal(doc.getModificationDate()?.toISOString(), new Date(data.madeAt).toISOString());
  assert.equal(doc.getProducer(), 'Cordon 0.1.0 (pdf-lib)');
  assert.equal(doc.getCreator(), 'Cordon 0.1.0');
  assert.match(doc.getSubject() ?? '', /7f3c2a10-5b1e-4c8d-9a2f-0e6d4b8c1a95/);
  assert.ok(!Buffer.from(first).includes('/ID ['), 'no random document ID');

  await assert.rejects(renderAffidavit({ ...data, madeAt: '2026-11-23 12:16' }), RangeError);
  await assert.rejects(renderAffidavit({ ...data, madeAt: '2026-11-23T12:16:13' }), RangeError, 'an offset is required');
  await assert.rejects(renderAffidavit({ ...data, timeZone: 'Mars/Olympus_Mons' }), RangeError);
});
