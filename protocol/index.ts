// The cordon.v1 contract in code: the types derived from protocol/schema/ and the decoders that every process
// runs on a message entering it. A decoder never throws: bad input becomes an ErrorMessage with a clear sentence.
import type { ErrorObject, ValidateFunction } from 'ajv';
import {
  validateActRequest,
  validateActResult,
  validateAgentMessage,
  validateClientMessage,
  validateCockpitPush,
  validateCockpitSnapshot,
  validateCockpitLogsPage,
  validateCockpitPolicyPush,
  validateCockpitConsoleOpen,
  validateCockpitConsoleSession,
  validateCockpitConsoleInput,
  validateCockpitConsoleResize,
  validateCockpitConsoleAck,
  validateCockpitConsoleClose,
  validateCockpitConsoleRecordings,
  validateCockpitConsoleRecordingsQuery,
  validateCockpitConsoleRecording,
  validateCockpitConsoleRecordingQuery,
  validateCockpitOk,
  validateCockpitInspectRequest,
  validateCockpitInspection,
  validateCockpitEvidenceStatus,
  validateCockpitEvidencePull,
  validateCockpitAgentTrust,
  validateCockpitAgentRef,
  validateCockpitApprovalDecide,
  validateCockpitEvidenceSeal,
  validateCockpitEvidenceHandover,
  validateCockpitEvidencePackageRef,
  validateCockpitEvidenceExport,
  validateCockpitEvidenceSanitise,
  validateCockpitEvidenceFolder,
  validateCockpitEvidencePackage,
  validateCockpitEvidenceVerify,
  validateCockpitEvidenceExportOutcome,
  validateSanitisationReport,
  validateCockpitPolicyPushResult,
  validateCockpitPolicyStatus,
  validateCockpitLogsQuery,
  validateJournalHealth,
  validateJournalPage,
  validateJournalQuery,
  validateLogRecord,
  validateShellMessage,
  validateSignedPolicy,
  validateThreatEvent,
} from './generated/validators.js';
import type {
  CockpitEvidenceStatus,
  CockpitEvidencePull,
  CockpitAgentTrust,
  CockpitAgentRef,
  CockpitApprovalDecide,
  CockpitEvidenceSeal,
  CockpitEvidenceHandover,
  CockpitEvidencePackageRef,
  CockpitEvidenceExport,
  CockpitEvidenceSanitise,
  CockpitEvidenceFolder,
  EvidencePackageSummary,
  EvidenceVerifyOutcome,
  EvidenceExportOutcome,
  SanitisationReport,
  ActRequest,
  ActResult,
  AgentMessage,
  ClientMessage,
  CockpitPush,
  CockpitSnapshot,
  ErrorMessage,
  CockpitLogsPage,
  CockpitPolicyPush,
  CockpitConsoleAck,
  CockpitConsoleClose,
  CockpitConsoleInput,
  CockpitConsoleOpen,
  CockpitConsoleRecording,
  CockpitConsoleRecordingQuery,
  CockpitConsoleRecordings,
  CockpitConsoleRecordingsQuery,
  CockpitConsoleResize,
  CockpitOk,
  CockpitInspectRequest,
  CockpitInspection,
  ConsoleSession,
  CockpitPolicyPushResult,
  CockpitPolicyStatus,
  CockpitLogsQuery,
  JournalHealth,
  JournalPage,
  JournalQueryParams,
  LogRecord,
  ShellMessage,
  SignedPolicy,
  ThreatEvent,
} from './generated/types.ts';

export type * from './generated/types.ts';

export const PROTOCOL = 'cordon.v1';
/** Largest text frame a peer accepts; an inventory of 100,000 VMs fits, a runaway agent does not. */
export const MAX_TEXT_FRAME_BYTES = 16 * 1024 * 1024;

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: ErrorMessage };

export const decodeAgentMessage = decoder<AgentMessage>(validateAgentMessage, 'agent message');
export const decodeClientMessage = decoder<ClientMessage>(validateClientMessage, 'cockpit message');
export const decodeCockpitPush = decoder<CockpitPush>(validateCockpitPush, 'cockpit push');
export const decodeCockpitSnapshot = decoder<CockpitSnapshot>(validateCockpitSnapshot, 'cockpit snapshot');
export const decodeShellMessage = decoder<ShellMessage>(validateShellMessage, 'browser-shell message');

