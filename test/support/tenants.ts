// The cast of the tenancy tests: two members and a reader of project acme's and bigco's, and eve
// of zed, who owns and leases nothing. Each gets an API token from the admin.
import type { Harness } from './harness.js';

export type Tenant = 'alice' | 'auditor' | 'bob' | 'eve';

const CAST: ReadonlyArray<readonly [Tenant, string, 'member' | 'reader']> = [
  ['alice', 'acme', 'member'],
  ['auditor', 'acme', 'reader'],
  ['bob', 'bigco', 'member'],
  ['eve', 'zed', 'member'],
];

/** An API token for each tenant of the cast. */
export async function tenantTokens(h: Harness): Promise<Record<Tenant, string>> {
  const tokens = {} as Record<Tenant, string>;
  for (const [user, project, role] of CAST) {
    const response = await h.http('POST', '/v1/auth/tokens', { project_id: project, user_id: user, role });
    tokens[user] = response.body.token;
  }
  return tokens;
}
