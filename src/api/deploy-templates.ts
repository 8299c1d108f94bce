import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import {
  deleteTemplate,
  findTemplate,
  insertTemplate,
  listTemplates,
  updateTemplate,
  type DeployTemplateRecord,
} from '../db/deploy-templates.js';
import type { Pool } from '../db/pool.js';
import { findSecretPath } from '../domain/secrets.js';
import { reservedStepProblem } from '../domain/steps.js';
import { authorize } from './auth.js';
import { conflict, notFound, parse } from './errors.js';
import { applyPatchBody } from './patch.js';
import { jsonObject, pageQuery, trait } from './schemas.js';
import { pageView, templateView } from './views.js';

/** Interfaces a deploy template may add steps to (Ironic's, less the in-band-only ones). */
const TEMPLATE_INTERFACES = ['deploy', 'bios', 'raid', 'management', 'firmware', 'power'] as const;

export const templateFields = z.strictObject({
  name: trait.refine((name) => name.startsWith('CUSTOM_'), 'must be a CUSTOM_ trait'),
  steps: z
    .array(
      z.strictObject({
        interface: z.enum(TEMPLATE_INTERFACES),
        step: z
          .string()
          .regex(/^[a-z][a-z0-9_]*$/, 'must be a step name such as apply_configuration')
          .max(255),
        // Step arguments travel in workflow history, which the Temporal UI shows: no credentials there.
        args: jsonObject.default({}).superRefine((args, ctx) => {
          const secret = findSecretPath(args);
          if (secret) ctx.addIssue({ code: 'custom', path: secret, message: 'credentials may not be step arguments' });
        }),
        priority: z.number().int().min(0).max(1000),
      }),
    )
    .min(1, 'must hold at least one step')
    .superRefine((steps, ctx) => {
      steps.forEach((step, index) => {
        if (step.interface === 'deploy' && step.step === 'hold') {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'step'],
            message: 'deploy.hold parks a manual clean or a service; a deploy cannot hold',
          });
          return;
        }
        const problem = reservedStepProblem(step);
        if (problem) ctx.addIssue({ code: 'custom', path: [index, 'args', ...problem.path], message: problem.message });
      });
    })
    .refine(
      (steps) => new Set(steps.map((s) => `${s.interface}.${s.step}`)).size === steps.length,
      'an interface.step may appear once',
    ),
  extra: jsonObject.default({}),
});
const WRITABLE = ['name', 'steps', 'extra'];

export function deployTemplatesRouter(pool: Pool): Router {
  const router = Router();

  async function load(req: Request): Promise<DeployTemplateRecord> {
    const ident = String(req.params.template);
    const template = await findTemplate(pool, ident);
    if (!template) throw notFound('deploy template', ident);
    return template;
  }

  async function assertNameFree(name: string, except?: string): Promise<void> {
    const holder = await findTemplate(pool, name);
    if (holder && holder.uuid !== except) throw conflict('duplicate_name', `a deploy template named ${name} exists`);
  }

  router.post('/', async (req, res) => {
    authorize(req, 'deploy_template:manage');
    const fields = parse(templateFields, req.body);
    await assertNameFree(fields.name);
    const template = await insertTemplate(pool, { ...fields, uuid: randomUUID() });
    res.status(201).location(`/v1/deploy_templates/${template.uuid}`).json(templateView(req, template));
  });

  router.get('/', async (req, res) => {
    const { limit, marker } = parse(pageQuery, req.query, 'query');
    const templates = await listTemplates(pool, { limit, marker });
    res.json(
      pageView(
        req,
        'deploy_templates',
        templates,
        templates.map((t) => templateView(req, t)),
        limit,
      ),
    );
  });

  router.get('/:template', async (req, res) => {
    res.json(templateView(req, await load(req)));
  });

  router.patch('/:template', async (req, res) => {
    authorize(req, 'deploy_template:manage');
    const template = await load(req);
    const { name, steps, extra } = template;
    const fields = parse(templateFields, applyPatchBody({ name, steps, extra }, WRITABLE, req.body));
    await assertNameFree(fields.name, template.uuid);
    res.json(templateView(req, await updateTemplate(pool, template.uuid, fields)));
  });

  router.delete('/:template', async (req, res) => {
    authorize(req, 'deploy_template:manage');
    await deleteTemplate(pool, (await load(req)).uuid);
    res.status(204).end();
  });

  return router;
}
