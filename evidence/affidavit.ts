// The seizure package's affidavit.pdf: the printable statement an officer signs, made with pdf-lib from the manifest
// and the chain of custody. A4 portrait, the 14 standard PDF fonts only (Helvetica, Helvetica-Bold, Courier: no font
// file, no network), every page headed with the case number and footed with "page N of M".
//
// Every string here may come from an attacker (VM names, file names, reasons a user typed), and pdf-lib's standard
// fonts encode WinAnsi only and throw on anything else, so each string goes through one sanitiser, pdfText(), before
// it is measured or drawn: WinAnsi characters are kept, anything else (CJK, emoji, the bidi overrides, control
// characters, the invisible soft hyphen and no-break space) becomes a visible `\u{XXXX}`, so nothing is silently lost
// or silently reordered. Long text is wrapped at its column's width, hard-broken where it has no break opportunity.
//
// The output is deterministic: the same input gives the same bytes (the dates are the affidavit's `madeAt`, the
// metadata is set explicitly, and pdf-lib writes no document ID for a new document). Pure Node: no Electron, no DOM.
import { PDFDocument, StandardFonts, rgb, type Color, type PDFFont, type PDFPage } from 'pdf-lib';
import type { CustodyEntry, Handler, Manifest, ManifestFile } from './format.ts';

export interface AffidavitInput {
  /** Case, item identity (host, VM id/name, MACs, IPs, agent, hypervisor), capture times, files with their hashes. */
  manifest: Manifest;
  /** The chain of custody so far, in sequence order (the seizure first, then the transfers). */
  custody: CustodyEntry[];
  /** "SHA256:…" fingerprint of the responder's Ed25519 key that signs the package. */
  signerFingerprint: string;
  /** ISO 8601 with offset, e.g. 2026-11-23T12:16:13+01:00. */
  madeAt: string;
  /** IANA name of madeAt's zone, e.g. Europe/Paris. */
  timeZone: string;
  /** Where the affidavit is made. */
  place: string;
  /** Who makes it. */
  responder: Handler;
}

const AFFIDAVIT_TITLE = 'Affidavit of seizure of digital evidence';

// ---- The sanitiser ---------------------------------------------------------------------------------------------

/** The code points above ASCII that WinAnsi (Windows-1252) encodes in 0x80-0x9F. */
const WINANSI_HIGH = new Set([
  0x152, 0x153, 0x160, 0x161, 0x178, 0x17d, 0x17e, 0x192, 0x2c6, 0x2dc, 0x2013, 0x2014, 0x2018, 0x2019, 0x201a, 0x201c,
  0x201d, 0x201e, 0x2020, 0x2021, 0x2022, 0x2026, 0x2030, 0x2039, 0x203a, 0x20ac, 0x2122,
]);
/** Encodable but invisible or indistinguishable from a space once printed: escaped too. */
const LOOKS_LIKE_NOTHING = new Set([0xa0 /* no-break space */, 0xad /* soft hyphen */]);
/** Past this many characters drawn, a field is cut (visibly); manifest.json and custody.jsonld keep the whole value. */
const FIELD_LIMIT = 4000;

function drawable(cp: number): boolean {
  if (cp >= 0x20 && cp <= 0x7e) return true;
  if (cp >= 0xa0 && cp <= 0xff) return !LOOKS_LIKE_NOTHING.has(cp);
  return WINANSI_HIGH.has(cp);
}

function escapeCodePoint(cp: number): string {
  return `\\u{${cp.toString(16).toUpperCase().padStart(4, '0')}}`;
}

/**
 * The one sanitiser every drawn string goes through. An identifier (a name, a path, an id) keeps every character, each
 * one the fonts cannot draw escaped, line breaks and tabs included; prose (a reason, a location, a description) reads
 * its line breaks and tabs as spaces first. Non-strings (a malformed manifest) are shown as their String().
 */
