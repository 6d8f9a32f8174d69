// Loads the cordon.v1 JSON Schema files and builds the ajv instance that checks them. Used by the generator
// (scripts/gen-protocol.ts) and by the protocol tests; the running processes use the generated validators.
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

export const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), 'schema');
export const SCHEMA_BASE = 'https://cordon.invalid/schema/v1/';

/** The validators the generator exports, by name, and the schema each one checks. */
export const ROOT_VALIDATORS = {
  validateAgentMessage: SCHEMA_BASE + 'agent-message.schema.json',
  validateClientMessage: SCHEMA_BASE + 'client-message.schema.json',
  validateThreatEvent: SCHEMA_BASE + 'threat-event.schema.json',
  validateLogRecord: SCHEMA_BASE + 'log-record.schema.json',
  validateSignedPolicy: SCHEMA_BASE + 'policy.schema.json',
  validateVm: SCHEMA_BASE + 'vm.schema.json',
  validateCockpitPush: SCHEMA_BASE + 'cockpit/push.schema.json',
  validateCockpitSnapshot: SCHEMA_BASE + 'cockpit/snapshot.schema.json',
  validateShellMessage: SCHEMA_BASE + 'cockpit/shell-message.schema.json',
  validateActRequest: SCHEMA_BASE + 'cockpit/act-request.schema.json',
  validateActResult: SCHEMA_BASE + 'cockpit/act-result.schema.json',
  validateJournalQuery: SCHEMA_BASE + 'cockpit/journal-query.schema.json',
  validateJournalPage: SCHEMA_BASE + 'cockpit/journal-page.schema.json',
  validateJournalHealth: SCHEMA_BASE + 'cockpit/journal-health.schema.json',
  validateCockpitLogsQuery: SCHEMA_BASE + 'cockpit/logs-query.schema.json',
  validateCockpitLogsPage: SCHEMA_BASE + 'cockpit/logs-page.schema.json',
  validateCockpitPolicyStatus: SCHEMA_BASE + 'cockpit/policy-status.schema.json',
  validateCockpitPolicyPush: SCHEMA_BASE + 'cockpit/policy-push.schema.json',
  validateCockpitPolicyPushResult: SCHEMA_BASE + 'cockpit/policy-push-result.schema.json',
  validateCockpitConsoleOpen: SCHEMA_BASE + 'cockpit/console-open.schema.json',
  validateCockpitConsoleSession: SCHEMA_BASE + 'cockpit/console-session.schema.json',
  validateCockpitConsoleInput: SCHEMA_BASE + 'cockpit/console-input.schema.json',
  validateCockpitConsoleResize: SCHEMA_BASE + 'cockpit/console-resize.schema.json',
  validateCockpitConsoleAck: SCHEMA_BASE + 'cockpit/console-ack.schema.json',
  validateCockpitConsoleClose: SCHEMA_BASE + 'cockpit/console-close.schema.json',
  validateCockpitConsoleRecordings: SCHEMA_BASE + 'cockpit/console-recordings.schema.json',
  validateCockpitConsoleRecordingsQuery: SCHEMA_BASE + 'cockpit/console-recordings-query.schema.json',
  validateCockpitConsoleRecording: SCHEMA_BASE + 'cockpit/console-recording.schema.json',
  validateCockpitConsoleRecordingQuery: SCHEMA_BASE + 'cockpit/console-recording-query.schema.json',
  validateCockpitOk: SCHEMA_BASE + 'cockpit/empty-result.schema.json',
  validateCockpitInspectRequest: SCHEMA_BASE + 'cockpit/inspect-request.schema.json',
  validateCockpitInspection: SCHEMA_BASE + 'cockpit/inspect-page.schema.json',
  validateCockpitEvidenceStatus: SCHEMA_BASE + 'cockpit/evidence-status.schema.json',
  validateCockpitEvidencePull: SCHEMA_BASE + 'cockpit/evidence-pull.schema.json',
  validateCockpitAgentTrust: SCHEMA_BASE + 'cockpit/agent-trust.schema.json',
  validateCockpitAgentRef: SCHEMA_BASE + 'cockpit/agent-ref.schema.json',
  validateCockpitApprovalDecide: SCHEMA_BASE + 'cockpit/approval-decide.schema.json',
  validateCockpitEvidenceSeal: SCHEMA_BASE + 'cockpit/evidence-seal.schema.json',
  validateCockpitEvidenceHandover: SCHEMA_BASE + 'cockpit/evidence-handover.schema.json',
  validateCockpitEvidencePackageRef: SCHEMA_BASE + 'cockpit/evidence-package-ref.schema.json',
  validateCockpitEvidenceExport: SCHEMA_BASE + 'cockpit/evidence-export.schema.json',
  validateCockpitEvidenceSanitise: SCHEMA_BASE + 'cockpit/evidence-sanitise.schema.json',
  validateCockpitEvidenceFolder: SCHEMA_BASE + 'cockpit/evidence-folder.schema.json',
  validateCockpitEvidencePackage: SCHEMA_BASE + 'cockpit/evidence-defs.schema.json#/$defs/PackageSummary',
  validateCockpitEvidenceVerify: SCHEMA_BASE + 'cockpit/evidence-defs.schema.json#/$defs/VerifyOutcome',
  validateCockpitEvidenceExportOutcome: SCHEMA_BASE + 'cockpit/evidence-defs.schema.json#/$defs/ExportOutcome',
  validateSanitisationReport: SCHEMA_BASE + 'evidence.schema.json#/$defs/SanitisationReport',
} as const;

export function loadSchemas(dir = SCHEMA_DIR): object[] {
  const out: object[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...loadSchemas(p));
    else if (entry.name.endsWith('.schema.json')) out.push(JSON.parse(readFileSync(p, 'utf8')) as object);
  }
  return out;
}

export function createProtocolAjv(schemas: object[], opts: { standalone?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    allErrors: false,
    discriminator: true,
    // Formats are annotations in JSON Schema 2020-12; the schemas carry a pattern for every format they name,
    // so any validator in any language checks the same thing.
    validateFormats: false,
    // Numbers beyond 2^53 and similar oddities are rejected by the schemas themselves.
    ...(opts.standalone ? { code: { source: true, esm: true, lines: false } } : {}),
  });
  for (const s of schemas) ajv.addSchema(s);
  return ajv;
}
