// The live threat feed: newest first, virtualized with fixed-height rows so that only the ~40 rows on screen
// exist in the DOM (and in the store: it is sent the rows around them) whatever the window holds, and each row
// re-renders only when its event changes.
import { memo, useCallback, useEffect, useLayoutEffect, useRef, type RefObject, type UIEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { FeedEvent } from '../../../protocol/index.ts';
import { isFilterEmpty } from '../store/filter.ts';
import { actorSummary, utcClock } from '../text/format.ts';
import { Badge } from './Badge.tsx';
import { Visible } from './Visible.tsx';
import { useActions, useCockpit } from './cockpit-context.tsx';
import { SEVERITY_LOOK, VERDICT_LOOK } from './labels.ts';

export const ROW_HEIGHT = 28;
/** A cell shows at most this much of a string (the detail pane has all of it): an 8 KiB command line would
 *  otherwise be laid out in full in every row that shows it. */
const CELL_MAX = 240;

const COLUMNS = ['Time (UTC)', 'Severity', 'Verdict', 'Agent', 'VM', 'Category', 'Title', 'Process / connection'];

export function rowId(index: number): string {
  return `feed-row-${index}`;
}

export function ThreatFeed({ gridRef, onOpenDetail }: { gridRef: RefObject<HTMLDivElement | null>; onOpenDetail: () => void }) {
  const feed = useCockpit((s) => s.feed);
  const selectedIndex = useCockpit((s) => s.selectedIndex);
  const selected = useCockpit((s) => s.selected);
  const following = useCockpit((s) => s.following);
  const ready = useCockpit((s) => s.ready);
  const filtered = useCockpit((s) => !isFilterEmpty(s.filter));
  const actions = useActions();
  const scrollRef = useRef<HTMLDivElement>(null);

  const virtualizer = useVirtualizer({
    count: feed.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 4,
  });

  // Following: the newest event is the top row, so the list stays scrolled to the top.
  useLayoutEffect(() => {
    if (following) scrollRef.current?.scrollTo({ top: 0 });
  }, [following]);

  // Paused, a selection moved by keyboard is kept in view.
  useEffect(() => {
    if (!following && selectedIndex >= 0) virtualizer.scrollToIndex(selectedIndex, { align: 'auto' });
  }, [following, selectedIndex, selected, virtualizer]);

  const onScroll = useCallback((e: UIEvent<HTMLDivElement>) => {
    // Scrolling down to read pauses the list, which would otherwise slide under the reader's eyes.
    if (following && e.currentTarget.scrollTop > ROW_HEIGHT) actions.setFollowing(false);
  }, [following, actions]);

  const onRowClick = useCallback((index: number) => {
    actions.selectIndex(index);
    gridRef.current?.focus({ preventScroll: true });
  }, [actions, gridRef]);

  const items = virtualizer.getVirtualItems();
  // The store holds only the rows around what is on screen: say which those are (overscan included).
  const firstIndex = items[0]?.index;
  const lastIndex = items[items.length - 1]?.index;
  useEffect(() => {
    if (firstIndex !== undefined && lastIndex !== undefined) actions.setVisibleRange({ from: firstIndex, to: lastIndex + 1 });
  }, [firstIndex, lastIndex, actions]);
  const activeRendered = selectedIndex >= 0 && items.some((i) => i.index === selectedIndex);

  return (
    <div
      ref={gridRef}
      className="feed-grid"
      role="grid"
      aria-label="Live threat feed, newest first"
      aria-rowcount={feed.length + 1}
      aria-readonly="true"
      aria-activedescendant={activeRendered ? rowId(selectedIndex) : undefined}
      tabIndex={0}
      data-testid="feed-list"
      data-following={following ? 'true' : 'false'}
    >
      <div className="feed-head" role="rowgroup">
        <div className="feed-row head" role="row" aria-rowindex={1}>
          {COLUMNS.map((c) => <span key={c} role="columnheader" className="cell">{c}</span>)}
        </div>
      </div>
      <div ref={scrollRef} className="feed-body" role="rowgroup" tabIndex={-1} onScroll={onScroll}>
        {feed.length === 0 ? (
          <div className="feed-empty" role="row">
            <span role="gridcell">
              {!ready ? 'Waiting for the cockpit…' : filtered ? 'No event in the window matches the filters.' : 'No threat events yet.'}
            </span>
          </div>
        ) : null}
        <div className="feed-canvas" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => (
            <FeedRow
              key={item.key}
              index={item.index}
              start={item.start}
              abs={feed.absAt(item.index)}
              fe={feed.at(item.index)}
              selected={item.index === selectedIndex}
              onClick={onRowClick}
              onOpen={onOpenDetail}
            />
          ))}
        </div>
      </div>
    </div>
  );
}

interface FeedRowProps {
  index: number;
  start: number;
  /** The event's absolute number (-1 for a row not in the store yet): the same number is the same event, even
   *  when a new frame brought a fresh copy of it. */
  abs: number;
  fe: FeedEvent | undefined;
  selected: boolean;
  onClick: (index: number) => void;
  onOpen: () => void;
}

const FeedRow = memo(function FeedRow({ index, start, fe, selected, onClick, onOpen }: FeedRowProps) {
  const style = { transform: `translateY(${start}px)` };
  if (fe === undefined) {
    return <div className="feed-row gone" role="row" aria-rowindex={index + 2} style={style} />;
  }
  const e = fe.event;
  return (
    <div
      id={rowId(index)}
      className={selected ? 'feed-row selected' : 'feed-row'}
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-testid="feed-row"
      data-severity={e.severity}
      data-verdict={e.verdict}
      data-agent={fe.agentId}
      data-vm={e.vmId}
      data-seq={fe.seq}
      style={style}
      onClick={() => onClick(index)}
      onDoubleClick={onOpen}
    >
      <span role="gridcell" className="cell mono">{utcClock(e.time)}</span>
      <span role="gridcell" className="cell"><Badge look={SEVERITY_LOOK[e.severity]} /></span>
      <span role="gridcell" className="cell"><Badge look={VERDICT_LOOK[e.verdict]} /></span>
      <span role="gridcell" className="cell">{fe.agentId}</span>
      <span role="gridcell" className="cell"><Visible text={e.vmName ?? e.vmId} max={64} /></span>
      <span role="gridcell" className="cell">{e.category}</span>
      <span role="gridcell" className="cell title"><Visible text={e.title} max={CELL_MAX} /></span>
      <span role="gridcell" className="cell mono"><Visible text={actorSummary(e)} max={CELL_MAX} /></span>
    </div>
  );
}, (a, b) => a.index === b.index && a.start === b.start && a.selected === b.selected && a.onClick === b.onClick
  && a.onOpen === b.onOpen && (a.abs >= 0 ? a.abs === b.abs : a.fe === b.fe));
