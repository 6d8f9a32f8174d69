// Compile-time check that the generated types (protocol/generated/types.ts) describe the examples the schemas
// accept. Not run, only type-checked by `npm run typecheck`: if a schema and its types drift apart, or an example
// stops matching its type, the build breaks here. (The examples are checked against the schemas at run time by
// test/protocol/examples.test.ts.)
import type hello from '../../protocol/examples/wire/hello.json';
import type inventory from '../../protocol/examples/wire/inventory.json';
import type subscribe from '../../protocol/examples/wire/subscribe.json';
import type subscribed from '../../protocol/examples/wire/subscribed.json';
import type gap from '../../protocol/examples/wire/gap.json';
import type eventC2 from '../../protocol/examples/wire/event-c2-beacon.json';
import type eventFile from '../../protocol/examples/wire/event-file-drop.json';
import type eventListener from '../../protocol/examples/wire/event-nc-listener.json';
import type eventEscape from '../../protocol/examples/wire/event-escape-attempt.json';
import type vm from '../../protocol/examples/wire/vm.json';
import type vmRemoved from '../../protocol/examples/wire/vm-removed.json';
import type error from '../../protocol/examples/wire/error.json';
import type errorTooLarge from '../../protocol/examples/wire/error-too-large.json';
import type actionIsolate from '../../protocol/examples/wire/action-isolate.json';
import type actionClone from '../../protocol/examples/wire/action-clone.json';
import type actionSeize from '../../protocol/examples/wire/action-seize.json';
import type actionAccepted from '../../protocol/examples/wire/action-accepted.json';
import type actionRejected from '../../protocol/examples/wire/action-rejected.json';
import type actionProgress from '../../protocol/examples/wire/action-progress.json';
import type actionResultIsolate from '../../protocol/examples/wire/action-result-isolate.json';
import type actionResultClone from '../../protocol/examples/wire/action-result-clone.json';
import type actionResultSeize from '../../protocol/examples/wire/action-result-seize.json';
import type actionResultFailed from '../../protocol/examples/wire/action-result-failed.json';
import type logsQuery from '../../protocol/examples/wire/logs-query.json';
import type logsResult from '../../protocol/examples/wire/logs-result.json';
import type errorBadQuery from '../../protocol/examples/wire/error-bad-query.json';
import type pushEvents from '../../protocol/examples/cockpit/push-events.json';
import type pushAgents from '../../protocol/examples/cockpit/push-agents.json';
import type pushVms from '../../protocol/examples/cockpit/push-vms.json';
import type pushAction from '../../protocol/examples/cockpit/push-action.json';
import type snapshot from '../../protocol/examples/cockpit/snapshot.json';
import type shellCall from '../../protocol/examples/cockpit/shell-call.json';
import type shellReply from '../../protocol/examples/cockpit/shell-reply.json';
import type shellReplyError from '../../protocol/examples/cockpit/shell-reply-error.json';
import type shellPush from '../../protocol/examples/cockpit/shell-push.json';
import type {
  ActionAcceptedMessage,
  ActionMessage,
  ActionProgressMessage,
  ActionPush,
  ActionRejectedMessage,
  ActionResultMessage,
  AgentMessage,
  AgentsPush,
  ClientMessage,
  CockpitPush,
  CockpitSnapshot,
  ErrorMessage,
  EventMessage,
  EventsPush,
  GapMessage,
  HelloMessage,
  InventoryMessage,
  LogsQueryMessage,
  LogsResultMessage,
  ShellCall,
  ShellMessage,
  ShellPush,
  ShellReply,
  SubscribeMessage,
  SubscribedMessage,
  VmMessage,
  VmRemovedMessage,
  VmsPush,
} from '../../protocol/index.ts';

// TypeScript widens the literals of an imported JSON file ("hello" becomes string), so an example is compared
// with its type with literal unions widened to their primitive: every required field must be there with the
// right kind of value, and (below) no field may be there that the type does not have.
type Widen<T> =
  T extends string ? string
    : T extends number ? number
      : T extends boolean ? boolean
        : T extends readonly (infer U)[] ? Widen<U>[]
          : T extends object ? { [K in keyof T]: Widen<T[K]> }
            : T;

/** Field names in the example J that the type T does not declare, at any depth. */
type Extra<J, T> =
  [keyof T] extends [never] ? never // {} and unknown (free-form fields) take anything
    : J extends readonly (infer JU)[] ? (T extends readonly (infer TU)[] ? Extra<JU, TU> : never)
      : J extends object
        ? Exclude<keyof J, keyof T> | { [K in keyof J & keyof T]: Extra<J[K], NonNullable<T[K]>> }[keyof J & keyof T]
        : never;

type Conforms<J, T> =
  [J] extends [Widen<T>]
    ? [Extra<J, T>] extends [never] ? true : { fieldsTheTypeLacks: Extra<J, T> }
    : { notAssignableTo: T };

type Assert<T extends true> = T;

