// Where xterm's generated CSS goes under the hosts' strict CSP (style-src 'self', no 'unsafe-inline'). xterm's DOM
// renderer and its scrollbar write their CSS (cell layout, fonts, the 256-colour palette, cursor, selection) into
// <style> elements, which that CSP refuses: the DOM renderer then draws proportional text with collapsed spaces and
// no colours. The build (renderer/vite.config.ts, xtermUnderStrictCsp) makes xterm create a <cordon-xterm-style>
// instead; this element hands the text to a constructable stylesheet adopted by the document (CSSOM, which the CSP
// does not govern), and withdraws it when xterm removes the element. The CSS is xterm's own, computed from our
// options and theme: no guest byte is in it.

export const XTERM_STYLE_TAG = 'cordon-xterm-style';

class XtermStyleElement extends HTMLElement {
  private readonly sheet = new CSSStyleSheet();
  private css = '';

  connectedCallback(): void {
    const doc = this.ownerDocument;
    if (!doc.adoptedStyleSheets.includes(this.sheet)) doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, this.sheet];
  }

  disconnectedCallback(): void {
    const doc = this.ownerDocument;
    doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== this.sheet);
  }

  /** What xterm sets: becomes the sheet's rules; no text node is ever made, so nothing shows on the page. */
  setCss(css: string): void {
    this.css = css;
    this.sheet.replaceSync(css);
  }

  getCss(): string {
    return this.css;
  }
}

// xterm assigns `textContent`; Node's own accessor would add a text node.
Object.defineProperty(XtermStyleElement.prototype, 'textContent', {
  configurable: true,
  get(this: XtermStyleElement) {
    return this.getCss();
  },
  set(this: XtermStyleElement, value: string | null) {
    this.setCss(value ?? '');
  },
});

/** Defines the element, once; terminal.ts calls it before it makes a terminal. */
export function defineXtermStyle(): void {
  if (customElements.get(XTERM_STYLE_TAG) === undefined) customElements.define(XTERM_STYLE_TAG, XtermStyleElement);
}
