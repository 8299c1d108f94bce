import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { RequestContext } from '../domain/context.js';
import { callerOf } from './auth.js';

const REQUEST_ID_HEADER = 'x-openstack-request-id';
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Takes the caller's request id (Ironic's header) when it is sane, else makes one. */
export const requestId: RequestHandler = (req, res, next) => {
  const given = req.get(REQUEST_ID_HEADER);
  const id = given && SAFE_REQUEST_ID.test(given) ? given : `req-${randomUUID()}`;
  res.locals.requestId = id;
  res.set(REQUEST_ID_HEADER, id);
  next();
};

/** The node a request concerns: its log lines carry the node's UUID from here on. */
export function logNode(req: Request, nodeUuid: string): void {
  if (req.res) req.res.locals.nodeUuid = nodeUuid;
}

/** Who asked, for the event log: the caller authenticate() found, and the request id. */
export function requestContext(req: Request): RequestContext {
  const caller = callerOf(req);
  return {
    user: caller.userId,
    project: caller.projectId,
    requestId: req.res?.locals.requestId ?? `req-${randomUUID()}`,
  };
}
