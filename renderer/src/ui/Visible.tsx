// Attacker-controlled text as React text, with each invisible character drawn as a labelled chip (visible.ts).
// The chip's text is the character's picture (␛), so copying or searching the page never yields the raw byte;
// the label comes from CSS (`.ctl::after`), so it reads the same on a machine without the Control Pictures font.
import { memo } from 'react';
import { clip, visibleParts } from '../text/visible.ts';

export const Visible = memo(function Visible({ text, max }: { text: string | undefined; max?: number }) {
  if (text === undefined || text === '') return null;
  const parts = visibleParts(max === undefined ? text : clip(text, max));
  if (parts.length === 1 && typeof parts[0] === 'string') return <>{parts[0]}</>;
  return (
    <>
      {parts.map((p, i) => (typeof p === 'string'
        ? p
        : <span key={i} className="ctl" data-name={p.name} title={`Hidden character ${p.name}`}>{p.picture}</span>))}
    </>
  );
});
