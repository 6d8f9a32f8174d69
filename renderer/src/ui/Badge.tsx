// A value drawn as shape + word + colour (labels.ts says why all three).
import type { Look } from './labels.ts';

export function Badge({ look, compact = false }: { look: Look; compact?: boolean }) {
  return (
    <span className={`badge ${look.tone}`} title={look.title}>
      <span className="glyph" aria-hidden="true">{look.glyph}</span>
      {compact ? null : <span className="word">{look.label}</span>}
      {compact ? <span className="sr-only">{look.title}</span> : null}
    </span>
  );
}
