// The evidence view (Alt+5): the responder's identity (the settings part: the key that signs, its fingerprint, how it
// is kept), the captures each agent holds, a pull with its throughput and time left, the package made of a pulled
// capture, its chain of custody with handovers, verification, export to removable media with read-back, and the
// sanitisation of the agent's copies once a package is verified and handed over. Everything an agent, a guest or a
// user typed is drawn as text (Visible), never as markup.
import { useCallback, useEffect, useId, useState } from 'react';
import type { CockpitEvidenceStatus, EvidencePackageSummary, EvidenceVerifyOutcome, SanitisationReport } from '../../../../protocol/index.ts';
import { useCockpit, useCockpitCall } from '../cockpit-context.tsx';
import { Visible } from '../Visible.tsx';
import { atLeast, LEAD } from '../../../../protocol/roles.ts';
import { bytesText, durationText, rateText } from './evidence-model.ts';
import './evidence.css';

type Capture = CockpitEvidenceStatus['captures'][number];
type Transfer = CockpitEvidenceStatus['transfers'][number];

export function EvidenceView() {
  const call = useCockpitCall();
  const [status, setStatus] = useState<CockpitEvidenceStatus | null>(null);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setStatus(await call('evidence.status', {}));
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  }, [call]);
  useEffect(() => { void refresh(); }, [refresh]);
  // While a pull runs, its progress is read twice a second; otherwise the view stays still.
  const busy = status?.transfers.some((t) => t.state === 'pulling' || t.state === 'waiting' || t.state === 'verifying') ?? false;
  useEffect(() => {
    if (!busy) return;
    const t = setInterval(() => void refresh(), 500);
    return () => clearInterval(t);
  }, [busy, refresh]);

  return (
    <section className="evidence" aria-label="Evidence" data-testid="evidence-view">
      <header className="evidence-head">
        <h2>Evidence · seizure packages</h2>
        <button type="button" onClick={() => void refresh()} data-testid="evidence-refresh">Refresh</button>
      </header>
      {error ? <p className="evidence-error" role="alert" data-testid="evidence-error"><Visible text={error} max={600} /></p> : null}
      {status ? <Identity identity={status.identity} /> : null}
      {status ? <Captures status={status} onChanged={refresh} /> : <p className="hint">Loading…</p>}
      {status ? <Packages packages={status.packages} onChanged={refresh} /> : null}
    </section>
  );
}

function Identity({ identity }: { identity: CockpitEvidenceStatus['identity'] }) {
  return (
    <section className="evidence-identity" aria-label="Settings: your identity" data-testid="evidence-identity">
      <h3>Settings · your identity</h3>
      <p>Packages and custody entries are signed with your Ed25519 key <span className="mono" data-testid="identity-fingerprint">{identity.fingerprint}</span>; every affidavit prints it. Give it to whoever will verify your packages.</p>
      <p className={identity.protection === 'os-keychain' ? 'ok' : 'warning'} data-testid="identity-protection">
        {identity.protection === 'os-keychain' ? 'The private key is sealed by the operating system\'s keychain (Electron safeStorage).' : 'The private key is a plain file, not sealed by a keychain.'}
      </p>
      {identity.warning ? <p className="warning" role="alert" data-testid="identity-warning"><Visible text={identity.warning} max={1024} /></p> : null}
      <details><summary>Public key (PEM)</summary><pre className="mono">{identity.publicKeyPem}</pre></details>
    </section>
  );
}