function pdfText(value: unknown, kind: 'identifier' | 'prose' = 'identifier'): string {
  let text = typeof value === 'string' ? value : String(value);
  if (kind === 'prose') text = text.replace(/\r\n|[\t\n\v\f\r\u0085\u2028\u2029]/g, ' ');
  let out = '';
  let read = 0;
  for (const ch of text) {
    if (out.length >= FIELD_LIMIT) {
      const rest = text.length - read;
      out += ` [... ${rest} more UTF-16 code units not shown here; the package's JSON files hold the whole value]`;
      break;
    }
    const cp = ch.codePointAt(0) ?? 0;
    out += drawable(cp) ? ch : escapeCodePoint(cp);
    read += ch.length;
  }
  return out;
}

// ---- Measuring and wrapping ------------------------------------------------------------------------------------

type WrapMode = 'prose' | 'path' | 'code';

/** Per-character widths at size 1000, per font: pdf-lib draws without kerning, so the sum is the drawn width. */
const widthCache = new WeakMap<PDFFont, Map<string, number>>();

function textWidth(text: string, font: PDFFont, size: number): number {
  let cache = widthCache.get(font);
  if (!cache) widthCache.set(font, (cache = new Map()));
  let total = 0;
  for (const ch of text) {
    let w = cache.get(ch);
    if (w === undefined) cache.set(ch, (w = font.widthOfTextAtSize(ch, 1000)));
    total += w;
  }
  return (total * size) / 1000;
}

/** Cuts a token with no break opportunity into pieces that each fit `width`. */
function hardBreak(token: string, font: PDFFont, size: number, width: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let w = 0;
  for (const ch of token) {
    const cw = textWidth(ch, font, size);
    if (piece && w + cw > width) {
      pieces.push(piece);
      piece = '';
      w = 0;
    }
    piece += ch;
    w += cw;
  }
  if (piece) pieces.push(piece);
  return pieces;
}

/**
 * Greedy wrapping of already-sanitised text at `width`: prose breaks at spaces, paths after `/` too, code (hashes,
 * fingerprints) nowhere unless it cannot fit; a token wider than the column is hard-broken. Never returns an empty list.
 */
function wrap(text: string, font: PDFFont, size: number, width: number, mode: WrapMode): string[] {
  const tokens = mode === 'code' ? [text] : text.split(mode === 'path' ? /(?<=[ /])/ : /(?<= )/);
  const lines: string[] = [];
  let line = '';
  let lineWidth = 0;
  const flush = (): void => {
    const trimmed = line.trimEnd();
    if (trimmed) lines.push(trimmed);
    line = '';
    lineWidth = 0;
  };
  for (const raw of tokens) {
    const token = line ? raw : raw.trimStart();
    if (!token) continue;
    const tokenWidth = textWidth(token.trimEnd(), font, size);
    if (lineWidth + tokenWidth <= width) {
      line += token;
      lineWidth += textWidth(token, font, size);
      continue;
    }
    flush();
    const start = token.trimStart();
    if (textWidth(start.trimEnd(), font, size) <= width) {
      line = start;
      lineWidth = textWidth(start, font, size);
      continue;
    }
    const pieces = hardBreak(start.trimEnd(), font, size, width);
    for (const piece of pieces.slice(0, -1)) lines.push(piece);
    line = pieces[pieces.length - 1] ?? '';
    lineWidth = textWidth(line, font, size);
    if (start !== start.trimEnd()) {
      line += ' ';
      lineWidth += textWidth(' ', font, size);
    }
  }
  flush();
  return lines.length ? lines : [''];
}

// ---- Page geometry and the layout engine -----------------------------------------------------------------------

const PAGE_WIDTH = 595.28;
const PAGE_HEIGHT = 841.89;
const LEFT = 42;
const RIGHT = PAGE_WIDTH - 42;
const CONTENT_WIDTH = RIGHT - LEFT;
const HEADER_TOP = PAGE_HEIGHT - 34;
const FOOTER_BASELINE = 26;
const BODY_BOTTOM = 50;
const LEADING = 1.3;

const BLACK = rgb(0, 0, 0);
const GREY = rgb(0.35, 0.35, 0.35);
const RULE = rgb(0.6, 0.6, 0.6);
const BAND = rgb(0.92, 0.92, 0.92);
const WARNING = rgb(0.75, 0, 0);
const WARNING_BAND = rgb(1, 0.9, 0.9);

