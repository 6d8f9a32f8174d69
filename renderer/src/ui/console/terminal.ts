// One console's terminal: xterm.js 6 held to Cordon's rules for hostile output (guard.ts), drawn by its WebGL
// addon where the machine can, else by its DOM renderer (said in `renderer`, and on the pane for the tests), fitted
// to its pane, searchable. Loaded on demand (sessions.ts imports it when the first console opens), with xterm's
// own stylesheet through the build, never inline.
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { WebglAddon } from '@xterm/addon-webgl';
import { Terminal, type ITerminalOptions } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { clipboardAttempt, linkVerdict, onlyAsksColours } from './guard.ts';
import type { RendererKind, Screen, ScreenEvents, ScreenFactory } from './sessions.ts';
import { defineXtermStyle } from './xterm-style.ts';

export interface TerminalOptions {
  /** No keystrokes reach `events.input` (nor xterm's answers to the guest's queries). */
  readOnly: boolean;
  /** A fixed size (a replay plays at its recording's size); else the terminal fits its pane. */
  size?: { cols: number; rows: number };
  /** Raw guest strings (title, link) are handed over as they are: the receiver shows them as text. */
  events: ScreenEvents;
}

export const createScreen: ScreenFactory<HTMLElement> = (options) => new ConsoleTerminal(options);

/** Lines kept above the screen: about 5000 × 160 columns ≈ 10 MB at most per console. */
export const SCROLLBACK = 5000;

const THEME = {
  background: '#0a0d12',
  foreground: '#e6edf5',
  cursor: '#ffd84d',
  cursorAccent: '#0a0d12',
  selectionBackground: '#1d3a5c',
  black: '#1b222c', red: '#ff6b3d', green: '#3fc79a', yellow: '#f0e442', blue: '#56b4e9', magenta: '#d89bd0', cyan: '#5fd7d7', white: '#c8d1dc',
  brightBlack: '#6f7f93', brightRed: '#ff8f6b', brightGreen: '#6fe0b8', brightYellow: '#fff27a', brightBlue: '#8fd0f5', brightMagenta: '#ebbde5', brightCyan: '#9aeaea', brightWhite: '#ffffff',
};

/** Keys the cockpit keeps even inside a terminal: Alt+1…4 switch views (App.tsx). */
function cockpitKey(e: KeyboardEvent): boolean {
  return e.altKey && !e.ctrlKey && !e.metaKey && e.key >= '1' && e.key <= '4';
}

/** Whether to try WebGL: not when the page asks for the DOM renderer (`?console-renderer=dom`, for the tests and
 *  for a machine whose GPU draws badly). */
function wantsWebgl(): boolean {
  const asked = new URLSearchParams(location.search).get('console-renderer');
  if (asked === 'dom') return false;
  if (asked === 'webgl') return true;
  return softwareGl() === null;
}

let glChecked: { renderer: string | null } | undefined;

/**
 * The name of a software GL (SwiftShader, llvmpipe) when that is what WebGL would draw with, else null. On a machine
 * without a GPU, WebGL through software costs a core in Chromium's GPU process and makes a flood's frames long
 * (bench:console: 116–475 ms tasks, echo p99 ~500 ms, against none over 50 ms and 75 ms with the DOM renderer).
 */
function softwareGl(): string | null {
  if (glChecked) return glChecked.renderer;
  let renderer: string | null = null;
  try {
    const gl = document.createElement('canvas').getContext('webgl2');
    const info = gl?.getExtension('WEBGL_debug_renderer_info');
    const name = gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : '';
    if (/swiftshader|llvmpipe|softpipe|software/i.test(name)) renderer = name.slice(0, 80);
    gl?.getExtension('WEBGL_lose_context')?.loseContext();
  } catch {
    // No answer: try WebGL, and fall back on failure as before.
  }
  glChecked = { renderer };
  return renderer;
}

export class ConsoleTerminal implements Screen<HTMLElement> {
  readonly term: Terminal;
  private readonly fitAddon = new FitAddon();
  private readonly searchAddon = new SearchAddon();
  private webgl: WebglAddon | null = null;
  private kind: RendererKind | null = null;
  private opened = false;
  private disposed = false;

