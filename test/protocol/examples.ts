// The protocol examples (protocol/examples/) and the two ways to check a message against cordon.v1: the
// decoders every process runs (generated standalone validators) and a fresh ajv compiled from the schema files.
// Shared by the protocol tests; a test that agrees with only one of the two paths proves little.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ValidateFunction } from 'ajv';
import {
  decodeAgentMessage,
  decodeClientMessage,
  decodeCockpitPush,
  decodeCockpitSnapshot,
  decodeShellMessage,
  type Decoded,
} from '../../protocol/index.ts';
import { createProtocolAjv, loadSchemas, SCHEMA_BASE } from '../../protocol/schema-loader.ts';

export const PROTOCOL_DIR = join(import.meta.dirname, '..', '..', 'protocol');
export const EXAMPLES_DIR = join(PROTOCOL_DIR, 'examples');

/** Where a message enters a process, and the root schema that guards that entry. */
export type Root = 'agent' | 'client' | 'push' | 'snapshot' | 'shell';

export const ROOT_SCHEMAS: Record<Root, string> = {
  agent: 'agent-message.schema.json',
  client: 'client-message.schema.json',
  push: 'cockpit/push.schema.json',
  snapshot: 'cockpit/snapshot.schema.json',
  shell: 'cockpit/shell-message.schema.json',
};

export const DECODERS: Record<Root, (text: string, maxBytes?: number) => Decoded<unknown>> = {
  agent: decodeAgentMessage,
  client: decodeClientMessage,
  push: decodeCockpitPush,
  snapshot: decodeCockpitSnapshot,
  shell: decodeShellMessage,
};

export const ROOTS = Object.keys(ROOT_SCHEMAS) as Root[];

/** Every example file, the most specific schema it follows, and every entry point that must accept it. */
export interface ExampleSpec {
  file: string;
  schema: string;
  roots: Root[];
}