interface Fonts {
  regular: PDFFont;
  bold: PDFFont;
  mono: PDFFont;
}

/** One piece of text on a line: left-aligned at x, or right-aligned ending at x. */
interface Segment {
  x: number;
  text: string;
  font: PDFFont;
  size: number;
  color: Color;
  align: 'left' | 'right';
}

/** One line of the body: its height, its text, and the decorations drawn with it. */
interface Line {
  height: number;
  segments: Segment[];
  /** Fill the line's box across the content width. */
  band?: Color;
  /** Draw a thin rule along the line's bottom. */
  ruleBelow?: boolean;
  /** Blank lines to write on (signature, date): drawn just under the baseline. */
  writeOn?: { x: number; width: number }[];
}

interface CellLine {
  text: string;
  font: PDFFont;
  size: number;
  color?: Color;
}

interface Cell {
  x: number;
  width: number;
  align?: 'left' | 'right';
  lines: CellLine[];
}

/**
 * Sanitises (once: callers pass raw values) and wraps `value` into a cell's lines. Free text (reasons, locations,
 * descriptions, the statement) reads its line breaks as spaces; anything else shows them escaped.
 */
function para(value: unknown, font: PDFFont, size: number, width: number, mode: WrapMode, color?: Color, free = false): CellLine[] {
  const text = pdfText(value, free ? 'prose' : 'identifier');
  return wrap(text, font, size, width, mode).map((t) => ({ text: t, font, size, color }));
}

/** Lays cells side by side: line i of the row holds line i of every cell that has one. */
function row(cells: Cell[], pad = 0): Line[] {
  const count = Math.max(...cells.map((c) => c.lines.length));
  const lines: Line[] = [];
  for (let i = 0; i < count; i++) {
    const segments: Segment[] = [];
    for (const cell of cells) {
      const l = cell.lines[i];
      if (!l) continue;
      const right = cell.align === 'right';
      segments.push({ x: right ? cell.x + cell.width : cell.x, text: l.text, font: l.font, size: l.size, color: l.color ?? BLACK, align: right ? 'right' : 'left' });
    }
    const size = Math.max(...segments.map((s) => s.size));
    lines.push({ height: size * LEADING, segments });
  }
  if (pad && lines.length) lines[lines.length - 1]!.height += pad;
  return lines;
}

function spacer(height: number): Line {
  return { height, segments: [] };
}

/** Places lines top to bottom across pages; a block that fits on a page is never split. */
class Layout {
  readonly pages: PDFPage[] = [];
  private page: PDFPage | undefined;
  private y = 0;
  private continuation: Line[] = [];
  private pending: Line[] = [];

  constructor(private readonly doc: PDFDocument, private readonly bodyTop: number) {}

  /** Lines repeated at the top of each new page while a table runs on (its title and column heads). */
  setContinuation(lines: Line[]): void {
    this.continuation = lines;
  }

  /** Lines kept on the same page as the next block (a heading with the first row under it). */
  keepWithNext(lines: Line[]): void {
    this.pending.push(...lines);
  }

  block(lines: Line[]): void {
    const all = [...this.pending, ...lines];
    this.pending = [];
    const height = all.reduce((h, l) => h + l.height, 0);
    const fresh = this.bodyTop - BODY_BOTTOM - this.continuation.reduce((h, l) => h + l.height, 0);
    if (this.page && height > this.y - BODY_BOTTOM && height <= fresh) this.newPage();
    for (const line of all) this.place(line);
  }

  finish(): PDFPage[] {
    if (this.pending.length) this.block([]);
    if (!this.page) this.newPage();
    return this.pages;
  }

  private newPage(): void {
    this.page = this.doc.addPage([PAGE_WIDTH, PAGE_HEIGHT]);
    this.pages.push(this.page);
    this.y = this.bodyTop;
    for (const line of this.continuation) this.draw(line);
  }

  private place(line: Line): void {
    if (!this.page || this.y - line.height < BODY_BOTTOM) this.newPage();
    this.draw(line);
  }

