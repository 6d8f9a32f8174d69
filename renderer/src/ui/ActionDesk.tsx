// Where a responder's click or key becomes an action: one click acts; terminate and seize ask once for a reason
// (the journal and the chain of custody record it), isolate for cut or honeypot and an expiry, and a renewal for
// the new expiry. Owns the one dialog (modal: the rest of the page is inert while it is open; focus starts in it
// and goes back where it was), and a live line that says why a key did nothing.
import { createContext, useCallback, useContext, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { ActionKind, Vm } from '../../../protocol/index.ts';
import { actTarget, lastEnded, renewalStep, whyNot } from '../store/action-rules.ts';
import type { PlanStep } from '../store/action-plans.ts';
import type { VmRef } from '../store/cockpit.ts';
import type { VmTrace } from '../store/volatile.ts';
import { formatCount, formatDuration, utcClock, utcTimestamp } from '../text/format.ts';
import { cellText } from '../text/visible.ts';
import { ASKS_FIRST } from './ActionButtons.tsx';
import { Visible } from './Visible.tsx';
import { useActions, useCockpit, useCockpitStore } from './cockpit-context.tsx';
import { ACTION_LOOK } from './labels.ts';

export interface ActionDeskApi {
  /** Asks `kind` of the VM: at once, or through its dialog. Says why not when it cannot run now. */
  request(kind: ActionKind, ref: VmRef): void;
  /** Opens the dialog that renews the VM's isolation with a new expiry. */
  renew(ref: VmRef): void;
  /** Says something in the live line (read by screen readers, shown for a few seconds). */
  announce(text: string): void;
}

type DialogKind = 'terminate' | 'seize' | 'isolate' | 'renew';
interface OpenDialog {
  kind: DialogKind;
  ref: VmRef;
}

const DeskContext = createContext<ActionDeskApi | null>(null);
const DialogOpenContext = createContext(false);

export function useActionDesk(): ActionDeskApi {
  const desk = useContext(DeskContext);
  if (desk === null) throw new Error('An action button was rendered outside <ActionDesk>.');
  return desk;
}

/** Whether a dialog is open: the page behind it is then inert. */
export function useDialogOpen(): boolean {
  return useContext(DialogOpenContext);
}

const NOTICE_MS = 8000;

export function ActionDesk({ children }: { children: ReactNode }) {
  const store = useCockpitStore();
  const [open, setOpen] = useState<OpenDialog | null>(null);
  const [notice, setNotice] = useState('');
  const returnTo = useRef<HTMLElement | null>(null);

  useEffect(() => {
    if (notice === '') return;
    const t = setTimeout(() => setNotice(''), NOTICE_MS);
    return () => clearTimeout(t);
  }, [notice]);

  // Focus goes back once the dialog is gone and the page is no longer inert.
  useEffect(() => {
    if (open !== null) return;
    const el = returnTo.current;
    returnTo.current = null;
    if (el !== null && el.isConnected) el.focus({ preventScroll: true });
  }, [open]);

  const desk = useMemo<ActionDeskApi>(() => {
    const openDialog = (kind: DialogKind, ref: VmRef) => {
      returnTo.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      setOpen({ kind, ref });
    };
    return {
      request(kind, ref) {
        const s = store.getState();
        const target = actTarget(s, ref.agentId, ref.vmId);
        const name = target.vm?.name ?? ref.vmId;
        const why = whyNot(kind, target);
        if (why !== undefined) {
          setNotice(`${ACTION_LOOK[kind].label} ${cellText(name, 64)}: not now. ${cellText(why, 400)}`);
          return;
        }
        if (ASKS_FIRST.has(kind)) {
          openDialog(kind as DialogKind, ref);
          return;
        }
        if (!s.actions.act(ref.agentId, ref.vmId, ACTION_LOOK[kind].label, [{ kind, params: {}, reason: '' }])) {
          setNotice(`${ACTION_LOOK[kind].label} ${cellText(name, 64)}: something you asked of it is still under way.`);
        }
      },
      renew: (ref) => openDialog('renew', ref),
      announce: setNotice,
    };
  }, [store]);

  const close = useCallback(() => setOpen(null), []);

  return (
    <DeskContext.Provider value={desk}>
      <DialogOpenContext.Provider value={open !== null}>
        {children}
        <p className="notice" role="status" aria-live="polite" data-testid="action-notice">{notice}</p>
        {open !== null ? <ActionDialog key={`${open.kind}:${open.ref.agentId}/${open.ref.vmId}`} open={open} onClose={close} announce={setNotice} /> : null}
      </DialogOpenContext.Provider>
    </DeskContext.Provider>
  );
}

// ── the dialog ─────────────────────────────────────────────────────────────────────────────────────────────

/** Expiries offered for an isolation, in minutes ('' for none). */
const EXPIRIES: readonly { value: string; label: string }[] = [
  { value: '', label: 'No expiry' },
  { value: '15', label: 'in 15 minutes' },
  { value: '60', label: 'in 1 hour' },
  { value: '240', label: 'in 4 hours' },
  { value: '480', label: 'in 8 hours' },
  { value: '1440', label: 'in 24 hours' },
];

function expiryFrom(minutes: string): string | undefined {
  return minutes === '' ? undefined : new Date(Date.now() + Number(minutes) * 60_000).toISOString();
}

interface DialogProps {
  open: OpenDialog;
  onClose: () => void;
  announce: (text: string) => void;
}

function ActionDialog({ open, onClose, announce }: DialogProps) {
  const { agentId, vmId } = open.ref;
  const actions = useActions();
  const store = useCockpitStore();
  const vm = useCockpit((s) => s.inventories.get(agentId)?.find((v) => v.id === vmId));
  const titleId = useId();
  const descId = useId();
  const errorId = useId();
  const [reason, setReason] = useState('');
  const [caseId, setCaseId] = useState('');
  const [mode, setMode] = useState<'cut' | 'honeypot'>(vm?.isolation?.mode ?? 'cut');
  const [expiry, setExpiry] = useState(open.kind === 'renew' ? '60' : '');
  const [error, setError] = useState<string | null>(null);
  const reasonRef = useRef<HTMLInputElement>(null);
  const name = vm?.name ?? vmId;
  const needsReason = open.kind === 'terminate' || open.kind === 'seize';

  /** Starts the plan and closes, or says why not and stays open; `exact`: checked with the first step's own params. */
  const run = (label: string, steps: readonly PlanStep[], exact = false) => {
    const first = steps[0]!;
    const why = whyNot(first.kind, actTarget(store.getState(), agentId, vmId), exact ? first.params : undefined);
    if (why !== undefined) {
      setError(why);
      return;
    }
    if (!actions.act(agentId, vmId, label, steps)) {
      setError(`Something you asked of ${name} is still under way.`);
      return;
    }
    announce(`${label} asked of ${cellText(name, 64)}.`);
    onClose();
  };

  const trimmedReason = reason.trim();
  const wantReason = (): boolean => {
    if (!needsReason || trimmedReason !== '') return true;
    setError('Give a reason: it is recorded with the action, in the journal and the chain of custody.');
    reasonRef.current?.focus();
    return false;
  };

  const confirm = () => {
    if (vm === undefined) {
      setError(`${vmId} is no longer in the inventory of ${agentId}.`);
      return;
    }
    switch (open.kind) {
      case 'terminate':
        if (wantReason()) run(ACTION_LOOK.terminate.label, [{ kind: 'terminate', params: {}, reason: trimmedReason }]);
        return;
      case 'seize': {
        if (!wantReason()) return;
        const params = caseId.trim() === '' ? {} : { caseId: caseId.trim() };
        run(ACTION_LOOK.seize.label, [{ kind: 'seize', params, reason: trimmedReason }]);
        return;
      }
      case 'isolate': {
        const expiresAt = expiryFrom(expiry);
        run(ACTION_LOOK.isolate.label, [{ kind: 'isolate', params: expiresAt === undefined ? { mode } : { mode, expiresAt }, reason: trimmedReason }]);
        return;
      }
      case 'renew': {
        const step = renewalStep(vm, expiryFrom(expiry), trimmedReason);
        if (typeof step === 'string') {
          setError(step);
          return;
        }
        run('Renew the isolation', [step], true);
        return;
      }
    }
  };

  // The evidence-keeping way out of a terminate: seize (which freezes first), then terminate once it is done.
  const seizeFirstWhy = open.kind === 'terminate' ? whyNotSeizeFirst(vm, store, agentId, vmId) : undefined;
  const seizeFirst = () => {
    if (open.kind !== 'terminate' || seizeFirstWhy !== undefined || !wantReason()) return;
    run('Seize first, then terminate', [
      { kind: 'seize', params: {}, reason: trimmedReason },
      { kind: 'terminate', params: {}, reason: trimmedReason },
    ]);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      onClose();
      return;
    }
    if (e.key === 'Enter' && !e.nativeEvent.isComposing) {
      const t = e.target as HTMLElement;
      if (t instanceof HTMLButtonElement || t instanceof HTMLTextAreaElement || t.tagName === 'SUMMARY') return;
      e.preventDefault();
      e.stopPropagation();
      if (e.shiftKey) seizeFirst();
      else confirm();
      return;
    }
    if (e.key === 'Tab') trapFocus(e);
  };

  const look = ACTION_LOOK[open.kind === 'renew' ? 'isolate' : open.kind];
  const verb = open.kind === 'renew' ? 'Renew the isolation of' : look.label;
  return (
    <div className="dialog-backdrop">
      <div
        className={`dialog dialog-${open.kind}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={descId}
        data-testid="action-dialog"
        data-kind={open.kind}
        onKeyDown={onKeyDown}
      >
        <h2 id={titleId} className="dialog-title">
          <span aria-hidden="true">{look.glyph}</span> {verb} <Visible text={name} max={80} />?
        </h2>
        <Description kind={open.kind} vm={vm} id={descId} />

        {open.kind === 'terminate' ? <WhatIsLost agentId={agentId} vmId={vmId} vm={vm} /> : null}
        {open.kind === 'isolate' ? <ModeChoice mode={mode} onMode={setMode} autoFocus /> : null}
        {open.kind === 'isolate' || open.kind === 'renew' ? (
          <label className="dialog-field">
            <span>{open.kind === 'renew' ? 'New expiry' : 'Ask me to renew it'}</span>
            <select value={expiry} onChange={(e) => setExpiry(e.currentTarget.value)} data-testid="action-expiry" autoFocus={open.kind === 'renew'}>
              {EXPIRIES.map((x) => <option key={x.value} value={x.value}>{x.label}</option>)}
            </select>
          </label>
        ) : null}
        {open.kind === 'renew' && vm !== undefined ? <RenewalNote vm={vm} /> : null}

        <label className="dialog-field">
          <span>Reason{needsReason ? ' (required: recorded with the action)' : ' (optional)'}</span>
          <input
            ref={reasonRef}
            type="text"
            value={reason}
            maxLength={2048}
            autoFocus={needsReason}
            spellCheck={false}
            autoComplete="off"
            aria-required={needsReason}
            aria-invalid={error !== null && needsReason && trimmedReason === '' ? true : undefined}
            aria-errormessage={error !== null ? errorId : undefined}
            data-testid="action-reason"
            onChange={(e) => {
              setReason(e.currentTarget.value);
              setError(null);
            }}
          />
        </label>
        {open.kind === 'seize' ? (
          <label className="dialog-field">
            <span>Case id (optional)</span>
            <input type="text" value={caseId} maxLength={128} spellCheck={false} autoComplete="off" data-testid="action-case" onChange={(e) => setCaseId(e.currentTarget.value)} />
          </label>
        ) : null}
        {error !== null ? <p id={errorId} className="dialog-error" role="alert" data-testid="action-error"><Visible text={error} max={600} /></p> : null}

        <div className="dialog-buttons">
          {open.kind === 'terminate' ? (
            <SeizeFirstButton why={seizeFirstWhy} onClick={seizeFirst} />
          ) : null}
          <button type="button" className={`confirm ${open.kind === 'terminate' ? 'danger' : ''}`} data-testid="action-confirm" onClick={confirm}>
            {open.kind === 'renew' ? 'Renew' : look.label} <kbd>Enter</kbd>
          </button>
          <button type="button" className="quiet" data-testid="action-cancel" onClick={onClose}>
            Cancel <kbd>Esc</kbd>
          </button>
        </div>
      </div>
    </div>
  );
}

function whyNotSeizeFirst(vm: Vm | undefined, store: ReturnType<typeof useCockpitStore>, agentId: string, vmId: string): string | undefined {
  if (vm === undefined) return undefined;
  return whyNot('seize', actTarget(store.getState(), agentId, vmId));
}

function SeizeFirstButton({ why, onClick }: { why: string | undefined; onClick: () => void }) {
  const whyId = useId();
  return (
    <>
      <button
        type="button"
        className="confirm keep"
        data-testid="action-seize-first"
        aria-disabled={why !== undefined ? true : undefined}
        aria-describedby={why !== undefined ? whyId : undefined}
        aria-keyshortcuts="Shift+Enter"
        title={why !== undefined ? cellText(`Not now. ${why}`, 600) : 'Seize it first (it freezes, then memory, disk, configuration and logs are captured and hashed), then terminate it once the seizure is done'}
        onClick={why !== undefined ? undefined : onClick}
      >
        Freeze and seize first, then terminate <kbd>Shift+Enter</kbd>
      </button>
      {why !== undefined ? <span id={whyId} className="sr-only"><Visible text={why} /></span> : null}
    </>
  );
}

function Description({ kind, vm, id }: { kind: DialogKind; vm: Vm | undefined; id: string }) {
  switch (kind) {
    case 'terminate':
      return (
        <p id={id} className="dialog-text">
          It stops for good: nothing more runs in it, and what is only in its memory is lost. This cannot be undone.
          {vm?.state === 'seized' ? ' It was seized: that capture holds its memory as it was then.' : null}
        </p>
      );
    case 'seize':
      return (
        <p id={id} className="dialog-text">
          It is frozen first, then its memory, disk, configuration and logs are captured, every file hashed (SHA-256). It
          stays frozen and seized: resume or terminate it afterwards.
        </p>
      );
    case 'isolate':
      return (
        <p id={id} className="dialog-text">
          {vm === undefined || vm.state === 'running'
            ? 'It keeps running, cut off from its network: what the attacker does next is still seen.'
            : `It stays ${vm.state}, and is cut off from its network (resumed, it stays cut off).`}
        </p>
      );
    case 'renew':
      return (
        <p id={id} className="dialog-text">
          {vm?.isolation !== undefined
            ? <>Isolated ({vm.isolation.mode}) since {utcTimestamp(Date.parse(vm.isolation.since))}{vm.isolation.expiresAt !== undefined ? `, to renew at ${utcTimestamp(Date.parse(vm.isolation.expiresAt))}` : ''}. </>
            : null}
          The agent renews it in place, with the new expiry: isolated since the same time, and checked again.
        </p>
      );
  }
}

function ModeChoice({ mode, onMode, autoFocus }: { mode: 'cut' | 'honeypot'; onMode: (m: 'cut' | 'honeypot') => void; autoFocus: boolean }) {
  const name = useId();
  return (
    <fieldset className="dialog-field modes" data-testid="action-mode">
      <legend>How</legend>
      <label>
        <input type="radio" name={name} value="cut" checked={mode === 'cut'} autoFocus={autoFocus && mode === 'cut'} onChange={() => onMode('cut')} data-testid="mode-cut" />
        <strong>Cut</strong>: take its links down; nothing it sends reaches the network.
      </label>
      <label>
        <input type="radio" name={name} value="honeypot" checked={mode === 'honeypot'} autoFocus={autoFocus && mode === 'honeypot'} onChange={() => onMode('honeypot')} data-testid="mode-honeypot" />
        <strong>Honeypot</strong>: move it to the quarantine network; the guest sees no change, the attacker's session goes on there, recorded.
      </label>
    </fieldset>
  );
}

function RenewalNote({ vm }: { vm: Vm }) {
  const step = renewalStep(vm, undefined, '');
  if (typeof step === 'string') return <p className="dialog-error" role="alert"><Visible text={step} /></p>;
  return (
    <p className="hint-inline" data-testid="renewal-in-place">
      One action: nothing is done to its network, so it is never back on it, not even for a moment.
    </p>
  );
}

// ── terminate: what is lost (the order of volatility) ─────────────────────────────────────────────────────

function WhatIsLost({ agentId, vmId, vm }: { agentId: string; vmId: string; vm: Vm | undefined }) {
  const actions = useActions();
  useEffect(() => actions.traceVm(agentId, vmId), [actions, agentId, vmId]);
  const trace = useCockpit((s) => (s.vmTrace !== null && s.vmTrace.agentId === agentId && s.vmTrace.vmId === vmId ? s.vmTrace : null));
  const seized = useCockpit((s) => {
    const last = lastEnded(s.actionsByVm.get(`${agentId}/${vmId}`) ?? []);
    return last?.kind === 'seize' && last.phase === 'done';
  });
  return (
    <section className="dialog-field lost" aria-label="What terminating loses" data-testid="what-is-lost">
      <span>What is lost (most volatile first)</span>
      <ul>
        <li data-testid="lost-memory">
          <strong>Memory</strong>: {vm?.memoryMiB !== undefined ? `${formatCount(vm.memoryMiB)} MiB` : 'its size was not reported'}
          {' '}(running processes, keys, decrypted data, network state){seized ? ', captured by its last seizure' : ''}
        </li>
        {trace === null ? <li className="muted">Looking through the events held…</li> : <Traced trace={trace} />}
      </ul>
      {trace !== null ? <p className="hint-inline" data-testid="lost-window">{windowSentence(trace)}</p> : null}
    </section>
  );
}

function Traced({ trace }: { trace: VmTrace }) {
  return (
    <>
      <li data-testid="lost-connections">
        <strong>Connections</strong>: {trace.connections.length === 0 ? 'none seen' : `${formatCount(trace.connections.length + trace.connectionsMore)} seen`}
        {trace.connections.length > 0 ? (
          <ul className="traced mono">
            {trace.connections.map((c) => (
              <li key={c.summary}>
                <Visible text={c.summary} max={120} />{c.state !== undefined ? <> <span className="muted">{cellText(c.state, 24)}</span></> : null}
                {c.process !== undefined ? <> · <Visible text={c.process} max={80} /></> : null} <span className="muted">last {utcClock(c.lastAt)}</span>
              </li>
            ))}
            {trace.connectionsMore > 0 ? <li className="muted">and {formatCount(trace.connectionsMore)} more</li> : null}
          </ul>
        ) : null}
      </li>
      <li data-testid="lost-processes">
        <strong>Processes</strong>: {trace.processes.length === 0 ? 'none seen' : `${formatCount(trace.processes.length + trace.processesMore)} seen`}
        {trace.processes.length > 0 ? (
          <ul className="traced mono">
            {trace.processes.map((p) => (
              <li key={`${p.pid}:${p.name}`}>
                <Visible text={p.name} max={64} /> [{p.pid}]{p.user !== undefined ? <> <span className="muted">as <Visible text={p.user} max={32} /></span></> : null}
                {' '}<span className="muted">last {utcClock(p.lastAt)}</span>
              </li>
            ))}
            {trace.processesMore > 0 ? <li className="muted">and {formatCount(trace.processesMore)} more</li> : null}
          </ul>
        ) : null}
      </li>
    </>
  );
}

/** How far back the trace reaches, said plainly: it is what the events showed, not what runs now. */
function windowSentence(t: VmTrace): string {
  if (t.since === null || t.windowEvents === 0) return 'No event is held yet: nothing of its processes or connections is known here.';
  return `Seen in the last ${formatDuration(t.at - t.since)} of events this cockpit holds (${formatCount(t.events)} of this VM among `
    + `${formatCount(t.windowEvents)}, since ${utcTimestamp(t.since)}): what they showed, not necessarily what runs now. Older activity is with the agent.`;
}

// ── focus ──────────────────────────────────────────────────────────────────────────────────────────────────

const FOCUSABLE = 'button, input, select, textarea, summary, [href], [tabindex]:not([tabindex="-1"])';

/** Keeps Tab inside the dialog. */
function trapFocus(e: KeyboardEvent<HTMLDivElement>): void {
  // A radio group is one stop: its checked radio.
  const items = [...e.currentTarget.querySelectorAll<HTMLElement>(FOCUSABLE)]
    .filter((el) => !el.hasAttribute('disabled') && !(el instanceof HTMLInputElement && el.type === 'radio' && !el.checked));
  if (items.length === 0) return;
  const first = items[0]!;
  const last = items[items.length - 1]!;
  if (e.shiftKey && document.activeElement === first) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
}
