// Inspection's API: a node's inventory (Ironic's GET /v1/nodes/{id}/inventory) and the inspection
// rules (/v1/inspection_rules), which are fleet-wide and so an admin's alone, reading included.
import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import {
  deleteRule,
  findRule,
  insertRule,
  listRules,
  updateRule,
  type InspectionRuleRecord,
} from '../db/inspection-rules.js';
import { findInventory } from '../db/inventories.js';
import { findNode } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import { inspectionRuleFields } from '../domain/inspection-rules.js';
import { maskSecrets } from '../domain/secrets.js';
import { accessNode, authorize } from './auth.js';
import { notFound, parse } from './errors.js';
import { applyPatchBody } from './patch.js';
import { pageQuery, uuid } from './schemas.js';
import { inspectionRuleView, pageView } from './views.js';

const WRITABLE = ['description', 'priority', 'conditions', 'actions'];

/** GET /v1/nodes/{node}/inventory: 404 until the node has been inspected. */
export function nodeInventoryRouter(pool: Pool): Router {
  const router = Router();
  router.get('/:node/inventory', async (req, res) => {
    const ident = String(req.params.node);
    const node = accessNode(req, await findNode(pool, ident), 'node:inventory', () => notFound('node', ident));
    const found = await findInventory(pool, node.uuid);
    if (!found) throw notFound('inventory of node', node.uuid);
    res.json({ inventory: found.inventory, plugin_data: maskSecrets(found.plugin_data) });
  });
  return router;
}

export function inspectionRulesRouter(pool: Pool): Router {
  const router = Router();
  router.use((req, _res, next) => {
    authorize(req, 'inspection_rule:manage');
    next();
  });

  async function load(req: Request): Promise<InspectionRuleRecord> {
    const id = parse(uuid, req.params.rule, 'rule');
    const rule = await findRule(pool, id);
    if (!rule) throw notFound('inspection rule', id);
    return rule;
  }

  router.post('/', async (req, res) => {
    const fields = parse(inspectionRuleFields, req.body);
    const rule = await insertRule(pool, { ...fields, uuid: randomUUID() });
    res.status(201).location(`/v1/inspection_rules/${rule.uuid}`).json(inspectionRuleView(req, rule));
  });

  router.get('/', async (req, res) => {
    const { limit, marker } = parse(pageQuery, req.query, 'query');
    const rules = await listRules(pool, { limit, marker });
    res.json(
      pageView(
        req,
        'inspection_rules',
        rules,
        rules.map((r) => inspectionRuleView(req, r)),
        limit,
      ),
    );
  });

  router.get('/:rule', async (req, res) => {
    res.json(inspectionRuleView(req, await load(req)));
  });

  router.patch('/:rule', async (req, res) => {
    const rule = await load(req);
    const { description, priority, conditions, actions } = rule;
    const fields = parse(
      inspectionRuleFields,
      applyPatchBody({ description, priority, conditions, actions }, WRITABLE, req.body),
    );
    res.json(inspectionRuleView(req, await updateRule(pool, rule.uuid, fields)));
  });

  router.delete('/:rule', async (req, res) => {
    await deleteRule(pool, (await load(req)).uuid);
    res.status(204).end();
  });

  return router;
}