  private draw(line: Line): void {
    const page = this.page!;
    drawLine(page, line, this.y);
    this.y -= line.height;
  }
}

function drawLine(page: PDFPage, line: Line, top: number): void {
  const bottom = top - line.height;
  if (line.band) page.drawRectangle({ x: LEFT - 3, y: bottom, width: CONTENT_WIDTH + 6, height: line.height, color: line.band });
  const size = Math.max(0, ...line.segments.map((s) => s.size));
  const baseline = top - size;
  for (const s of line.segments) {
    if (!s.text) continue;
    const x = s.align === 'right' ? s.x - textWidth(s.text, s.font, s.size) : s.x;
    page.drawText(s.text, { x, y: baseline, font: s.font, size: s.size, color: s.color });
  }
  for (const w of line.writeOn ?? []) {
    page.drawLine({ start: { x: w.x, y: baseline - 2 }, end: { x: w.x + w.width, y: baseline - 2 }, thickness: 0.6, color: BLACK });
  }
  if (line.ruleBelow) page.drawLine({ start: { x: LEFT, y: bottom + 1 }, end: { x: RIGHT, y: bottom + 1 }, thickness: 0.4, color: RULE });
}

// ---- The content -----------------------------------------------------------------------------------------------

const BODY = 9;
const SMALL = 8;
const LABEL_WIDTH = 118;
const VALUE_X = LEFT + LABEL_WIDTH + 6;
const VALUE_WIDTH = RIGHT - VALUE_X;

function handler(h: Handler | undefined): string {
  if (!h) return '';
  const agency = h.agency ? ` (${h.agency})` : '';
  return `${h.name}, ${h.role}${agency}`;
}

function timeWithZone(at: string, timeZone: string): string {
  return `${at} (${timeZone})`;
}

interface Value {
  text: unknown;
  mono?: boolean;
  mode?: WrapMode;
  /** Free text a person typed: line breaks read as spaces. */
  free?: boolean;
}

/** A label and its values, one value (wrapped) under the other. */
function keyValue(f: Fonts, label: string, values: Value[], size = BODY): Line[] {
  const valueLines = values.flatMap((v) =>
    para(v.text, v.mono ? f.mono : f.regular, v.mono ? size - 0.5 : size, VALUE_WIDTH, v.mode ?? (v.mono ? 'code' : 'prose'), BLACK, v.free));
  return row([
    { x: LEFT, width: LABEL_WIDTH, lines: para(label, f.bold, size, LABEL_WIDTH, 'prose') },
    { x: VALUE_X, width: VALUE_WIDTH, lines: valueLines },
  ], 1.5);
}

function heading(f: Fonts, text: string): Line[] {
  return [spacer(8), ...row([{ x: LEFT, width: CONTENT_WIDTH, lines: para(text, f.bold, 11, CONTENT_WIDTH, 'prose') }]).map((l) => ({ ...l, ruleBelow: true })), spacer(4)];
}

function paragraph(f: Fonts, text: string, size = BODY, font = f.regular, color?: Color): Line[] {
  return row([{ x: LEFT, width: CONTENT_WIDTH, lines: para(text, font, size, CONTENT_WIDTH, 'prose', color, true) }], 3);
}

/** A list of addresses, one a line, or a note that there are none. */
function orNone(values: string[], none: string): Value[] {
  return values.length ? values.map((v) => ({ text: v, mono: true, mode: 'path' as const })) : [{ text: none }];
}

const FILE_NUMBER_WIDTH = 24;
const FILE_MAIN_X = LEFT + FILE_NUMBER_WIDTH;
const FILE_SIDE_WIDTH = 64;
const FILE_MAIN_WIDTH = RIGHT - FILE_SIDE_WIDTH - 8 - FILE_MAIN_X;
const FILE_SIDE_X = RIGHT - FILE_SIDE_WIDTH;
const HASH_LABEL_WIDTH = 44;
const MONO = 8;

