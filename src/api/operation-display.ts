// What the Temporal UI shows of an operation from its start: a one-line summary and a few lines
// of details (node, verb, who asked, image). They go into the workflow's history, so nothing
// secret: URLs are redacted, driver_info and the config drive are left out.
import type { NodeRecord } from '../db/nodes.js';
import type { RequestContext } from '../domain/context.js';
import { redactUrl } from '../domain/secrets.js';

function imageOf(node: NodeRecord): string | undefined {
  const source = node.instance_info.image_source;
  return typeof source === 'string' ? redactUrl(source) : undefined;
}

const askedBy = ({ user, project }: RequestContext) =>
  user ? `${user}${project ? ` (${project})` : ''}` : 'the system';

/** `deploy lab-000 · disk.raw · by bob (bigco)` */
export function operationSummary(node: NodeRecord, operation: string, context: RequestContext): string {
  const image = imageOf(node);
  const imageName = image && image.split('?')[0].split('/').pop();
  return [`${operation} ${node.name ?? node.uuid}`, imageName, `by ${askedBy(context)}`].filter(Boolean).join(' · ');
}

/** Markdown, one fact a line. */
export function operationDetails(node: NodeRecord, operation: string, context: RequestContext): string {
  const image = imageOf(node);
  const hash = node.instance_info.image_os_hash_value;
  return [
    `**Node**: ${node.name ?? '(no name)'} \`${node.uuid}\``,
    `**Operation**: ${operation}, from ${node.provision_state}`,
    `**Asked by**: ${askedBy(context)}, request \`${context.requestId}\``,
    `**Driver**: ${node.driver} · **Owner**: ${node.owner ?? '-'} · **Lessee**: ${node.lessee ?? '-'}`,
    ...(image
      ? [
          `**Image**: ${image}${typeof hash === 'string' ? ` (${node.instance_info.image_os_hash_algo} ${hash.slice(0, 16)}…)` : ''}`,
        ]
      : []),
  ].join('\n');
}
