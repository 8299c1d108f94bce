import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import type { Pool } from '../db/pool.js';
import { insertToken, listTokens, revokeToken } from '../db/tokens.js';
import { ROLES } from '../domain/policy.js';
import { authorize, newToken } from './auth.js';
import { notFound, parse } from './errors.js';
import { pageQuery, uuid } from './schemas.js';
import { pageView } from './views.js';

export const createToken = z.strictObject({
  project_id: z.string().min(1).max(255),
  user_id: z.string().min(1).max(255),
  role: z.enum(ROLES).default('member'),
});

export function tokensRouter(pool: Pool): Router {
  const router = Router();
  router.use((req, _res, next) => {
    authorize(req, 'token:manage');
    next();
  });

  router.post('/', async (req, res) => {
    const fields = parse(createToken, req.body);
    const token = newToken();
    const record = (await insertToken(pool, token, { ...fields, uuid: randomUUID() }))!;
    // The only time the token is ever shown.
    res
      .status(201)
      .location(`/v1/auth/tokens/${record.uuid}`)
      .json({ ...record, token });
  });

  router.get('/', async (req, res) => {
    const { limit, marker } = parse(pageQuery, req.query, 'query');
    const tokens = await listTokens(pool, { limit, marker });
    res.json(pageView(req, 'tokens', tokens, tokens, limit));
  });

  router.delete('/:token', async (req, res) => {
    const id = parse(uuid, req.params.token, 'token');
    if (!(await revokeToken(pool, id))) throw notFound('token', id);
    res.status(204).end();
  });

  return router;
}