function fileColumnHeads(f: Fonts): Line[] {
  return row([
    { x: LEFT, width: FILE_NUMBER_WIDTH, lines: para('#', f.bold, SMALL, FILE_NUMBER_WIDTH, 'prose') },
    { x: FILE_MAIN_X, width: FILE_MAIN_WIDTH, lines: para('Path; description (role, source, when captured); SHA-256 (evidentiary), SHA-1 (legacy cross-check)', f.bold, SMALL, FILE_MAIN_WIDTH, 'prose') },
    { x: FILE_SIDE_X, width: FILE_SIDE_WIDTH, align: 'right', lines: para('Size (bytes)', f.bold, SMALL, FILE_SIDE_WIDTH, 'prose') },
  ]).map((l) => ({ ...l, band: BAND }));
}

function fileRows(f: Fonts, file: ManifestFile, index: number): Line[] {
  const hash = (label: string, hex: unknown): Line[] => row([
    { x: FILE_MAIN_X, width: HASH_LABEL_WIDTH, lines: para(label, f.bold, 7, HASH_LABEL_WIDTH, 'prose') },
    { x: FILE_MAIN_X + HASH_LABEL_WIDTH, width: FILE_MAIN_WIDTH - HASH_LABEL_WIDTH, lines: para(hex, f.mono, MONO, FILE_MAIN_WIDTH - HASH_LABEL_WIDTH, 'code') },
  ]);
  const top = row([
    { x: LEFT, width: FILE_NUMBER_WIDTH, lines: para(index + 1, f.regular, SMALL, FILE_NUMBER_WIDTH, 'code') },
    {
      x: FILE_MAIN_X, width: FILE_MAIN_WIDTH,
      lines: [
        ...para(file.path, f.mono, MONO, FILE_MAIN_WIDTH, 'path'),
        ...para(`${file.description} (${file.role}, ${file.source}, captured ${file.capturedAt})`, f.regular, 7.5, FILE_MAIN_WIDTH, 'prose', GREY, true),
      ],
    },
    { x: FILE_SIDE_X, width: FILE_SIDE_WIDTH, align: 'right', lines: para(file.size, f.bold, SMALL, FILE_SIDE_WIDTH, 'code') },
  ]);
  const lines = [spacer(2), ...top, ...hash('SHA-256', file.sha256), ...hash('SHA-1', file.sha1)];
  lines[lines.length - 1] = { ...lines[lines.length - 1]!, height: lines[lines.length - 1]!.height + 2, ruleBelow: true };
  return lines;
}

function custodyRows(f: Fonts, e: CustodyEntry): Line[] {
  const half = CONTENT_WIDTH / 2 - 4;
  const title = row([
    { x: LEFT, width: half, lines: para(`Entry ${e.sequence}: ${e.kind}`, f.bold, BODY, half, 'prose') },
    { x: RIGHT - half, width: half, align: 'right', lines: para(timeWithZone(e.at, e.timeZone), f.bold, BODY, half, 'path') },
  ]).map((l) => ({ ...l, band: BAND }));
  const kv = (label: string, values: Value[]): Line[] => keyValue(f, label, values, SMALL + 0.5);
  return [
    spacer(4),
    ...title,
    spacer(2),
    ...kv('From', [{ text: e.from ? handler(e.from) : '(none: the seizure is the first entry)' }]),
    ...kv('To', [{ text: handler(e.to) }]),
    ...kv('Location', [{ text: e.location, free: true }]),
    ...kv('Storage location', [{ text: e.storageLocation, free: true }]),
    ...kv('Reason', [{ text: e.reason, free: true }]),
    ...kv('Signer key', [{ text: e.signerFingerprint, mono: true }]),
    ...kv('Previous entry hash', [{ text: e.previousEntryHash, mono: true }]),
  ];
}

