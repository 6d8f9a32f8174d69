// What the responder types, on its way to a console (console.input): in order, one call at a time, keystrokes that
// pile up while a call is out joined into the next, and a long paste cut into pieces the contract accepts (at most
// 64 Ki characters), never inside a surrogate pair. Pure; tested in plain Node.

/** The most characters one console.input carries (the schema's maxLength counts code points; this counts UTF-16
 *  units, which is never fewer). */
export const MAX_INPUT_CHARS = 65_536;

export class ConsoleInput {
  private pending: string[] = [];
  private inFlight = false;
  private closed = false;
  private readonly max: number;

  /** `send` makes the call; a rejection is reported to `failed` and the input after it is still sent. */
  constructor(private readonly send: (data: string) => Promise<unknown>, private readonly failed: (err: unknown) => void, max = MAX_INPUT_CHARS) {
    this.max = max;
  }

  type(data: string): void {
    if (this.closed || data === '') return;
    this.pending.push(data);
    this.next();
  }

  /** Drops what was not sent yet and sends nothing more. */
  close(): void {
    this.closed = true;
    this.pending = [];
  }

  /** Characters typed and not yet sent. */
  waiting(): number {
    let n = 0;
    for (const p of this.pending) n += p.length;
    return n;
  }

  private next(): void {
    if (this.inFlight || this.closed || this.pending.length === 0) return;
    const data = this.take();
    this.inFlight = true;
    this.send(data).then(
      () => this.settled(),
      (err: unknown) => {
        this.failed(err);
        this.settled();
      },
    );
  }

  private settled(): void {
    this.inFlight = false;
    this.next();
  }

  /** Joins what waits, up to the limit; the rest stays first in line. */
  private take(): string {
    let out = '';
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      const room = this.max - out.length;
      if (head.length <= room) {
        out += head;
        this.pending.shift();
        continue;
      }
      if (out !== '') break;
      const cut = cutAt(head, room);
      out = head.slice(0, cut);
      this.pending[0] = head.slice(cut);
      break;
    }
    return out;
  }
}

/** Where to cut `text` to at most `max` units without splitting a surrogate pair. */
export function cutAt(text: string, max: number): number {
  if (text.length <= max) return text.length;
  const last = text.charCodeAt(max - 1);
  return last >= 0xd800 && last <= 0xdbff ? max - 1 : max;
}