/** Checks an already-parsed value (e.g. one that crossed Electron IPC by structured clone). */
export const checkThreatEvent = checker<ThreatEvent>(validateThreatEvent, 'threat event');
/** A log record (e.g. one the agent's store is about to serve, or one that crossed IPC). */
export const checkLogRecord = checker<LogRecord>(validateLogRecord, 'log record');
/** A signed auto-response policy (a --policy file, a persisted one); its signature is the agent's to verify. */
export const checkSignedPolicy = checker<SignedPolicy>(validateSignedPolicy, 'signed policy');
export const checkCockpitPush = checker<CockpitPush>(validateCockpitPush, 'cockpit push');
export const checkCockpitSnapshot = checker<CockpitSnapshot>(validateCockpitSnapshot, 'cockpit snapshot');
export const checkActRequest = checker<ActRequest>(validateActRequest, 'request to act');
export const checkActResult = checker<ActResult>(validateActResult, 'answer to a request to act');
export const checkJournalQuery = checker<JournalQueryParams>(validateJournalQuery, 'journal query');
export const checkJournalPage = checker<JournalPage>(validateJournalPage, 'page of the journal');
export const checkJournalHealth = checker<JournalHealth>(validateJournalHealth, 'journal status');
export const checkCockpitLogsQuery = checker<CockpitLogsQuery>(validateCockpitLogsQuery, 'log query');
export const checkCockpitLogsPage = checker<CockpitLogsPage>(validateCockpitLogsPage, 'page of logs');
export const checkCockpitPolicyStatus = checker<CockpitPolicyStatus>(validateCockpitPolicyStatus, 'policy status');
export const checkCockpitPolicyPush = checker<CockpitPolicyPush>(validateCockpitPolicyPush, 'policy push');
export const checkCockpitConsoleOpen = checker<CockpitConsoleOpen>(validateCockpitConsoleOpen, 'console open');
export const checkCockpitConsoleSession = checker<ConsoleSession>(validateCockpitConsoleSession, 'console session');
export const checkCockpitConsoleInput = checker<CockpitConsoleInput>(validateCockpitConsoleInput, 'console input');
export const checkCockpitConsoleResize = checker<CockpitConsoleResize>(validateCockpitConsoleResize, 'console resize');
export const checkCockpitConsoleAck = checker<CockpitConsoleAck>(validateCockpitConsoleAck, 'console acknowledgement');
export const checkCockpitConsoleClose = checker<CockpitConsoleClose>(validateCockpitConsoleClose, 'console close');
export const checkCockpitConsoleRecordings = checker<CockpitConsoleRecordings>(validateCockpitConsoleRecordings, 'list of recordings');
export const checkCockpitConsoleRecordingsQuery = checker<CockpitConsoleRecordingsQuery>(validateCockpitConsoleRecordingsQuery, 'recordings query');
export const checkCockpitConsoleRecording = checker<CockpitConsoleRecording>(validateCockpitConsoleRecording, 'console recording');
export const checkCockpitConsoleRecordingQuery = checker<CockpitConsoleRecordingQuery>(validateCockpitConsoleRecordingQuery, 'recording query');
export const checkCockpitOk = checker<CockpitOk>(validateCockpitOk, 'answer');
export const checkCockpitInspectRequest = checker<CockpitInspectRequest>(validateCockpitInspectRequest, 'inspection request');
export const checkCockpitInspection = checker<CockpitInspection>(validateCockpitInspection, 'inspection');
export const checkCockpitPolicyPushResult = checker<CockpitPolicyPushResult>(validateCockpitPolicyPushResult, 'answer to a policy push');
export const checkCockpitEvidenceStatus = checker<CockpitEvidenceStatus>(validateCockpitEvidenceStatus, 'evidence status');
export const checkCockpitEvidencePull = checker<CockpitEvidencePull>(validateCockpitEvidencePull, 'evidence pull');
export const checkCockpitAgentTrust = checker<CockpitAgentTrust>(validateCockpitAgentTrust, 'agent trust');
export const checkCockpitAgentRef = checker<CockpitAgentRef>(validateCockpitAgentRef, 'agent reference');
export const checkCockpitApprovalDecide = checker<CockpitApprovalDecide>(validateCockpitApprovalDecide, 'approval decision');
export const checkCockpitEvidenceSeal = checker<CockpitEvidenceSeal>(validateCockpitEvidenceSeal, 'package request');
export const checkCockpitEvidenceHandover = checker<CockpitEvidenceHandover>(validateCockpitEvidenceHandover, 'custody handover');
export const checkCockpitEvidencePackageRef = checker<CockpitEvidencePackageRef>(validateCockpitEvidencePackageRef, 'package reference');
export const checkCockpitEvidenceExport = checker<CockpitEvidenceExport>(validateCockpitEvidenceExport, 'export request');
export const checkCockpitEvidenceSanitise = checker<CockpitEvidenceSanitise>(validateCockpitEvidenceSanitise, 'sanitisation request');
export const checkCockpitEvidenceFolder = checker<CockpitEvidenceFolder>(validateCockpitEvidenceFolder, 'chosen folder');
export const checkCockpitEvidencePackage = checker<EvidencePackageSummary>(validateCockpitEvidencePackage, 'evidence package');
export const checkCockpitEvidenceVerify = checker<EvidenceVerifyOutcome>(validateCockpitEvidenceVerify, 'verification');
export const checkCockpitEvidenceExportOutcome = checker<EvidenceExportOutcome>(validateCockpitEvidenceExportOutcome, 'export');
export const checkSanitisationReport = checker<SanitisationReport>(validateSanitisationReport, 'sanitisation report');

