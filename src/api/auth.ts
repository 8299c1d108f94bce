// Bearer-token authentication and the policy check every router uses.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Pool } from '../db/pool.js';
import { findLiveToken, hasLiveAdminToken, insertToken } from '../db/tokens.js';
import { canSee, isAllowed, type Action, type Caller } from '../domain/policy.js';
import { ApiError } from './errors.js';
import type { RefusalLog } from './refusals.js';

export type AuthMode = 'token' | 'none';

/** Everyone is this caller when authentication is off (TEMPERED_AUTH=none, development only). */
const UNAUTHENTICATED_ADMIN: Caller = { userId: 'anonymous', projectId: 'admin', role: 'admin' };

export function newToken(): string {
  return `tmp_${randomBytes(32).toString('base64url')}`;
}

/** `Authorization: Bearer <token>`, or OpenStack's `X-Auth-Token`. */
function presentedToken(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header) return /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? '';
  return req.get('x-auth-token');
}

export function authenticate(pool: Pool, mode: AuthMode, refusals: RefusalLog): RequestHandler {
  return async (req, res, next) => {
    if (mode === 'none') {
      res.locals.caller = UNAUTHENTICATED_ADMIN;
      return next();
    }
    const token = presentedToken(req);
    if (token === undefined)
      return next(new ApiError(401, 'unauthenticated', 'an API token is required: Authorization: Bearer <token>'));
    const record = token ? await findLiveToken(pool, token) : undefined;
    if (!record) {
      // Admins see these in the event log (coalesced per source); the token itself is never recorded.
      await refusals.refused(
        req.ip ?? 'unknown',
        'authenticate',
        {
          node_uuid: null,
          kind: 'auth',
          verb: 'authenticate',
          message: `invalid or revoked API token for ${req.method} ${req.baseUrl}${req.path} from ${req.ip}`,
        },
        res.locals.requestId,
      );
      return next(new ApiError(401, 'unauthenticated', 'the API token is invalid or revoked'));
    }
    const caller: Caller = { userId: record.user_id, projectId: record.project_id, role: record.role };
    res.locals.caller = caller;
    next();
  };
}

export function callerOf(req: Request): Caller {
  const caller = req.res?.locals.caller as Caller | undefined;
  if (!caller) throw new Error('route is not behind authenticate()');
  return caller;
}

/** 403 unless the caller may; for node actions, call only once the node is known to be visible. */
export function authorize(req: Request, action: Action, node?: { owner: string | null; lessee: string | null }): void {
  const caller = callerOf(req);
  if (!isAllowed(caller, action, node)) {
    throw new ApiError(
      403,
      'forbidden',
      `${caller.role} ${caller.userId} of project ${caller.projectId} may not ${action.replace(':', ' ')}`,
    );
  }
}

type NodeAccess = { owner: string | null; lessee: string | null };

/**
 * `node` when the caller may see it and do `action` on it. A node it may not see is reported
 * by `missing` (a 404, or a 400 for a node named in a body) so its existence does not leak.
 */
export function accessNode<T extends NodeAccess>(
  req: Request,
  node: T | undefined,
  action: Action,
  missing: () => Error,
): T {
  if (!node || !canSee(callerOf(req), node)) throw missing();
  authorize(req, action, node);
  return node;
}

/** For lists: the project whose nodes the caller may see, or undefined for an admin (all). */
export function visibleTo(req: Request): string | undefined {
  const caller = callerOf(req);
  return caller.role === 'admin' ? undefined : caller.projectId;
}

/**
 * Makes sure an admin can get in: TEMPERED_ADMIN_TOKEN is stored (idempotently) when given;
 * otherwise, when no admin token exists, one is generated and returned to be shown once.
 */
export async function bootstrapAdminToken(pool: Pool, configured: string | undefined): Promise<string | undefined> {
  const fields = { project_id: 'admin', user_id: 'admin', role: 'admin' as const };
  if (configured) {
    await insertToken(pool, configured, { ...fields, uuid: randomUUID() });
    // Stored before, then revoked or given another role: starting would leave the operator locked out.
    const stored = await findLiveToken(pool, configured);
    if (stored?.role !== 'admin') throw new Error('TEMPERED_ADMIN_TOKEN is revoked or not an admin token; set another');
    return undefined;
  }
  if (await hasLiveAdminToken(pool)) return undefined;
  const token = newToken();
  await insertToken(pool, token, { ...fields, uuid: randomUUID() });
  return token;
}