export const EXAMPLES: readonly ExampleSpec[] = [
  { file: 'wire/hello.json', schema: 'wire/hello.schema.json', roots: ['agent'] },
  { file: 'wire/inventory.json', schema: 'wire/inventory.schema.json', roots: ['agent'] },
  { file: 'wire/subscribe.json', schema: 'wire/subscribe.schema.json', roots: ['client'] },
  { file: 'wire/approval-pending.json', schema: 'wire/approval-pending.schema.json', roots: ['agent'] },
  { file: 'wire/approval-decided.json', schema: 'wire/approval-decided.schema.json', roots: ['agent'] },
  { file: 'wire/approval-decide.json', schema: 'wire/approval-decide.schema.json', roots: ['client'] },
  { file: 'wire/subscribed.json', schema: 'wire/subscribed.schema.json', roots: ['agent'] },
  { file: 'wire/gap.json', schema: 'wire/gap.schema.json', roots: ['agent'] },
  { file: 'wire/event-c2-beacon.json', schema: 'wire/event.schema.json', roots: ['agent'] },
  { file: 'wire/event-file-drop.json', schema: 'wire/event.schema.json', roots: ['agent'] },
  { file: 'wire/event-nc-listener.json', schema: 'wire/event.schema.json', roots: ['agent'] },
  { file: 'wire/event-escape-attempt.json', schema: 'wire/event.schema.json', roots: ['agent'] },
  { file: 'wire/vm.json', schema: 'wire/vm.schema.json', roots: ['agent'] },
  { file: 'wire/vm-removed.json', schema: 'wire/vm-removed.schema.json', roots: ['agent'] },
  { file: 'wire/error.json', schema: 'wire/error.schema.json', roots: ['agent', 'client'] },
  { file: 'wire/error-too-large.json', schema: 'wire/error.schema.json', roots: ['agent', 'client'] },
  { file: 'wire/action-isolate.json', schema: 'wire/action.schema.json', roots: ['client'] },
  { file: 'wire/action-clone.json', schema: 'wire/action.schema.json', roots: ['client'] },
  { file: 'wire/action-seize.json', schema: 'wire/action.schema.json', roots: ['client'] },
  { file: 'wire/action-accepted.json', schema: 'wire/action-accepted.schema.json', roots: ['agent'] },
  { file: 'wire/action-rejected.json', schema: 'wire/action-rejected.schema.json', roots: ['agent'] },
  { file: 'wire/action-progress.json', schema: 'wire/action-progress.schema.json', roots: ['agent'] },
  { file: 'wire/action-result-isolate.json', schema: 'wire/action-result.schema.json', roots: ['agent'] },
  { file: 'wire/action-result-clone.json', schema: 'wire/action-result.schema.json', roots: ['agent'] },
  { file: 'wire/action-result-seize.json', schema: 'wire/action-result.schema.json', roots: ['agent'] },
  { file: 'wire/action-result-failed.json', schema: 'wire/action-result.schema.json', roots: ['agent'] },
  { file: 'wire/logs-query.json', schema: 'wire/logs-query.schema.json', roots: ['client'] },
  { file: 'wire/logs-result.json', schema: 'wire/logs-result.schema.json', roots: ['agent'] },
  { file: 'wire/policy-set.json', schema: 'wire/policy-set.schema.json', roots: ['client'] },
  { file: 'wire/policy-accepted.json', schema: 'wire/policy-accepted.schema.json', roots: ['agent'] },
  { file: 'wire/policy-current.json', schema: 'wire/policy-current.schema.json', roots: ['agent'] },
  { file: 'wire/event-policy-terminate.json', schema: 'wire/event.schema.json', roots: ['agent'] },
  { file: 'wire/console-open.json', schema: 'wire/console-open.schema.json', roots: ['client'] },
  { file: 'wire/console-opened.json', schema: 'wire/console-opened.schema.json', roots: ['agent'] },
  { file: 'wire/console-resize.json', schema: 'wire/console-resize.schema.json', roots: ['client'] },
  { file: 'wire/console-pause.json', schema: 'wire/console-pause.schema.json', roots: ['client'] },
  { file: 'wire/console-resume.json', schema: 'wire/console-resume.schema.json', roots: ['client'] },
  { file: 'wire/console-close.json', schema: 'wire/console-close.schema.json', roots: ['client'] },
  { file: 'wire/console-closed.json', schema: 'wire/console-closed.schema.json', roots: ['agent'] },
  { file: 'wire/inspect.json', schema: 'wire/inspect.schema.json', roots: ['client'] },
  { file: 'wire/inspect-result.json', schema: 'wire/inspect-result.schema.json', roots: ['agent'] },
  { file: 'wire/evidence-list.json', schema: 'wire/evidence-list.schema.json', roots: ['client'] },
  { file: 'wire/evidence-captures.json', schema: 'wire/evidence-captures.schema.json', roots: ['agent'] },
  { file: 'wire/evidence-pull.json', schema: 'wire/evidence-pull.schema.json', roots: ['client'] },
  { file: 'wire/evidence-sending.json', schema: 'wire/evidence-sending.schema.json', roots: ['agent'] },
  { file: 'wire/evidence-ack.json', schema: 'wire/evidence-ack.schema.json', roots: ['client'] },
  { file: 'wire/evidence-sent.json', schema: 'wire/evidence-sent.schema.json', roots: ['agent'] },
  { file: 'wire/evidence-cancel.json', schema: 'wire/evidence-cancel.schema.json', roots: ['client'] },
  { file: 'wire/evidence-sanitise.json', schema: 'wire/evidence-sanitise.schema.json', roots: ['client'] },
  { file: 'wire/evidence-sanitised.json', schema: 'wire/evidence-sanitised.schema.json', roots: ['agent'] },
  { file: 'wire/error-bad-query.json', schema: 'wire/error.schema.json', roots: ['agent'] },
  { file: 'cockpit/push-events.json', schema: 'cockpit/push.schema.json', roots: ['push'] },
  { file: 'cockpit/push-agents.json', schema: 'cockpit/push.schema.json', roots: ['push'] },
  { file: 'cockpit/push-vms.json', schema: 'cockpit/push.schema.json', roots: ['push'] },
  { file: 'cockpit/push-action.json', schema: 'cockpit/push.schema.json', roots: ['push'] },
  { file: 'cockpit/push-console.json', schema: 'cockpit/push.schema.json', roots: ['push'] },
  { file: 'cockpit/push-console-closed.json', schema: 'cockpit/push.schema.json', roots: ['push'] },
  { file: 'cockpit/push-evidence.json', schema: 'cockpit/push.schema.json', roots: ['push'] },
  { file: 'cockpit/snapshot.json', schema: 'cockpit/snapshot.schema.json', roots: ['snapshot'] },
  { file: 'cockpit/shell-call.json', schema: 'cockpit/shell-message.schema.json', roots: ['shell'] },
  { file: 'cockpit/shell-reply.json', schema: 'cockpit/shell-message.schema.json', roots: ['shell'] },
  { file: 'cockpit/shell-reply-error.json', schema: 'cockpit/shell-message.schema.json', roots: ['shell'] },
  { file: 'cockpit/shell-push.json', schema: 'cockpit/shell-message.schema.json', roots: ['shell'] },
];

export function exampleText(file: string): string {
  return readFileSync(join(EXAMPLES_DIR, file), 'utf8');
}

export function example<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(exampleText(file)) as T;
}

/** Every JSON file under protocol/examples/, relative to it, with forward slashes. */
export function exampleFiles(dir = EXAMPLES_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return exampleFiles(p);
    return e.name.endsWith('.json') ? [relative(EXAMPLES_DIR, p).split('\\').join('/')] : [];
  }).sort();
}

let ajv: ReturnType<typeof createProtocolAjv> | undefined;

/** A validator compiled by a fresh ajv from the schema files on disk (not the generated code). */
export function freshValidator(schema: string): ValidateFunction {
  ajv ??= createProtocolAjv(loadSchemas());
  const v = ajv.getSchema(SCHEMA_BASE + schema);
  if (!v) throw new Error(`No schema with $id ${SCHEMA_BASE + schema}`);
  return v;
}

export function freshRoot(root: Root): ValidateFunction {
  return freshValidator(ROOT_SCHEMAS[root]);
}

/** A deep copy that keeps own '__proto__' keys as data (structuredClone would too, but this says so). */
export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
