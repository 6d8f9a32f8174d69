// The filter bar above the feed: free text, minimum severity, verdict, agent, VM; and the follow/pause toggle.
import { useEffect, useRef, useState, type RefObject } from 'react';
import type { Severity } from '../../../protocol/index.ts';
import { isFilterEmpty, type VerdictFilter } from '../store/filter.ts';
import { formatCount } from '../text/format.ts';
import { cellText } from '../text/visible.ts';
import { useActions, useCockpit } from './cockpit-context.tsx';
import { SEVERITY_LOOK, SEVERITY_ORDER, VERDICT_LOOK } from './labels.ts';

/** Typing waits this long before the window is rescanned, so a word is not searched once per letter. */
const TEXT_DEBOUNCE_MS = 150;

export function FilterBar({ searchRef }: { searchRef: RefObject<HTMLInputElement | null> }) {
  const filter = useCockpit((s) => s.filter);
  // Only the agents' ids matter here: their health is republished four times a second, the ids hardly ever change
  // (an id is [A-Za-z0-9._:-], so a newline joins them unambiguously).
  const agentIdsKey = useCockpit((s) => s.agents.map((a) => a.agentId).join('\n'));
  const inventories = useCockpit((s) => s.inventories);
  const actions = useActions();

  // The search box keeps its own text (so the caret never jumps) and hands it to the store after a pause.
  const [text, setText] = useState(filter.text);
  const sent = useRef(filter.text);
  useEffect(() => {
    if (filter.text !== sent.current) {
      sent.current = filter.text;
      setText(filter.text);
    }
  }, [filter.text]);
  useEffect(() => {
    if (text === sent.current) return;
    const t = setTimeout(() => {
      sent.current = text;
      actions.setFilter({ text });
    }, TEXT_DEBOUNCE_MS);
    return () => clearTimeout(t);
  }, [text, actions]);

  const agentIds = new Set<string>([...(agentIdsKey === '' ? [] : agentIdsKey.split('\n')), ...inventories.keys()]);
  const vmValue = filter.vm === null ? '' : `${filter.vm.agentId}/${filter.vm.vmId}`;
  const vmAgents = filter.agentId === null ? [...agentIds] : [filter.agentId];

  return (
    <div className="filter-bar" role="search" aria-label="Filter the feed" data-testid="filter-bar">
      <input
        ref={searchRef}
        type="search"
        className="filter-text"
        placeholder="Search events   ( / )"
        aria-label="Search the feed: title, process name, command line, addresses, file path"
        data-testid="filter-text"
        value={text}
        spellCheck={false}
        autoComplete="off"
        onChange={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape' && text !== '') {
            // First Esc empties the box; the next one goes back to the list (App's keyboard).
            e.preventDefault();
            sent.current = '';
            setText('');
            actions.setFilter({ text: '' });
          } else if (e.key === 'Enter' && text !== sent.current) {
            sent.current = text; // search now, without waiting for the pause
            actions.setFilter({ text });
          }
        }}
      />
      <select
        aria-label="Minimum severity"
        data-testid="filter-severity"
        value={filter.minSeverity ?? ''}
        onChange={(e) => actions.setFilter({ minSeverity: (e.currentTarget.value || null) as Severity | null })}
      >
        <option value="">Any severity</option>
        {SEVERITY_ORDER.map((s) => (
          <option key={s} value={s}>{SEVERITY_LOOK[s].glyph} {s === 'critical' ? 'critical' : s === 'info' ? 'info and up' : `${s} and up`}</option>
        ))}
      </select>
      <select
        aria-label="Verdict"
        data-testid="filter-verdict"
        value={filter.verdict ?? ''}
        onChange={(e) => actions.setFilter({ verdict: (e.currentTarget.value || null) as VerdictFilter | null })}
      >
        <option value="">Any verdict</option>
        <option value="not-benign">not benign</option>
        {(['malicious', 'suspicious', 'benign'] as const).map((v) => (
          <option key={v} value={v}>{VERDICT_LOOK[v].glyph} {v}</option>
        ))}
      </select>
      <select
        aria-label="Agent"
        data-testid="filter-agent"
        value={filter.agentId ?? ''}
        onChange={(e) => {
          const agentId = e.currentTarget.value || null;
          actions.setFilter({ agentId, vm: filter.vm !== null && filter.vm.agentId !== agentId ? null : filter.vm });
        }}
      >
        <option value="">All agents</option>
        {[...agentIds].sort().map((id) => <option key={id} value={id}>{cellText(id, 64)}</option>)}
      </select>
      <select
        aria-label="VM"
        data-testid="filter-vm"
        value={vmValue}
        onChange={(e) => {
          const v = e.currentTarget.value;
          const slash = v.indexOf('/');
          if (slash < 0) actions.setFilter({ vm: null });
          else actions.setFilter({ agentId: v.slice(0, slash), vm: { agentId: v.slice(0, slash), vmId: v.slice(slash + 1) } });
        }}
      >
        <option value="">All VMs</option>
        {vmAgents.sort().map((agentId) => (
          <optgroup key={agentId} label={cellText(agentId, 64)}>
            {(inventories.get(agentId) ?? []).map((vm) => (
              <option key={vm.id} value={`${agentId}/${vm.id}`}>{cellText(vm.name, 64)}</option>
            ))}
            {filter.vm !== null && filter.vm.agentId === agentId && !(inventories.get(agentId) ?? []).some((vm) => vm.id === filter.vm!.vmId)
              ? <option value={vmValue}>{cellText(filter.vm.vmId, 64)}</option>
              : null}
          </optgroup>
        ))}
      </select>
      <button
        type="button"
        className="quiet"
        data-testid="filter-clear"
        disabled={isFilterEmpty(filter)}
        onClick={() => {
          sent.current = '';
          setText('');
          actions.clearFilters();
        }}
      >
        Clear filters
      </button>
      <FollowToggle />
    </div>
  );
}

function FollowToggle() {
  const following = useCockpit((s) => s.following);
  const newWhilePaused = useCockpit((s) => s.newWhilePaused);
  const actions = useActions();
  return (
    <span className="follow">
      <button
        type="button"
        className={following ? 'follow-toggle on' : 'follow-toggle off'}
        aria-pressed={following}
        aria-keyshortcuts="Space"
        title={following ? 'Following the newest events. Space pauses.' : 'Paused: the list stays still. Space follows again.'}
        data-testid="follow-toggle"
        onClick={() => actions.toggleFollowing()}
      >
        <span aria-hidden="true">{following ? '●' : '❚❚'}</span> {following ? 'Following' : 'Paused'}
      </button>
      {following ? null : (
        <span className="paused-count" data-testid="paused-count" aria-live="off">+{formatCount(newWhilePaused)} new</span>
      )}
    </span>
  );
}
