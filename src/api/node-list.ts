// The node list, rendered once per row version. A fleet's dashboards re-read the same thousand
// nodes every few seconds, and turning rows into Ironic's JSON (parsing the jsonb columns, masking
// secrets, stringifying) was most of a list's cost; a row's version changes with every UPDATE, so
// a cached rendering is never stale, and a node's view is the same for every caller allowed to see it.
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { findNodeVersions, listNodeVersions, type NodeFilters } from '../db/nodes.js';
import type { Page } from '../db/paging.js';
import type { Queryable } from '../db/pool.js';
import { nextPageUrl, nodeView, pageJson } from './views.js';

/** Renderings kept at most (about 1 KB each): a 10,000-node fleet twice over. */
const MAX_RENDERINGS = 20_000;

interface Rendering {
  version: string;
  json: string;
}

export class NodeListRenderer {
  /** By node UUID, oldest first (a hit moves to the end), so the first is the one to drop. */
  private readonly renderings = new Map<string, Rendering>();

  constructor(private readonly maxRenderings = MAX_RENDERINGS) {}

  /**
   * The list's body as JSON text, as pageView would render the same page, and its entity tag: a
   * hash of the node versions it renders (and its links), so a dashboard asking again with
   * If-None-Match gets a 304 while nothing changed, and the body is never hashed byte by byte.
   */
  async page(db: Queryable, req: Request, filters: NodeFilters, page: Page): Promise<{ json: string; etag: string }> {
    const versions = await listNodeVersions(db, filters, page);
    const fresh = new Map<string, Rendering>();
    const stale = versions.filter((v) => this.renderings.get(v.uuid)?.version !== v.row_version);
    if (stale.length > 0) {
      for (const { row_version, ...node } of await findNodeVersions(
        db,
        stale.map((v) => v.uuid),
      )) {
        const rendering = { version: row_version, json: JSON.stringify(nodeView(req, node)) };
        this.keep(node.uuid, rendering);
        fresh.set(node.uuid, rendering);
      }
    }
    const rendered: string[] = [];
    const tag = createHash('sha1');
    for (const { uuid, row_version } of versions) {
      let rendering = fresh.get(uuid); // fetched just now, perhaps a version newer than listed
      if (rendering === undefined) {
        const kept = this.renderings.get(uuid);
        // Not fetched and not kept at this version: deleted between the two queries, so left out, as if listed a moment later.
        if (kept?.version !== row_version) continue;
        this.keep(uuid, kept); // to the end: recently used
        rendering = kept;
      }
      rendered.push(rendering.json);
      tag.update(`${uuid}:${rendering.version}\n`);
    }
    const next = nextPageUrl(req, versions, page.limit);
    // The links (the public URL in each node's, the next page's) are in the body, not in the versions.
    tag.update(`${req.app.locals.publicUrl}\n${next ?? ''}`);
    return { json: pageJson('nodes', rendered, next), etag: `W/"${tag.digest('base64url')}"` };
  }

  private keep(uuid: string, rendering: Rendering): void {
    this.renderings.delete(uuid);
    this.renderings.set(uuid, rendering);
    if (this.renderings.size > this.maxRenderings) {
      this.renderings.delete(this.renderings.keys().next().value!);
    }
  }
}