export type ExamplesMatchTheirTypes = [
  Assert<Conforms<typeof hello, HelloMessage>>,
  Assert<Conforms<typeof inventory, InventoryMessage>>,
  Assert<Conforms<typeof subscribe, SubscribeMessage>>,
  Assert<Conforms<typeof subscribed, SubscribedMessage>>,
  Assert<Conforms<typeof gap, GapMessage>>,
  Assert<Conforms<typeof eventC2, EventMessage>>,
  Assert<Conforms<typeof eventFile, EventMessage>>,
  Assert<Conforms<typeof eventListener, EventMessage>>,
  Assert<Conforms<typeof eventEscape, EventMessage>>,
  Assert<Conforms<typeof vm, VmMessage>>,
  Assert<Conforms<typeof vmRemoved, VmRemovedMessage>>,
  Assert<Conforms<typeof error, ErrorMessage>>,
  Assert<Conforms<typeof errorTooLarge, ErrorMessage>>,
  Assert<Conforms<typeof actionIsolate, ActionMessage>>,
  Assert<Conforms<typeof actionClone, ActionMessage>>,
  Assert<Conforms<typeof actionSeize, ActionMessage>>,
  Assert<Conforms<typeof actionAccepted, ActionAcceptedMessage>>,
  Assert<Conforms<typeof actionRejected, ActionRejectedMessage>>,
  Assert<Conforms<typeof actionProgress, ActionProgressMessage>>,
  Assert<Conforms<typeof actionResultIsolate, ActionResultMessage>>,
  Assert<Conforms<typeof actionResultClone, ActionResultMessage>>,
  Assert<Conforms<typeof actionResultSeize, ActionResultMessage>>,
  Assert<Conforms<typeof actionResultFailed, ActionResultMessage>>,
  Assert<Conforms<typeof logsQuery, LogsQueryMessage>>,
  Assert<Conforms<typeof logsResult, LogsResultMessage>>,
  Assert<Conforms<typeof errorBadQuery, ErrorMessage>>,
  Assert<Conforms<typeof pushEvents, EventsPush>>,
  Assert<Conforms<typeof pushAgents, AgentsPush>>,
  Assert<Conforms<typeof pushVms, VmsPush>>,
  Assert<Conforms<typeof pushAction, ActionPush>>,
  Assert<Conforms<typeof snapshot, CockpitSnapshot>>,
  Assert<Conforms<typeof shellCall, ShellCall>>,
  Assert<Conforms<typeof shellReply, ShellReply>>,
  Assert<Conforms<typeof shellReplyError, ShellReply>>,
  Assert<Conforms<typeof shellPush, Omit<ShellPush, 'push'> & { push: VmsPush }>>,
];

// The checker itself must say no: a missing required field, a field the type lacks, a wrong kind of value.
type Not<T> = T extends true ? false : true;
export type TheCheckCatchesDrift = [
  Assert<Not<Conforms<Omit<typeof gap, 'reason'>, GapMessage>>>,
  Assert<Not<Conforms<typeof gap & { severity: string }, GapMessage>>>,
  Assert<Not<Conforms<Omit<typeof gap, 'from'> & { from: string }, GapMessage>>>,
  Assert<Not<Conforms<typeof eventC2 & { event: { score: number } }, EventMessage>>>,
  Assert<Not<Conforms<typeof actionResultSeize & { details: { signature: string } }, ActionResultMessage>>>,
  Assert<Not<Conforms<Omit<typeof actionIsolate, 'actor'>, ActionMessage>>>,
];

/** The unions hold exactly the documented message types: a new one must reach the README and the tests. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export type UnionsAreTheDocumentedOnes = [
  Assert<Same<AgentMessage['type'], 'hello' | 'subscribed' | 'event' | 'gap' | 'inventory' | 'vm' | 'vm.removed' | 'error'
    | 'action.accepted' | 'action.rejected' | 'action.progress' | 'action.result' | 'logs.result' | 'policy.accepted' | 'policy.current' | 'console.opened' | 'console.closed' | 'inspect.result'
    | 'evidence.captures' | 'evidence.sending' | 'evidence.sent' | 'evidence.sanitised' | 'approval.pending' | 'approval.decided'>>,
  Assert<Same<ClientMessage['type'], 'subscribe' | 'error' | 'action' | 'logs.query' | 'policy.set' | 'console.open' | 'console.resize' | 'console.pause' | 'console.resume' | 'console.close' | 'inspect'
    | 'evidence.list' | 'evidence.pull' | 'evidence.ack' | 'evidence.cancel' | 'evidence.sanitise' | 'approval.decide'>>,
  Assert<Same<CockpitPush['type'], 'events' | 'agents' | 'vms' | 'action' | 'console' | 'console.closed' | 'evidence'>>,
  Assert<Same<ShellMessage['type'], 'call' | 'reply' | 'push'>>,
];

/** Narrowing by `type` reaches each member: what every receiver's switch relies on. */
export function seqOf(m: AgentMessage): number | undefined {
  switch (m.type) {
    case 'event':
      return m.seq;
    case 'gap':
      return m.to;
    case 'hello':
    case 'subscribed':
      return m.latestSeq;
    case 'inventory':
    case 'vm':
    case 'vm.removed':
    case 'error':
    case 'action.accepted':
    case 'action.rejected':
    case 'action.progress':
    case 'action.result':
    case 'logs.result':
    case 'policy.accepted':
    case 'policy.current':
    case 'console.opened':
    case 'console.closed':
    case 'inspect.result':
    case 'evidence.captures':
    case 'evidence.sending':
    case 'evidence.sent':
    case 'evidence.sanitised':
    case 'approval.pending':
    case 'approval.decided':
      return undefined;
    default: {
      const never: never = m;
      return never;
    }
  }
}
