// The feed's keyboard: which key does what, as a pure function of the key and where the focus is, so it is
// tested without a browser. Browser and OS shortcuts (with Ctrl, Alt or Meta) are never taken.
//
// Actions on the VM in the detail pane take Shift and a letter (Shift+F freezes): a capital on purpose, so that a
// stray key in the feed (j, k, Space) never acts on a VM, and Caps Lock alone does not either. Terminate, seize and
// isolate open their dialog; the others act at once, as their buttons do.
import type { ActionKind } from '../../../protocol/index.ts';

/** The letter that, with Shift, asks each action of the VM shown in the detail pane. */
export const ACTION_KEYS: Readonly<Record<ActionKind, string>> = {
  freeze: 'F',
  resume: 'R',
  isolate: 'I',
  release: 'L',
  clone: 'C',
  seize: 'S',
  terminate: 'T',
};

/** "Shift+F", as the buttons' titles show it. */
export function actionShortcut(kind: ActionKind): string {
  return `Shift+${ACTION_KEYS[kind]}`;
}

const ACTION_BY_KEY: ReadonlyMap<string, ActionKind> = new Map(
  (Object.entries(ACTION_KEYS) as [ActionKind, string][]).map(([kind, key]) => [key, kind]),
);

export type ActCommand = `act-${ActionKind}`;

export type FeedCommand =
  | 'up'
  | 'down'
  | 'page-up'
  | 'page-down'
  | 'newest'
  | 'oldest'
  | 'open-detail'
  | 'focus-search'
  | 'toggle-follow'
  | 'clear-selection'
  | 'clear-search'
  | 'leave-search'
  | 'back-to-list'
  | 'open-console'
  | ActCommand;

/** Where the key was pressed: the search box, a form field (select, other input), a button, the detail pane,
 *  an open dialog (which keeps every key to itself), or anywhere else (the feed itself, the page). */
export type KeyTarget = 'search' | 'control' | 'button' | 'detail' | 'dialog' | 'other';

export interface KeyPress {
  key: string;
  ctrlKey?: boolean;
  altKey?: boolean;
  metaKey?: boolean;
  shiftKey?: boolean;
}

export function commandForKey(press: KeyPress, target: KeyTarget): FeedCommand | null {
  if (press.ctrlKey || press.altKey || press.metaKey) return null;
  const { key } = press;
  if (target === 'dialog') return null;
  if (press.shiftKey === true && (target === 'other' || target === 'button' || target === 'detail')) {
    const kind = ACTION_BY_KEY.get(key);
    if (kind !== undefined) return `act-${kind}`;
  }
  switch (target) {
    case 'search':
      if (key === 'Escape') return 'clear-search';
      if (key === 'Enter' || key === 'ArrowDown') return 'leave-search';
      return null;
    case 'control':
      // A select or input keeps its own keys (arrows change a select).
      return key === 'Escape' ? 'back-to-list' : null;
    case 'button':
      // A button keeps Enter and Space (they press it); the feed's other keys still work from it.
      if (key === 'Enter' || key === ' ' || key === 'Spacebar') return null;
      return commandForKey(press, 'other');
    case 'detail':
      if (key === 'Escape') return 'back-to-list';
      if (key === '/') return 'focus-search';
      return null;
    case 'other':
      switch (key) {
        case 'ArrowUp':
        case 'k':
          return 'up';
        case 'ArrowDown':
        case 'j':
          return 'down';
        case 'PageUp':
          return 'page-up';
        case 'PageDown':
          return 'page-down';
        case 'Home':
          return 'newest';
        case 'End':
          return 'oldest';
        case 'Enter':
          return 'open-detail';
        case '/':
          return 'focus-search';
        case ' ':
        case 'Spacebar':
          return 'toggle-follow';
        case 'Escape':
          return 'clear-selection';
        case 'o':
          return 'open-console';
        default:
          return null;
      }
  }
}