/** Builds a decoder for JSON text: size limit, parse, schema; every failure said in one sentence. */
function decoder<T>(validate: ValidateFunction, what: string): (text: string, maxBytes?: number) => Decoded<T> {
  const check = checker<T>(validate, what);
  return (text, maxBytes = MAX_TEXT_FRAME_BYTES) => {
    if (typeof text !== 'string') return fail('bad_message', `${aOrAn(what)} must be a JSON text frame.`);
    // length is in UTF-16 units: at most 3 bytes of UTF-8 each, so this bound is safe and needs no encoding pass.
    if (text.length * 3 > maxBytes) {
      const bytes = byteLength(text);
      if (bytes > maxBytes) return fail('too_large', `${aOrAn(what)} of ${bytes} bytes is over the limit of ${maxBytes} bytes.`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return fail('bad_json', `${aOrAn(what)} is not valid JSON (${(err as Error).message.slice(0, 200)}).`);
    }
    return check(value);
  };
}

function checker<T>(validate: ValidateFunction, what: string): (value: unknown) => Decoded<T> {
  return (value) => {
    if (validate(value)) return { ok: true, value: value as T };
    const ref = refOf(value);
    return fail(codeFor(validate.errors), `${aOrAn(what)} does not follow cordon.v1: ${describe(validate.errors)}.`, ref);
  };
}

function fail(code: string, message: string, ref?: string): { ok: false; error: ErrorMessage } {
  const error: ErrorMessage = { type: 'error', code, message: message.slice(0, 2048) };
  if (ref !== undefined) error.ref = ref;
  return { ok: false, error };
}

function codeFor(errors: ErrorObject[] | null | undefined): string {
  const first = errors?.[0];
  // Only the message's own type is 'unknown'; an unknown type inside a known message is a bad message.
  if (first?.keyword === 'discriminator' && first.instancePath === '') return 'unknown_type';
  return 'bad_message';
}

/** The first schema error as a sentence fragment, with the offending path; never echoes the (hostile) value. */
export function describe(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'it was rejected';
  const where = e.instancePath ? `'${e.instancePath}'` : 'the message';
  switch (e.keyword) {
    case 'discriminator': {
      const tag = e.instancePath ? `'${e.instancePath}/type'` : 'its "type"';
      return e.params.error === 'mapping' ? `${tag} is not one this peer knows` : `${tag} must be a string`;
    }
    case 'required':
      return `${where} lacks the required field "${String(e.params.missingProperty)}"`;
    case 'additionalProperties':
      return `${where} has a field cordon.v1 does not define ("${String(e.params.additionalProperty).slice(0, 64)}")`;
    case 'enum':
      return `${where} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
    case 'const':
      return `${where} must be ${JSON.stringify(e.params.allowedValue)}`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

function refOf(value: unknown): string | undefined {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const id = (value as Record<string, unknown>).id;
    // Echo only an id that is itself a valid MessageId: printable ASCII, so no control or bidi characters.
    if (typeof id === 'string' && /^[\x21-\x7e]{1,128}$/.test(id)) return id;
  }
  return undefined;
}

/** 'An agent message', 'A cockpit push': the sentence a responder reads should not stumble. */
function aOrAn(what: string): string {
  return (/^[aeiou]/i.test(what) ? 'An ' : 'A ') + what;
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}
