// The detail pane: the VM picked or the selected event's VM, with its actions (VmPanel.tsx), then every field of the
// selected event, full length, with invisible characters shown and flagged. Nothing here is markup: each value is a
// React text node.
import type { ReactNode, Ref } from 'react';
import type { FeedEvent, Vm } from '../../../protocol/index.ts';
import { endpoint, formatBytes, formatCount, formatLag, utcTimestamp } from '../text/format.ts';
import { hasInvisible } from '../text/visible.ts';
import { Badge } from './Badge.tsx';
import { Visible } from './Visible.tsx';
import { useCockpit } from './cockpit-context.tsx';
import { SEVERITY_LOOK, VERDICT_LOOK, VM_STATE_LOOK } from './labels.ts';
import { VmPanel } from './VmPanel.tsx';

export function EventDetail({ ref }: { ref: Ref<HTMLElement> }) {
  const selected = useCockpit((s) => s.selected);
  const vm = useCockpit((s) => (s.selected === null ? undefined : s.inventories.get(s.selected.event.agentId)?.find((v) => v.id === s.selected!.event.event.vmId)));
  // The label and host only: the agent's status object is republished four times a second.
  const agentLabel = useCockpit((s) => (s.selected === null ? undefined : s.agents.find((a) => a.agentId === s.selected!.event.agentId)?.label));
  const host = useCockpit((s) => (s.selected === null ? undefined : s.agents.find((a) => a.agentId === s.selected!.event.agentId)?.host));
  return (
    <aside ref={ref} className="detail" aria-label="Event detail" data-testid="event-detail" tabIndex={-1}>
      <VmPanel />
      {selected === null ? (
        <p className="hint">
          Select an event to see every field, or a VM in the fleet to act on it.<br />
          <kbd>↑</kbd> <kbd>↓</kbd> or <kbd>j</kbd> <kbd>k</kbd> move, <kbd>Enter</kbd> opens here, <kbd>/</kbd> searches,
          {' '}<kbd>Space</kbd> pauses or follows, <kbd>Esc</kbd> clears; <kbd>Shift</kbd> with a letter acts on the VM
          shown here (each button says which).
        </p>
      ) : (
        <EventFields fe={selected.event} vm={vm} agentLabel={agentLabel} host={host} />
      )}
    </aside>
  );
}

