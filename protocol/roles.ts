// What each role may do on an agent (issue 8): the one table the agent enforces and the cockpit shows. Each role
// includes the one before it: a viewer sees; a responder also acts (every action but seize), opens consoles, pulls
// evidence and approves; a lead also seizes, sanitises and sets the policy.
import type { ActionKind, Role } from './generated/types.ts';

export const ROLES: readonly Role[] = ['viewer', 'responder', 'lead'];

const RANK: Record<Role, number> = { viewer: 0, responder: 1, lead: 2 };

/** Whether `role` may do what `needed` may. */
export function atLeast(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** The role an action needs: seize takes evidence away for good and is a lead's; every other action a responder's. */
export function roleForAction(kind: ActionKind): Role {
  return kind === 'seize' ? 'lead' : 'responder';
}

/** The role that sanitises evidence and sets the auto-response policy (which grants exceptions). */
export const LEAD: Role = 'lead';