function statement(input: AffidavitInput, totalBytes: number): string {
  const { manifest: m, responder: r } = input;
  const of = r.agency ? ` of ${r.agency}` : '';
  const files = m.files.length === 1 ? '1 file' : `${m.files.length} files`;
  return `I, ${r.name}, ${r.role}${of}, state that the ${files} listed below (${totalBytes} bytes in all) were captured by `
    + `Cordon ${m.tool.version} from the item identified above, between ${m.capture.startedAt} and ${m.capture.finishedAt}: `
    + 'by the Cordon agent on the hypervisor host, or by the Cordon cockpit for its own records (console recordings, '
    + 'journal extracts), as the source of each file shows. Each file was hashed while it was read. SHA-256 is the '
    + 'evidentiary hash; SHA-1 is recorded only as a legacy cross-check for older custody forms. The list is the content '
    + `of manifest.json in seizure package ${m.packageId}; a file whose SHA-256 differs from the one listed is not the `
    + 'file that was seized.';
}

function build(layout: Layout, f: Fonts, input: AffidavitInput): void {
  const { manifest: m, custody, responder } = input;
  const item = m.item;

  layout.block(row([{ x: LEFT, width: CONTENT_WIDTH, lines: para(AFFIDAVIT_TITLE, f.bold, 16, CONTENT_WIDTH, 'prose') }], 6));

  layout.keepWithNext(heading(f, 'Case'));
  layout.block([
    ...keyValue(f, 'Case number', [{ text: m.case.caseNumber, mode: 'path' }]),
    ...keyValue(f, 'Agency', [{ text: m.case.agency }]),
    ...(m.case.exhibit !== undefined ? keyValue(f, 'Exhibit', [{ text: m.case.exhibit, mode: 'path' }]) : []),
    ...keyValue(f, 'Seizure package', [{ text: m.packageId, mono: true }]),
    ...keyValue(f, 'Package created', [{ text: m.createdAt, mode: 'path' }]),
  ]);

  layout.keepWithNext(heading(f, 'Made by'));
  layout.block([
    ...keyValue(f, 'Name', [{ text: responder.name }]),
    ...keyValue(f, 'Role', [{ text: responder.role }]),
    ...keyValue(f, 'Agency', [{ text: responder.agency ?? '(not given)' }]),
    ...keyValue(f, 'Place', [{ text: input.place, free: true }]),
    ...keyValue(f, 'Date and time', [{ text: timeWithZone(input.madeAt, input.timeZone), mode: 'path' }]),
  ]);

  layout.keepWithNext(heading(f, 'Item seized'));
  const hypervisor = item.hypervisor.version !== undefined
    ? `${item.hypervisor.kind} ${item.hypervisor.version}`
    : `${item.hypervisor.kind} (version not reported)`;
  layout.block([
    ...(item.simulated === true
      ? paragraph(f, 'SIMULATED: this virtual machine was SIMULATED (a demo or training capture). Its content is SYNTHETIC '
        + 'and is not evidence of any real system.', 10, f.bold, WARNING).map((l) => ({ ...l, band: WARNING_BAND }))
      : []),
    ...keyValue(f, 'Host', [{ text: item.host, mode: 'path' }]),
    ...keyValue(f, 'Agent id', [{ text: item.agentId, mono: true, mode: 'path' }]),
    ...keyValue(f, 'Hypervisor', [{ text: hypervisor }]),
    ...keyValue(f, 'VM name', [{ text: item.vm.name, mode: 'path' }]),
    ...keyValue(f, 'VM id', [{ text: item.vm.id, mono: true, mode: 'path' }]),
    ...keyValue(f, 'Image', [{ text: item.vm.image ?? '(not reported)', mode: 'path' }]),
    ...keyValue(f, 'MAC addresses', orNone(item.vm.macs, '(none reported)')),
    ...keyValue(f, 'IP addresses', orNone(item.vm.ips, '(none reported)')),
    ...keyValue(f, 'Capture id', [{ text: item.captureId, mono: true, mode: 'path' }]),
  ]);

  layout.keepWithNext(heading(f, 'Capture'));
  layout.block([
    ...keyValue(f, 'Started', [{ text: m.capture.startedAt, mode: 'path' }]),
    ...keyValue(f, 'Finished', [{ text: m.capture.finishedAt, mode: 'path' }]),
    ...keyValue(f, 'Seized by', [{ text: handler(m.capture.seizedBy) }]),
    ...keyValue(f, 'Reason', [{ text: m.capture.reason, free: true }]),
  ]);

  const totalBytes = m.files.reduce((sum, file) => sum + (Number.isFinite(file.size) ? file.size : 0), 0);
  layout.keepWithNext(heading(f, 'Statement'));
  layout.block(paragraph(f, statement(input, totalBytes)));

  // A table's heading goes with its first row; the pages it runs on to repeat the heading (and the column heads).
  layout.keepWithNext([...heading(f, `Files (${m.files.length})`), ...fileColumnHeads(f)]);
  if (m.files.length === 0) layout.block(paragraph(f, '(no files)'));
  m.files.forEach((file, i) => {
    layout.block(fileRows(f, file, i));
    if (i === 0) layout.setContinuation([...heading(f, `Files (${m.files.length}, continued)`), ...fileColumnHeads(f)]);
  });
  layout.setContinuation([]);

  layout.keepWithNext(heading(f, `Chain of custody (${custody.length} ${custody.length === 1 ? 'entry' : 'entries'})`));
  if (custody.length === 0) layout.block(paragraph(f, '(no entries)'));
  custody.forEach((entry, i) => {
    layout.block(custodyRows(f, entry));
    if (i === 0) layout.setContinuation(heading(f, 'Chain of custody (continued)'));
  });
  layout.setContinuation([]);

  layout.keepWithNext(heading(f, 'Package signature'));
  layout.block([
    ...paragraph(f, 'manifest.json, custody.jsonld and this affidavit are signed with the Ed25519 key whose fingerprint '
      + 'follows (detached signatures manifest.json.sig, custody.jsonld.sig and affidavit.pdf.sig; the public key is '
      + 'signer.pem). `openssl pkeyutl -verify -rawin` or cordon-verify checks them.'),
    ...keyValue(f, 'Signer key', [{ text: input.signerFingerprint, mono: true }]),
  ]);

  const signer = (title: string, name: string | undefined): Line[] => {
    const nameLine = row([
      { x: LEFT, width: 60, lines: para('Name', f.bold, BODY, 60, 'prose') },
      { x: LEFT + 64, width: 280, lines: name === undefined ? [{ text: '', font: f.regular, size: BODY }] : para(name, f.regular, BODY, 280, 'prose') },
    ]);
    const blank = (label: string): Line => ({
      ...row([{ x: LEFT, width: 60, lines: para(label, f.bold, BODY, 60, 'prose') }])[0]!,
      height: 26,
      writeOn: [{ x: LEFT + 64, width: 280 }],
    });
    if (name === undefined) nameLine[0] = { ...nameLine[0]!, height: 26, writeOn: [{ x: LEFT + 64, width: 280 }] };
    return [spacer(10), ...row([{ x: LEFT, width: CONTENT_WIDTH, lines: para(title, f.bold, 10, CONTENT_WIDTH, 'prose') }], 8), ...nameLine, spacer(12), blank('Signature'), blank('Date')];
  };
  layout.keepWithNext(heading(f, 'Signatures'));
  layout.block([
    ...paragraph(f, 'I declare that the contents of this affidavit are true to the best of my knowledge and belief.'),
    ...signer('Responder', handler(responder)),
    ...signer('Witness / receiving officer', undefined),
  ]);
}

