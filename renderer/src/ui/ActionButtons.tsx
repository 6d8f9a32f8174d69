// A VM's action buttons, and the line that says what runs on it or how the last action ended. A button the VM's
// state or its agent's driver does not allow stays in its place, marked unavailable, and says why: in its tooltip,
// and to a screen reader through aria-describedby. It stays focusable (aria-disabled, not disabled), so a keyboard
// user can reach it and hear the reason too.
import { memo, useId } from 'react';
import type { ActionKind, ActionRecord } from '../../../protocol/index.ts';
import { isPlanUnderway, planProgress, type ActionPlan } from '../store/action-plans.ts';
import { utcClock } from '../text/format.ts';
import { visible } from '../text/visible.ts';
import { Visible } from './Visible.tsx';
import { useNow } from './use-now.ts';
import { actionShortcut } from './keymap.ts';
import { ACTION_LOOK, ACTION_ORDER, PHASE_LOOK } from './labels.ts';

/** The actions that open a dialog before they run (a reason, a mode). */
export const ASKS_FIRST: ReadonlySet<ActionKind> = new Set(['terminate', 'seize', 'isolate']);

export interface ActionButtonProps {
  kind: ActionKind;
  /** Why it cannot run now; undefined when it can. */
  reason: string | undefined;
  vmName: string;
  compact?: boolean;
  onAct: (kind: ActionKind) => void;
}

export function ActionButton({ kind, reason, vmName, compact = false, onAct }: ActionButtonProps) {
  const whyId = useId();
  const look = ACTION_LOOK[kind];
  const off = reason !== undefined;
  const more = ASKS_FIRST.has(kind) ? '…' : '';
  const title = off
    ? `${look.label}: not now. ${reason}`
    : `${look.label}${more} ${vmName} (${actionShortcut(kind)}): ${look.title}`;
  return (
    <>
      <button
        type="button"
        className={`act ${look.tone}${compact ? ' compact' : ''}`}
        data-testid={`act-${kind}`}
        data-action={kind}
        aria-disabled={off ? true : undefined}
        aria-describedby={off ? whyId : undefined}
        aria-keyshortcuts={actionShortcut(kind)}
        title={visible(title)}
        onClick={off ? undefined : () => onAct(kind)}
      >
        <span className="glyph" aria-hidden="true">{look.glyph}</span>
        {compact ? <span className="sr-only">{look.label}{more}</span> : <span className="word">{look.label}{more}</span>}
      </button>
      {off ? <span id={whyId} className="sr-only" data-testid="act-why"><Visible text={reason} /></span> : null}
    </>
  );
}

export interface ActionBarProps {
  vmName: string;
  reasons: Readonly<Record<ActionKind, string | undefined>>;
  compact?: boolean;
  onAct: (kind: ActionKind) => void;
}

/**
 * Every action, in ACTION_ORDER. Drawn again only when a button would change: a VM row is redrawn four times a
 * second while its threat counts move, and 200 rows of seven buttons each would cost the main thread ~40% at
 * 50,000 events/s (bench:events --profile). The reasons are compared by value (the row computes them afresh).
 */
export const ActionBar = memo(function ActionBar({ vmName, reasons, compact = false, onAct }: ActionBarProps) {
  return (
    <div className={compact ? 'act-bar compact' : 'act-bar'} role="group" aria-label={`Act on ${visible(vmName)}`} data-testid="act-bar">
      {ACTION_ORDER.map((kind) => <ActionButton key={kind} kind={kind} reason={reasons[kind]} vmName={vmName} compact={compact} onAct={onAct} />)}
    </div>
  );
}, (a, b) => a.vmName === b.vmName && a.compact === b.compact && a.onAct === b.onAct && ACTION_ORDER.every((k) => a.reasons[k] === b.reasons[k]));