function Captures({ status, onChanged }: { status: CockpitEvidenceStatus; onChanged(): Promise<void> }) {
  const call = useCockpitCall();
  const [problem, setProblem] = useState<string | null>(null);
  const [sealing, setSealing] = useState<Capture | null>(null);
  const pull = async (c: Capture) => {
    setProblem(null);
    try {
      await call('evidence.pull', { agentId: c.agentId, captureId: c.capture.captureId });
    } catch (err) {
      setProblem((err as Error).message);
    }
    await onChanged();
  };
  const transferOf = (c: Capture): Transfer | undefined => status.transfers.find((t) => t.agentId === c.agentId && t.captureId === c.capture.captureId);
  return (
    <section aria-label="Captures on the agents" className="evidence-captures">
      <h3>Captures held by the agents</h3>
      {status.unreachable.map((u) => <p key={u.agentId} className="muted" data-testid="evidence-unreachable"><Visible text={u.message} max={400} /></p>)}
      {problem ? <p className="evidence-error" role="alert"><Visible text={problem} max={600} /></p> : null}
      {status.captures.length === 0 ? <p className="hint" data-testid="evidence-no-captures">No agent holds a capture: seize a VM (s) to make one.</p> : (
        <table className="evidence-table" data-testid="evidence-captures">
          <thead><tr><th scope="col">VM</th><th scope="col">Seized</th><th scope="col">Files</th><th scope="col">Here</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {status.captures.map((c) => {
              const t = transferOf(c);
              return (
                <tr key={`${c.agentId}/${c.capture.captureId}`} data-testid="evidence-capture" data-capture={c.capture.captureId} data-pulled={c.pulled}>
                  <th scope="row">
                    <Visible text={c.capture.vmName} max={80} />{c.capture.simulated ? <span className="chip" title="A simulated VM: synthetic content">simulated</span> : null}
                    <div className="mono muted"><Visible text={`${c.agentId} · ${c.capture.captureId}`} max={260} /></div>
                  </th>
                  <td>{c.capture.finishedAt}<div className="muted">by <Visible text={c.capture.actor?.name ?? 'unknown'} max={80} />{c.capture.reason ? <>: <Visible text={c.capture.reason} max={300} /></> : null}</div></td>
                  <td>{c.capture.files.length} · {bytesText(c.capture.bytes)}</td>
                  <td>{c.packageId ? <>sealed as <span className="mono">{c.packageId}</span></> : c.capture.sanitised ? 'sanitised on the agent' : c.pulled === 'yes' ? 'pulled, checked' : c.pulled === 'partial' ? 'partly pulled' : 'on the agent only'}
                    {t ? <TransferLine t={t} /> : null}
                  </td>
                  <td className="evidence-buttons">
                    {!c.packageId && c.pulled !== 'yes' && !c.capture.sanitised ? (
                      <button type="button" onClick={() => void pull(c)} disabled={t !== undefined && t.state !== 'done' && t.state !== 'failed'} data-testid="evidence-pull"
                        title="Copy the capture into this cockpit over the agent link (resumable; every file checked against the agent's hashes). It can also stay on the agent and be pulled later.">{c.pulled === 'partial' ? 'Resume pull' : 'Pull'}</button>
                    ) : null}
                    {!c.packageId && c.pulled === 'yes' ? <button type="button" onClick={() => setSealing(c)} data-testid="evidence-seal-open">Make package…</button> : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {sealing ? <SealForm capture={sealing} onDone={async () => { setSealing(null); await onChanged(); }} /> : null}
    </section>
  );
}

function TransferLine({ t }: { t: Transfer }) {
  const pct = t.totalBytes > 0 ? Math.floor((100 * t.bytes) / t.totalBytes) : 0;
  return (
    <div className="evidence-transfer" data-testid="evidence-transfer" data-state={t.state}>
      <progress max={100} value={pct} aria-label={`Pull ${pct}%`} />
      <span>{bytesText(t.bytes)} of {bytesText(t.totalBytes)}{t.state === 'pulling' && t.bytesPerSec > 0 ? <> · {rateText(t.bytesPerSec)}{t.etaSeconds !== undefined ? <> · {durationText(t.etaSeconds)} left</> : null}</> : null}
        {t.resumes > 0 ? <> · resumed {t.resumes}×</> : null}</span>
      <div className={t.state === 'failed' ? 'evidence-error' : 'muted'} role={t.state === 'failed' ? 'alert' : undefined}><Visible text={t.message} max={600} /></div>
    </div>
  );
}

function SealForm({ capture, onDone }: { capture: Capture; onDone(): Promise<void> }) {
  const call = useCockpitCall();
  const id = useId();
  const [form, setForm] = useState({ caseNumber: capture.capture.caseId ?? '', agency: '', exhibit: '', name: capture.capture.actor?.name ?? '', role: capture.capture.actor?.role ?? 'incident responder', responderAgency: '', place: '', storageLocation: '' });
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const submit = async () => {
    setBusy(true);
    setProblem(null);
    try {
      await call('evidence.seal', {
        agentId: capture.agentId, captureId: capture.capture.captureId, caseNumber: form.caseNumber.trim(), agency: form.agency.trim(),
        ...(form.exhibit.trim() ? { exhibit: form.exhibit.trim() } : {}),
        responder: { name: form.name.trim(), role: form.role.trim(), ...(form.responderAgency.trim() ? { agency: form.responderAgency.trim() } : {}) },
        place: form.place.trim(), storageLocation: form.storageLocation.trim(),
      });
      await onDone();
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="evidence-form" aria-label="Make a package" data-testid="evidence-seal-form" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
      <h4>Package of <Visible text={capture.capture.vmName} max={80} /></h4>
      <label htmlFor={`${id}-case`}>Case number<input id={`${id}-case`} required value={form.caseNumber} onChange={set('caseNumber')} data-testid="seal-case" /></label>
      <label htmlFor={`${id}-agency`}>Agency<input id={`${id}-agency`} required value={form.agency} onChange={set('agency')} data-testid="seal-agency" /></label>
      <label htmlFor={`${id}-exhibit`}>Exhibit (optional)<input id={`${id}-exhibit`} value={form.exhibit} onChange={set('exhibit')} /></label>
      <label htmlFor={`${id}-name`}>Your name<input id={`${id}-name`} required value={form.name} onChange={set('name')} data-testid="seal-name" /></label>
      <label htmlFor={`${id}-role`}>Your role<input id={`${id}-role`} required value={form.role} onChange={set('role')} data-testid="seal-role" /></label>
      <label htmlFor={`${id}-ragency`}>Your agency (optional)<input id={`${id}-ragency`} value={form.responderAgency} onChange={set('responderAgency')} /></label>
      <label htmlFor={`${id}-place`}>Place<input id={`${id}-place`} required value={form.place} onChange={set('place')} data-testid="seal-place" placeholder="e.g. server room B, 12 rue X, Lyon" /></label>
      <label htmlFor={`${id}-storage`}>Kept at (optional)<input id={`${id}-storage`} value={form.storageLocation} onChange={set('storageLocation')} placeholder="default: this cockpit's evidence folder" /></label>
      {problem ? <p className="evidence-error" role="alert" data-testid="seal-error"><Visible text={problem} max={600} /></p> : null}
      <div className="evidence-buttons">
        <button type="submit" disabled={busy} data-testid="seal-submit">{busy ? 'Sealing…' : 'Seal and sign'}</button>
        <button type="button" onClick={() => void onDone()}>Cancel</button>
      </div>
    </form>
  );
}

function Packages({ packages, onChanged }: { packages: EvidencePackageSummary[]; onChanged(): Promise<void> }) {
  return (
    <section aria-label="Packages" className="evidence-packages">
      <h3>Packages in this cockpit</h3>
      {packages.length === 0 ? <p className="hint">No package yet: pull a capture, then make a package of it.</p> : null}
      {packages.map((p) => <PackageCard key={p.packageId} p={p} onChanged={onChanged} />)}
    </section>
  );
}

function PackageCard({ p, onChanged }: { p: EvidencePackageSummary; onChanged(): Promise<void> }) {
  const call = useCockpitCall();
  const platform = useCockpit((s) => s.link.platform);
  const [verify, setVerify] = useState<EvidenceVerifyOutcome | undefined>(p.lastVerify);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [destination, setDestination] = useState('');
  const [exported, setExported] = useState<string | null>(null);
  const [sanitised, setSanitised] = useState<SanitisationReport | undefined>(p.sanitisation);
  const run = async (what: string, fn: () => Promise<void>) => {
    setBusy(what);
    setProblem(null);
    try {
      await fn();
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setBusy(null);
    }
  };
  const choose = () => run('choose', async () => {
    const r = await call('evidence.chooseFolder', {});
    if (r.path) setDestination(r.path);
  });
  const handedOver = p.custody.some((e) => e.kind === 'transfer');
  return (
    <article className="evidence-package" data-testid="evidence-package" data-package={p.packageId} aria-label={`Package ${p.packageId}`}>
      <h4><span className="mono">{p.packageId}</span> · case <Visible text={p.caseNumber} max={128} /> · <Visible text={p.agency} max={120} />{p.simulated ? <span className="chip">simulated</span> : null}</h4>
      <p className="muted">VM <Visible text={p.vmName} max={80} /> ({p.vmId}) on {p.agentId} · {p.files} files · {bytesText(p.bytes)} · <span className="mono">{p.dir}</span></p>
      <h5>Chain of custody</h5>
      <ol className="evidence-custody" data-testid="evidence-custody">
        {p.custody.map((e) => (
          <li key={e.sequence} data-kind={e.kind}>
            <strong>{e.kind}</strong> {e.at} ({e.timeZone}): {e.from ? <><Visible text={`${e.from.name} (${e.from.role})`} max={260} /> → </> : null}<Visible text={`${e.to.name} (${e.to.role})`} max={260} /> at <Visible text={e.location} max={300} />; kept at <Visible text={e.storageLocation} max={300} />.
            <div className="muted">Reason: <Visible text={e.reason} max={600} /> · signed by <span className="mono">{e.signerFingerprint}</span></div>
          </li>
        ))}
      </ol>
      <HandoverForm packageId={p.packageId} onDone={onChanged} />
      <div className="evidence-buttons">
        <button type="button" disabled={busy !== null} onClick={() => void run('verify', async () => { setVerify(await call('evidence.verify', { packageId: p.packageId })); })} data-testid="package-verify">{busy === 'verify' ? 'Verifying…' : 'Verify'}</button>
      </div>
      {verify ? <VerifyResult v={verify} /> : null}
      <form className="evidence-export" onSubmit={(e) => { e.preventDefault(); void run('export', async () => {
        const r = await call('evidence.export', { packageId: p.packageId, destination: destination.trim() });
        setExported(`Exported to ${r.target}: ${r.files} files, ${bytesText(r.bytes)}, copied in ${durationText(r.copyMs / 1000)} and read back in ${durationText(r.verifyMs / 1000)}. ${r.readBack}`);
        await onChanged();
      }); }}>
        <label>Export to removable media (a folder on it)
          <input value={destination} onChange={(e) => setDestination(e.target.value)} placeholder="/media/usb-evidence" required data-testid="export-destination" />
        </label>
        {platform === 'electron' ? <button type="button" onClick={() => void choose()}>Choose folder…</button> : null}
        <button type="submit" disabled={busy !== null} data-testid="export-submit">{busy === 'export' ? 'Copying and reading back…' : 'Export'}</button>
      </form>
      {exported ? <p className="ok" data-testid="export-result"><Visible text={exported} max={2000} /></p> : p.lastExport ? <p className="muted">Last export: {p.lastExport.at} to <Visible text={p.lastExport.target} max={400} /></p> : null}
      <Sanitise p={p} handedOver={handedOver} verified={verify?.ok === true} busy={busy} run={run} onReport={setSanitised} />
      {sanitised ? <SanitisationResult r={sanitised} /> : null}
      {problem ? <p className="evidence-error" role="alert" data-testid="package-error"><Visible text={problem} max={2000} /></p> : null}
    </article>
  );
}

function VerifyResult({ v }: { v: EvidenceVerifyOutcome }) {
  return (
    <div className={v.ok ? 'ok' : 'evidence-error'} data-testid="verify-result" data-ok={v.ok}>
      {v.ok ? `Verified ${v.at}: ${v.files} files (${bytesText(v.bytes)}) match the manifest, the signatures and the chain of custody hold, signed by ${v.signers.join(', ')}.`
        : `Verification FAILED (${v.at}):`}
      {v.findings.length > 0 ? <ul>{v.findings.map((f, i) => <li key={i} data-testid="verify-finding" data-code={f.code}><Visible text={f.message} max={2000} /></li>)}</ul> : null}
    </div>
  );
}

function HandoverForm({ packageId, onDone }: { packageId: string; onDone(): Promise<void> }) {
  const call = useCockpitCall();
  const id = useId();
  const [open, setOpen] = useState(false);
  const [f, setF] = useState({ fromName: '', fromRole: '', toName: '', toRole: '', toAgency: '', location: '', storageLocation: '', reason: '' });
  const [problem, setProblem] = useState<string | null>(null);
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  if (!open) return <button type="button" onClick={() => setOpen(true)} data-testid="handover-open">Record a handover…</button>;
  const submit = async () => {
    setProblem(null);
    try {
      await call('evidence.handover', {
        packageId, from: { name: f.fromName.trim(), role: f.fromRole.trim() }, to: { name: f.toName.trim(), role: f.toRole.trim(), ...(f.toAgency.trim() ? { agency: f.toAgency.trim() } : {}) },
        location: f.location.trim(), storageLocation: f.storageLocation.trim(), reason: f.reason.trim(),
      });
      setOpen(false);
      await onDone();
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <form className="evidence-form" aria-label="Handover" data-testid="handover-form" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
      <label htmlFor={`${id}-fn`}>From (name)<input id={`${id}-fn`} required value={f.fromName} onChange={set('fromName')} data-testid="handover-from-name" /></label>
      <label htmlFor={`${id}-fr`}>From (role)<input id={`${id}-fr`} required value={f.fromRole} onChange={set('fromRole')} data-testid="handover-from-role" /></label>
      <label htmlFor={`${id}-tn`}>To (name)<input id={`${id}-tn`} required value={f.toName} onChange={set('toName')} data-testid="handover-to-name" /></label>
      <label htmlFor={`${id}-tr`}>To (role)<input id={`${id}-tr`} required value={f.toRole} onChange={set('toRole')} data-testid="handover-to-role" /></label>
      <label htmlFor={`${id}-ta`}>To (agency)<input id={`${id}-ta`} value={f.toAgency} onChange={set('toAgency')} /></label>
      <label htmlFor={`${id}-l`}>Where<input id={`${id}-l`} required value={f.location} onChange={set('location')} data-testid="handover-location" /></label>
      <label htmlFor={`${id}-s`}>Kept at afterwards<input id={`${id}-s`} required value={f.storageLocation} onChange={set('storageLocation')} data-testid="handover-storage" /></label>
      <label htmlFor={`${id}-r`}>Why<input id={`${id}-r`} required value={f.reason} onChange={set('reason')} data-testid="handover-reason" /></label>
      {problem ? <p className="evidence-error" role="alert"><Visible text={problem} max={600} /></p> : null}
      <div className="evidence-buttons"><button type="submit" data-testid="handover-submit">Sign and record</button><button type="button" onClick={() => setOpen(false)}>Cancel</button></div>
    </form>
  );
}

function Sanitise({ p, handedOver, verified, busy, run, onReport }: {
  p: EvidencePackageSummary; handedOver: boolean; verified: boolean; busy: string | null;
  run(what: string, fn: () => Promise<void>): Promise<void>; onReport(r: SanitisationReport): void;
}) {
  const call = useCockpitCall();
  const [reason, setReason] = useState('');
  const [confirm, setConfirm] = useState(false);
  // Sanitising is a lead's (agent/access.ts): a cockpit with a lesser role on the package's agent is told which one.
  const me = useCockpit((s) => s.agents.find((a) => a.agentId === p.agentId)?.access?.principal);
  const roleProblem = me !== undefined && !atLeast(me.role, LEAD) ? `Sanitising needs the lead role on ${p.agentId}; you are ${me.name} (${me.role}).` : undefined;
  const twoPerson = useCockpit((s) => s.agents.find((a) => a.agentId === p.agentId)?.access?.twoPerson.includes('sanitise') ?? false);
  const ready = handedOver && verified && roleProblem === undefined;
  return (
    <form className="evidence-sanitise" onSubmit={(e) => { e.preventDefault(); if (!confirm) { setConfirm(true); return; } void run('sanitise', async () => { onReport(await call('evidence.sanitise', { packageId: p.packageId, reason: reason.trim() })); setConfirm(false); }); }}>
      <label>Sanitise the agent's copies (disk image, saved state, captured images)
        <input value={reason} onChange={(e) => setReason(e.target.value)} required placeholder="why, e.g. package handed to the police and verified" disabled={!ready} data-testid="sanitise-reason" />
      </label>
      <button type="submit" disabled={!ready || busy !== null} data-testid="sanitise-submit"
        title={roleProblem ?? (ready ? `Overwrite with zeros and read back (NIST SP 800-88 Clear)${twoPerson ? '; a second person approves it first' : ''}` : 'Only once the package is verified (Verify) and handed over (Record a handover)')}>
        {confirm ? 'Really overwrite? Press again' : busy === 'sanitise' ? 'Overwriting…' : 'Sanitise on the agent'}
      </button>
      {!ready ? <span className="muted" data-testid="sanitise-why-not">{roleProblem !== undefined ? <Visible text={roleProblem} max={300} /> : null}{!verified ? 'Verify the package first. ' : ''}{!handedOver ? 'Record its handover first.' : ''}</span> : null}
      {ready && twoPerson ? <span className="muted">A second person approves it in their cockpit before the agent overwrites anything.</span> : null}
    </form>
  );
}

function SanitisationResult({ r }: { r: SanitisationReport }) {
  return (
    <div className={r.ok ? 'ok' : 'warning'} data-testid="sanitisation-report" data-ok={r.ok}>
      <p><Visible text={r.method} max={1024} /></p>
      <ul>{r.files.map((f, i) => <li key={i}><span className="mono"><Visible text={f.path} max={400} /></span> — <Visible text={f.what} max={256} />: {f.found ? `${bytesText(f.bytes)}, ${f.verified ? `verified zero (${f.readBack ?? '?'})` : 'NOT verified'}${f.removed ? ', removed' : ''}` : 'not found'}{f.error ? <> — <Visible text={f.error} max={400} /></> : null}</li>)}</ul>
      <p>What this cannot guarantee:</p>
      <ul>{r.limits.map((l, i) => <li key={i}><Visible text={l} max={1024} /></li>)}</ul>
    </div>
  );
}