function EventFields({ fe, vm, agentLabel, host }: { fe: FeedEvent; vm: Vm | undefined; agentLabel: string | undefined; host: string | undefined }) {
  const e = fe.event;
  const emitted = Date.parse(e.time);
  return (
    <div className="detail-body">
      <h2 className="detail-title" data-testid="detail-title"><Visible text={e.title} /></h2>
      <p className="detail-badges">
        <Badge look={SEVERITY_LOOK[e.severity]} /> <Badge look={VERDICT_LOOK[e.verdict]} /> <span className="chip">{e.category}</span>
        {e.mitre ? <span className="chip mono">{e.mitre.techniqueId}</span> : null}
      </p>
      {e.description !== undefined ? <Text value={e.description} className="description" /> : null}

      <Section title="Event">
        <Field label="Event id" value={e.id} mono />
        <Field label="Time (sensor)" value={e.time} mono />
        <Field label="Time (UTC)" value={utcTimestamp(emitted)} mono />
        <Field label="Received by the cockpit" value={`${utcTimestamp(fe.receivedAt)} (${formatLag(fe.receivedAt - emitted)} after the sensor)`} mono />
        <Field label="Category" value={e.category} />
        {e.scenario !== undefined ? <Field label="Scenario (simulated)" value={e.scenario} /> : null}
      </Section>

      <Section title="Where">
        <Field label="Agent" value={agentLabel !== undefined && agentLabel !== fe.agentId ? `${fe.agentId} (${agentLabel})` : fe.agentId} mono />
        {e.agentId !== fe.agentId ? <Field label="Agent id in event" value={e.agentId} mono /> : null}
        {host !== undefined ? <Field label="Host" value={host} /> : null}
        <Field label="Seq" value={String(fe.seq)} mono />
        <Field label="VM id" value={e.vmId} mono />
        {e.vmName !== undefined ? <Field label="VM name" value={e.vmName} /> : null}
        {vm !== undefined ? (
          <div className="field">
            <dt>VM state now</dt>
            <dd><Badge look={VM_STATE_LOOK[vm.state]} /></dd>
          </div>
        ) : null}
        <Field label="Sensor" value={`${e.sensor.id} (${e.sensor.kind})`} mono />
      </Section>

      {e.process !== undefined ? (
        <Section title="Process">
          <Field label="Name" value={e.process.name} mono />
          <Field label="PID" value={String(e.process.pid)} mono />
          {e.process.ppid !== undefined ? <Field label="Parent PID" value={String(e.process.ppid)} mono /> : null}
          {e.process.parentName !== undefined ? <Field label="Parent" value={e.process.parentName} mono /> : null}
          {e.process.user !== undefined ? <Field label="User" value={e.process.user} mono /> : null}
          {e.process.executable !== undefined ? <Field label="Executable" value={e.process.executable} mono wrap /> : null}
          {e.process.commandLine !== undefined ? <Field label="Command line" value={e.process.commandLine} mono wrap testId="detail-command-line" /> : null}
        </Section>
      ) : null}

      {e.connection !== undefined ? (
        <Section title="Connection">
          <Field label="Protocol" value={e.connection.protocol} />
          <Field label="Direction" value={e.connection.direction} />
          {e.connection.localAddress !== undefined || e.connection.localPort !== undefined
            ? <Field label="Local" value={endpoint(e.connection.localAddress, e.connection.localPort)} mono /> : null}
          {e.connection.remoteAddress !== undefined || e.connection.remotePort !== undefined
            ? <Field label="Remote" value={endpoint(e.connection.remoteAddress, e.connection.remotePort)} mono /> : null}
          {e.connection.state !== undefined ? <Field label="State" value={e.connection.state} mono /> : null}
          {e.connection.bytesOut !== undefined ? <Field label="Bytes out" value={formatBytes(e.connection.bytesOut)} /> : null}
          {e.connection.bytesIn !== undefined ? <Field label="Bytes in" value={formatBytes(e.connection.bytesIn)} /> : null}
        </Section>
      ) : null}

      {e.file !== undefined ? (
        <Section title="File">
          <Field label="Path" value={e.file.path} mono wrap />
          {e.file.operation !== undefined ? <Field label="Operation" value={e.file.operation} /> : null}
          {e.file.size !== undefined ? <Field label="Size" value={formatBytes(e.file.size)} /> : null}
          {e.file.sha256 !== undefined ? <Field label="SHA-256" value={e.file.sha256} mono wrap /> : null}
        </Section>
      ) : null}

      {e.mitre !== undefined ? (
        <Section title="MITRE ATT&CK">
          <Field label="Technique" value={e.mitre.technique !== undefined ? `${e.mitre.techniqueId} ${e.mitre.technique}` : e.mitre.techniqueId} />
          {e.mitre.tactic !== undefined ? <Field label="Tactic" value={e.mitre.tactic} /> : null}
        </Section>
      ) : null}

      <details className="raw">
        <summary>All fields as received ({formatCount(countLeaves(fe))})</summary>
        <dl>
          {leaves(fe).map(([path, value]) => <Field key={path} label={path} value={value} mono wrap />)}
        </dl>
      </details>
    </div>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="detail-section">
      <h3>{title}</h3>
      <dl>{children}</dl>
    </section>
  );
}

function Field({ label, value, mono = false, wrap = false, testId }: { label: string; value: string; mono?: boolean; wrap?: boolean; testId?: string }) {
  return (
    <div className="field">
      <dt>{label}</dt>
      <dd className={`${mono ? 'mono' : ''} ${wrap ? 'wrap' : ''}`} data-testid={testId}>
        <Visible text={value} />
        {hasInvisible(value) ? <span className="invisible-warning" title="Control or invisible characters are shown as symbols (␛, ␊, ⟨U+202E⟩ …)"> ⚠ hidden characters shown</span> : null}
      </dd>
    </div>
  );
}

function Text({ value, className }: { value: string; className: string }) {
  return <p className={className}><Visible text={value} /></p>;
}

/** Every leaf of the event as [path, value], so no field is ever left out of the pane. */
function leaves(value: unknown, path = ''): [string, string][] {
  if (value === null || typeof value !== 'object') return [[path || '(value)', String(value)]];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out.push(...leaves(v, path ? `${path}.${k}` : k));
  return out;
}

function countLeaves(value: unknown): number {
  return leaves(value).length;
}
