// Canonical JSON (RFC 8785, JSON Canonicalization Scheme) of a parsed JSON value: the bytes a policy signature covers,
// so a signer in any language and the agent agree on them. Pure, so the cockpit can check a policy the same way.
// (main/journal/canonical.ts is the journal's faster variant of the same scheme, with its own error type.)

/** The RFC 8785 text of a JSON value: members sorted by UTF-16 code units, no whitespace, ECMAScript number text. */
export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

function write(v: unknown, depth: number): string {
  if (depth > 64) throw new TypeError('canonicalJson: the value is nested deeper than 64 levels.');
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: ${v} cannot be written as JSON.`);
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : write(x, depth + 1))).join(',')}]`;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write(o[k], depth + 1)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: a ${typeof v} cannot be written as JSON.`);
  }
}
