// What the API returns: Ironic-shaped JSON with every secret masked.
import type { Request } from 'express';
import type { DeploymentRow } from '../db/deployments.js';
import type { DeployTemplateRecord } from '../db/deploy-templates.js';
import type { EventRecord } from '../db/events.js';
import type { InspectionRuleRecord } from '../db/inspection-rules.js';
import type { NodeRecord } from '../db/nodes.js';
import type { PortRecord } from '../db/ports.js';
import type { DeploymentState } from '../domain/deployments.js';
import { maskSecrets, redactUrl, redactUrls } from '../domain/secrets.js';
import type { StepStatus } from '../domain/steps.js';

/** Links start at the configured public URL (PUBLIC_URL, else the listen address), never at the Host header a caller sent. */
function baseUrl(req: Request): string {
  return req.app.locals.publicUrl as string;
}

const link = (req: Request, path: string) => [{ rel: 'self', href: `${baseUrl(req)}${path}` }];

export function nodeView(req: Request, node: NodeRecord) {
  return {
    ...node,
    driver_info: maskSecrets(node.driver_info),
    driver_internal_info: maskSecrets(node.driver_internal_info),
    instance_info: maskSecrets(node.instance_info),
    // Free-form fields too: whatever a caller stores under a secret-looking key is write-only.
    properties: maskSecrets(node.properties),
    extra: maskSecrets(node.extra),
    last_error: node.last_error === null ? null : redactUrls(node.last_error),
    links: link(req, `/v1/nodes/${node.uuid}`),
  };
}

/** Only the fields asked for (Ironic's `fields=`), or all of them. */
export function pickFields<T extends object>(view: T, fields: readonly string[] | undefined): Partial<T> {
  if (!fields) return view;
  return Object.fromEntries(Object.entries(view).filter(([key]) => fields.includes(key))) as Partial<T>;
}

export function templateView(req: Request, template: DeployTemplateRecord) {
  return { ...template, links: link(req, `/v1/deploy_templates/${template.uuid}`) };
}

export function inspectionRuleView(req: Request, rule: InspectionRuleRecord) {
  return { ...rule, links: link(req, `/v1/inspection_rules/${rule.uuid}`) };
}

export function portView(req: Request, port: PortRecord) {
  return { ...port, links: link(req, `/v1/ports/${port.uuid}`) };
}

/**
 * A deployment with its live status; `steps`, the plan of the operation running for it (null when
 * none runs), only where asked for, as it costs a query of the node's workflow.
 */
export function deploymentView(
  req: Request,
  deployment: DeploymentRow,
  state: DeploymentState,
  steps?: StepStatus[] | null,
) {
  const { uuid, node_uuid, node, created_by, project, image_source, traits, created_at, updated_at, deleted_at } =
    deployment;
  return {
    uuid,
    node_uuid,
    node_name: node?.name ?? null,
    created_by,
    project,
    image_source: redactUrl(image_source),
    traits,
    ...state,
    last_error: state.last_error === null ? null : redactUrls(state.last_error),
    ...(steps !== undefined && { steps }),
    created_at,
    updated_at,
    deleted_at,
    links: link(req, `/v1/deployments/${uuid}`),
  };
}

export function eventView(event: EventRecord) {
  const { verb, user_name, message, ...rest } = event;
  return { ...rest, message: message === null ? null : redactUrls(message), event: verb, user: user_name };
}

/** The URL of the page after `items`, when there may be one (the page came full). */
export function nextPageUrl(req: Request, items: { uuid: string }[], limit: number): string | undefined {
  if (items.length !== limit) return undefined;
  const query = new URLSearchParams(req.query as Record<string, string>);
  query.set('limit', String(limit));
  query.set('marker', items[items.length - 1].uuid);
  return `${baseUrl(req)}${req.originalUrl.split('?')[0]}?${query}`;
}

/** `{ <key>: items, next }` where next is the URL of the following page, when there may be one. */
export function pageView<T extends { uuid: string }>(
  req: Request,
  key: string,
  items: T[],
  rendered: unknown[],
  limit: number,
) {
  const body: Record<string, unknown> = { [key]: rendered };
  const next = nextPageUrl(req, items, limit);
  if (next) body.next = next;
  return body;
}

/** pageView's body as JSON text, from items already rendered as JSON text and the next page's URL. */
export function pageJson(key: string, renderedJson: string[], next: string | undefined): string {
  return `{${JSON.stringify(key)}:[${renderedJson.join(',')}]${next ? `,"next":${JSON.stringify(next)}` : ''}}`;
}
