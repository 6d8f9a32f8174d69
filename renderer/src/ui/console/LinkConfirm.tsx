// The confirmation a guest's link needs before it opens (OSC 8, and only one the allowlist let through, guard.ts):
// the whole address as text, its host as the URL parser reads it (punycode for a look-alike), and a choice. A modal
// <dialog>: the page behind it is inert and Esc cancels. In the browser shell the link opens in a new tab with no
// opener and no referrer; the desktop app opens no window at all (its main process denies them), so there the
// address can only be copied.
import { useEffect, useId, useRef, useState } from 'react';
import { Visible } from '../Visible.tsx';
import { useCockpit } from '../cockpit-context.tsx';
import type { LinkAsk } from './sessions.ts';

export function LinkConfirm({ ask, onDone }: { ask: LinkAsk; onDone: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const platform = useCockpit((s) => s.link.platform);
  const [copied, setCopied] = useState<string | null>(null);

  useEffect(() => {
    const d = ref.current;
    if (d !== null && !d.open) d.showModal();
    return () => {
      if (d?.open) d.close();
    };
  }, []);

  const openIt = () => {
    window.open(ask.href, '_blank', 'noopener,noreferrer');
    onDone();
  };
  const copyIt = () => {
    navigator.clipboard.writeText(ask.href).then(
      () => setCopied('Copied.'),
      () => setCopied('This page may not write to the clipboard: select the address above and copy it.'),
    );
  };

  return (
    // role stated so the cockpit's keys stand down inside it (App.tsx checks the role).
    <dialog
      ref={ref}
      role="dialog"
      className="dialog console-link"
      aria-labelledby={titleId}
      data-testid="console-link-confirm"
      onCancel={(e) => {
        e.preventDefault();
        onDone();
      }}
    >
      <h2 id={titleId} className="dialog-title">Open a link the guest printed?</h2>
      <p className="dialog-text">A program in the VM wrote this link; it can point anywhere. Read it whole before you open it.</p>
      <p className="console-link-url mono" data-testid="console-link-url"><Visible text={ask.href} /></p>
      <p className="dialog-text">Host: <strong className="mono" data-testid="console-link-host"><Visible text={ask.host} /></strong></p>
      {copied !== null ? <p className="hint-inline" role="status">{copied}</p> : null}
      <div className="dialog-buttons">
        <button type="button" onClick={onDone} autoFocus data-testid="console-link-cancel">Cancel</button>
        <button type="button" onClick={copyIt} data-testid="console-link-copy">Copy address</button>
        {platform === 'browser' ? (
          <button type="button" className="confirm" onClick={openIt} data-testid="console-link-open">Open in a new tab</button>
        ) : (
          <span className="hint-inline">The desktop app opens no browser window: copy the address instead.</span>
        )}
      </div>
    </dialog>
  );
}
