// The node list, rendered once per row version. A fleet's dashboards re-read the same thousand
// nodes every few seconds, and turning rows into Ironic's JSON (parsing the jsonb columns, masking
// secrets, stringifying) was most of a list's cost; a row's version changes with every UPDATE, so
// a cached rendering is never stale, and a node's view is the same for every caller allowed to see it.
import type { Request } from 'express';
import { findNodeVersions, listNodeVersions, type NodeFilters } from '../db/nodes.js';
import type { Page } from '../db/paging.js';
import type { Queryable } from '../db/pool.js';
import { nodeView, pageJson } from './views.js';

/** Renderings kept at most (about 1 KB each): a 10,000-node fleet twice over. */
const MAX_RENDERINGS = 20_000;

export class NodeListRenderer {
  /** By node UUID, oldest first (a hit moves to the end), so the first is the one to drop. */
  private readonly renderings = new Map<string, { version: string; json: string }>();

  constructor(private readonly maxRenderings = MAX_RENDERINGS) {}

  /** The list's body as JSON text, as pageView would render the same page. */
  async page(db: Queryable, req: Request, filters: NodeFilters, page: Page): Promise<string> {
    const versions = await listNodeVersions(db, filters, page);
    const fresh = new Map<string, string>();
    const stale = versions.filter((v) => this.renderings.get(v.uuid)?.version !== v.row_version);
    if (stale.length > 0) {
      for (const { row_version, ...node } of await findNodeVersions(
        db,
        stale.map((v) => v.uuid),
      )) {
        const json = JSON.stringify(nodeView(req, node));
        this.keep(node.uuid, row_version, json);
        fresh.set(node.uuid, json);
      }
    }
    const rendered: string[] = [];
    for (const { uuid, row_version } of versions) {
      let json = fresh.get(uuid); // fetched just now, perhaps a version newer than listed
      if (json === undefined) {
        const kept = this.renderings.get(uuid);
        // Not fetched and not kept at this version: deleted between the two queries, so left out, as if listed a moment later.
        if (kept?.version !== row_version) continue;
        this.keep(uuid, row_version, kept.json); // to the end: recently used
        json = kept.json;
      }
      rendered.push(json);
    }
    return pageJson(req, 'nodes', versions, rendered, page.limit);
  }

  private keep(uuid: string, version: string, json: string): void {
    this.renderings.delete(uuid);
    this.renderings.set(uuid, { version, json });
    if (this.renderings.size > this.maxRenderings) {
      this.renderings.delete(this.renderings.keys().next().value!);
    }
  }
}