// ---- Header, footer, document ----------------------------------------------------------------------------------

const HEADER_CASE_LINES = 2;

function headerLines(f: Fonts, m: Manifest): Line[] {
  const title = AFFIDAVIT_TITLE;
  const titleWidth = textWidth(title, f.regular, 7.5);
  const caseWidth = CONTENT_WIDTH - titleWidth - 16;
  // At most two lines, so that a huge case number cannot eat the page; the body shows it whole.
  const caseLines = para(`Case ${m.case.caseNumber}`, f.bold, BODY, caseWidth, 'path');
  if (caseLines.length > HEADER_CASE_LINES) {
    caseLines.length = HEADER_CASE_LINES;
    const last = caseLines[HEADER_CASE_LINES - 1]!;
    caseLines[HEADER_CASE_LINES - 1] = { ...last, text: fit(last.text, f.bold, BODY, caseWidth, true) };
  }
  const lines = row([
    { x: LEFT, width: caseWidth, lines: caseLines },
    { x: RIGHT - titleWidth, width: titleWidth, align: 'right', lines: para(title, f.regular, 7.5, titleWidth, 'prose', GREY) },
  ]);
  if (m.item.simulated === true) {
    lines.push(...row([{ x: LEFT, width: CONTENT_WIDTH, lines: para('SIMULATED VM: synthetic content, not evidence of a real system', f.bold, 7.5, CONTENT_WIDTH, 'prose', WARNING) }]));
  }
  lines[lines.length - 1] = { ...lines[lines.length - 1]!, ruleBelow: true };
  return lines;
}

