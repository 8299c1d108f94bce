import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { RequestContext } from '../workflows/contract.js';

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

export function requestContext(req: Request): RequestContext {
  // Authentication (and so user and project) arrives with multi-tenancy; until then calls are anonymous.
  return { user: null, project: null, requestId: req.res?.locals.requestId ?? `req-${randomUUID()}` };
}