  constructor(private readonly options: TerminalOptions) {
    defineXtermStyle();
    const { events } = options;
    const settings: ITerminalOptions = {
      // No proposed API: nothing experimental that could open a window or reach the page.
      allowProposedApi: false,
      // Every window manipulation and report off (xterm's default, stated): no title report that would type the
      // guest's own title back into its shell, no resizing or moving the window.
      windowOptions: {},
      // OSC 8: only http(s) links are even recognised; activating one asks the allowlist, then the responder.
      linkHandler: {
        allowNonHttpProtocols: false,
        activate: (_event, uri) => events.link(uri, linkVerdict(uri)),
        hover: (_event, uri) => events.hover(uri),
        leave: () => events.hover(null),
      },
      disableStdin: options.readOnly,
      scrollback: SCROLLBACK,
      cursorBlink: false,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
      fontSize: 13,
      theme: THEME,
      // Text in the background's colour (or near it) is drawn readable: a guest cannot hide output from the responder.
      minimumContrastRatio: 4.5,
      logLevel: 'warn',
      ...(options.size !== undefined ? { cols: options.size.cols, rows: options.size.rows } : {}),
    };
    this.term = new Terminal(settings);
    const t = this.term;
    t.loadAddon(this.fitAddon);
    t.loadAddon(this.searchAddon);
    t.attachCustomKeyEventHandler((e) => !cockpitKey(e));
    // OSC 52 (clipboard): xterm has no handler of its own; this one swallows it, and says so.
    t.parser.registerOscHandler(52, (data) => {
      events.clipboard(clipboardAttempt(data));
      return true;
    });
    // Palette changes refused (a query falls through to xterm, which answers it).
    for (const ident of [4, 10, 11, 12]) {
      t.parser.registerOscHandler(ident, (data) => {
        if (onlyAsksColours(ident, data)) return false;
        events.palette();
        return true;
      });
    }
    t.onTitleChange((title) => events.title(title));
    t.onData((data) => {
      if (!this.options.readOnly) events.input(data);
    });
    t.onResize(({ cols, rows }) => events.resize(cols, rows));
  }

  get renderer(): RendererKind | null {
    return this.kind;
  }

  get cols(): number {
    return this.term.cols;
  }

  get rows(): number {
    return this.term.rows;
  }

  /** Shows the terminal in `container` (the first time it opens it there; later it moves its element). */
  attach(container: HTMLElement): void {
    if (this.disposed) return;
    if (!this.opened) {
      this.opened = true;
      this.term.open(container);
      this.useRenderer();
    } else if (this.term.element !== undefined && this.term.element.parentElement !== container) {
      container.appendChild(this.term.element);
    }
    this.fit();
  }

  /** Fits the pane (not a fixed-size replay); false when the pane has no size (hidden). */
  fit(): boolean {
    if (this.options.size !== undefined || !this.opened || this.disposed) return false;
    const dims = this.fitAddon.proposeDimensions();
    if (dims === undefined || !Number.isFinite(dims.cols) || !Number.isFinite(dims.rows) || dims.cols < 2 || dims.rows < 1) return false;
    if (dims.cols !== this.term.cols || dims.rows !== this.term.rows) this.term.resize(dims.cols, dims.rows);
    return true;
  }

  resize(cols: number, rows: number): void {
    if (!this.disposed) this.term.resize(cols, rows);
  }

  write(data: Uint8Array | string, drawn?: () => void): void {
    if (this.disposed) return;
    this.term.write(data, drawn);
  }

  /** No more keystrokes (read-only, or the session closed). */
  setReadOnly(on: boolean): void {
    this.options.readOnly = on;
    if (!this.disposed) this.term.options.disableStdin = on;
  }

  focus(): void {
    if (!this.disposed) this.term.focus();
  }

  find(text: string, backwards: boolean): boolean {
    if (text === '') {
      this.searchAddon.clearDecorations();
      return false;
    }
    return backwards ? this.searchAddon.findPrevious(text) : this.searchAddon.findNext(text);
  }

  /** The screen and scrollback as VT text (the serialize addon, loaded when first asked): the tests compare a
   *  replay's screen with the live one's through it. */
  async serialize(): Promise<string> {
    const { SerializeAddon } = await import('@xterm/addon-serialize');
    const addon = new SerializeAddon();
    this.term.loadAddon(addon);
    try {
      return addon.serialize();
    } finally {
      addon.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.webgl = null;
    this.term.dispose();
  }

  private useRenderer(): void {
    if (!wantsWebgl()) {
      const soft = softwareGl();
      this.setKind('dom', soft !== null ? `WebGL here is software (${soft}): drawing with the DOM renderer, which is faster on this machine.` : 'The page asked for the DOM renderer.');
      return;
    }
    try {
      const webgl = new WebglAddon();
      webgl.onContextLoss(() => {
        // The GPU went away (driver reset, too many contexts): draw with the DOM from here on.
        webgl.dispose();
        if (this.webgl === webgl) this.webgl = null;
        this.setKind('dom', 'The WebGL context was lost; drawing with the DOM renderer.');
      });
      this.term.loadAddon(webgl);
      this.webgl = webgl;
      this.setKind('webgl', null);
    } catch (err) {
      this.setKind('dom', `WebGL is not available here (${(err as Error)?.message ?? String(err)}); drawing with the DOM renderer.`);
    }
  }

  private setKind(kind: RendererKind, note: string | null): void {
    this.kind = kind;
    this.options.events.renderer(kind, note);
  }
}