/** Renews an isolation that has an expiry (one isolate in the same mode: renewalStep); loud once it is past. */
/** Renews an isolation with a new expiry, or gives one that has none an expiry (the agent renews it in place). */
export function RenewButton({ vmName, why, expiresAt, onRenew }: { vmName: string; why: string | undefined; expiresAt: string | undefined; onRenew: () => void }) {
  const whyId = useId();
  const now = useNow(1000);
  const expired = expiresAt !== undefined && Date.parse(expiresAt) <= now;
  const off = why !== undefined;
  return (
    <>
      <button
        type="button"
        className={`act act-hold${expired ? ' due' : ''}`}
        data-testid="act-renew"
        aria-disabled={off ? true : undefined}
        aria-describedby={off ? whyId : undefined}
        title={visible(off ? `Renew: not now. ${why}` : expiresAt === undefined ? `Give the isolation of ${vmName} an expiry, after which the cockpit asks to renew it` : `Renew the isolation of ${vmName} with a new expiry`)}
        onClick={off ? undefined : onRenew}
      >
        <span className="glyph" aria-hidden="true">↻</span> <span className="word">{expiresAt === undefined ? 'Set expiry…' : 'Renew…'}</span>
      </button>
      {off ? <span id={whyId} className="sr-only"><Visible text={why} /></span> : null}
    </>
  );
}

export interface ActivityProps {
  /** The kind the agent says runs on the VM (Vm.busy). */
  busy: string | undefined;
  /** The newest record still under way. */
  underway: ActionRecord | undefined;
  /** The newest record that ended. */
  ended: ActionRecord | undefined;
  plan: ActionPlan | undefined;
  /** Room for the progress message and the error sentence. */
  max: number;
}

/** What runs on the VM now (a spinner, the step, how far), else a plan that stopped, else how its last action ended. */
export function Activity({ busy, underway, ended, plan, max }: ActivityProps) {
  if (underway !== undefined || busy !== undefined || isPlanUnderway(plan)) {
    const kind = underway?.kind ?? busy ?? plan!.steps[plan!.at]!.kind;
    const progress = underway?.progress;
    const fraction = progress?.fraction;
    const phrase = underway === undefined
      ? (busy !== undefined ? 'runs' : 'being asked')
      : underway.phase === 'sending'
        ? (underway.approval !== undefined ? `waiting for a second person's approval (until ${underway.approval.expiresAt.slice(11, 16)})` : 'sent, not acknowledged yet')
        : 'runs';
    const steps = plan !== undefined && plan.steps.length > 1 && isPlanUnderway(plan) ? ` (${plan.label}, ${planProgress(plan)})` : '';
    return (
      <div className="activity busy" data-testid="vm-activity" data-activity="busy" data-kind={visible(kind)}>
        <span className="spinner" aria-hidden="true">◐</span>{' '}
        <span>
          {/* Vm.busy is the agent's word: text with its control characters shown, like every other. */}
          <strong><Visible text={kind} max={64} /></strong> {phrase}{fraction !== undefined ? ` · ${Math.round(fraction * 100)}%` : ''}{steps}
          {progress !== undefined ? <>: <Visible text={progress.message} max={max} /></> : null}
        </span>
        {fraction !== undefined ? <progress className="fraction" max={1} value={fraction} aria-label={`${visible(kind)}: how far`} /> : null}
      </div>
    );
  }
  // A plan stopped half way (or never asked) says so until dismissed: the records alone would look finished.
  if (plan !== undefined && plan.status === 'stopped') {
    return (
      <p className="activity bad" data-testid="vm-activity" data-activity="stopped">
        <span aria-hidden="true">⚠</span> {plan.label}: <Visible text={plan.message ?? 'stopped.'} max={max} />
      </p>
    );
  }
  if (ended !== undefined) {
    const look = PHASE_LOOK[ended.phase];
    const why = ended.phase === 'rejected' ? ended.rejection?.message : ended.phase === 'failed' ? ended.error?.message : undefined;
    return (
      <p className={`activity ${ended.phase === 'done' ? 'ok' : 'bad'}`} data-testid="vm-activity" data-activity={ended.phase} data-kind={ended.kind}>
        <span className={look.tone} aria-hidden="true">{look.glyph}</span> Last: <strong>{ended.kind}</strong> {look.label}
        {' '}<span className="muted">{utcClock(ended.finishedAt ?? ended.requestedAt)}</span>
        {why !== undefined ? <>: <Visible text={why} max={max} /></> : null}
      </p>
    );
  }
  return null;
}