/** Fits one line of the header or footer, cutting it with an ellipsis (the body has the whole value). */
function fit(text: string, font: PDFFont, size: number, width: number, truncated = false): string {
  if (!truncated && textWidth(text, font, size) <= width) return text;
  const chars = [...text];
  while (chars.length && textWidth(`${chars.join('')}…`, font, size) > width) chars.pop();
  return `${chars.join('')}…`;
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Renders affidavit.pdf: the same input gives the same bytes. */
export async function renderAffidavit(input: AffidavitInput): Promise<Uint8Array> {
  const madeAt = new Date(input.madeAt);
  if (!ISO_WITH_OFFSET.test(input.madeAt) || Number.isNaN(madeAt.getTime())) {
    throw new RangeError(`madeAt must be ISO 8601 with an offset, e.g. 2026-11-23T12:16:13+01:00; got ${JSON.stringify(input.madeAt)}`);
  }
  new Intl.DateTimeFormat('en', { timeZone: input.timeZone }); // throws RangeError on an unknown zone

  const m = input.manifest;
  const doc = await PDFDocument.create({ updateMetadata: false });
  const fonts: Fonts = {
    regular: await doc.embedFont(StandardFonts.Helvetica),
    bold: await doc.embedFont(StandardFonts.HelveticaBold),
    mono: await doc.embedFont(StandardFonts.Courier),
  };

  const header = headerLines(fonts, m);
  const bodyTop = HEADER_TOP - header.reduce((h, l) => h + l.height, 0) - 12;
  const layout = new Layout(doc, bodyTop);
  build(layout, fonts, input);
  const pages = layout.finish();

  const footerLeft = fit(`Cordon seizure package ${pdfText(m.packageId)}`, fonts.regular, 7.5, CONTENT_WIDTH - 120);
  pages.forEach((page, i) => {
    let top = HEADER_TOP;
    for (const line of header) {
      drawLine(page, line, top);
      top -= line.height;
    }
    page.drawLine({ start: { x: LEFT, y: FOOTER_BASELINE + 11 }, end: { x: RIGHT, y: FOOTER_BASELINE + 11 }, thickness: 0.4, color: RULE });
    page.drawText(footerLeft, { x: LEFT, y: FOOTER_BASELINE, font: fonts.regular, size: 7.5, color: GREY });
    const number = `page ${i + 1} of ${pages.length}`;
    page.drawText(number, { x: RIGHT - textWidth(number, fonts.bold, 8), y: FOOTER_BASELINE, font: fonts.bold, size: 8 });
  });

  const meta = (value: string): string => pdfText(value, 'prose');
  doc.setTitle(meta(`${AFFIDAVIT_TITLE}, case ${m.case.caseNumber}`));
  doc.setAuthor(meta(handler(input.responder)));
  doc.setSubject(meta(`Seizure package ${m.packageId}: VM ${m.item.vm.name} (${m.item.vm.id}) on ${m.item.host}`));
  doc.setKeywords([meta(m.case.caseNumber), meta(m.packageId), 'affidavit', 'chain of custody']);
  doc.setProducer(meta(`Cordon ${m.tool.version} (pdf-lib)`));
  doc.setCreator(meta(`Cordon ${m.tool.version}`));
  doc.setLanguage('en');
  doc.setCreationDate(madeAt);
  doc.setModificationDate(madeAt);
  return doc.save({ useObjectStreams: false });
}
