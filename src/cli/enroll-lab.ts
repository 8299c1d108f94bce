// Enrolls lab machines through the public API, as an operator would: one node and its ports
// per machine. Idempotent, so a restarted lab (new password, same names) is updated in place.
import type { Lab } from '../sim/lab.js';

export interface ApiAccess {
  url: string;
  /** An admin API token: enrolling is an admin's job. */
  token: string;
}

export interface LabCredentials {
  username: string;
  password: string;
  /** The nodes were enrolled with this password before (a restart keeping its data folder). */
  enrolledBefore?: boolean;
}

/** How long a restarted lab waits for a node's running operation before updating its BMC credentials. */
const LOCKED_NODE_WAIT_MS = 120_000;

function send(api: ApiAccess, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${api.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${api.token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** The answer, unless it is neither a success nor a 404. */
async function expected(method: string, path: string, response: Response): Promise<Response> {
  if (!response.ok && response.status !== 404) {
    throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
  }
  return response;
}

async function call(api: ApiAccess, method: string, path: string, body?: unknown): Promise<Response> {
  return expected(method, path, await send(api, method, path, body));
}

/** Enrollments at once: a thousand-machine lab comes up in seconds without flooding the API. */
const CONCURRENT_ENROLLMENTS = 8;

async function enrollMachine(
  api: ApiAccess,
  { name, bmcUrl, macs, machine }: Lab['machines'][number],
  credentials: LabCredentials,
): Promise<string> {
  const driverInfo = {
    redfish_address: bmcUrl,
    redfish_username: credentials.username,
    redfish_password: credentials.password,
  };
  const existing = await call(api, 'GET', `/v1/nodes/${name}`);
  if (existing.ok) {
    const node = (await existing.json()) as { uuid: string; driver_info: Record<string, unknown> };
    const unchanged =
      credentials.enrolledBefore &&
      node.driver_info.redfish_address === bmcUrl &&
      node.driver_info.redfish_username === credentials.username;
    if (!unchanged) await patchWhenUnlocked(api, node.uuid, { driver_info: driverInfo });
    return node.uuid;
  }
  const created = await call(api, 'POST', '/v1/nodes', {
    name,
    driver: 'redfish',
    driver_info: driverInfo,
    resource_class: 'lab',
    properties: { cpus: 4, memory_mb: 8192, local_gb: Math.floor(machine.diskSizeBytes / 1024 ** 3) },
  });
  const node = (await created.json()) as { uuid: string };
  for (const address of macs) await call(api, 'POST', '/v1/ports', { address, node_uuid: node.uuid });
  return node.uuid;
}

/**
 * PATCHes the node, waiting (bounded) while an operation begun before a restart still holds it:
 * the restarted worker finishes or fails it, and then the node takes changes again.
 */
async function patchWhenUnlocked(api: ApiAccess, uuid: string, body: unknown): Promise<void> {
  const deadline = Date.now() + LOCKED_NODE_WAIT_MS;
  const path = `/v1/nodes/${uuid}`;
  let response = await send(api, 'PATCH', path, body);
  while (response.status === 409 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    response = await send(api, 'PATCH', path, body);
  }
  await expected('PATCH', path, response);
}

/** Returns the node UUIDs in lab order. */
export async function enrollLab(api: ApiAccess, lab: Lab, credentials: LabCredentials): Promise<string[]> {
  const uuids: string[] = new Array(lab.machines.length);
  let next = 0;
  const enrollNext = async (): Promise<void> => {
    for (let i = next++; i < lab.machines.length; i = next++)
      uuids[i] = await enrollMachine(api, lab.machines[i], credentials);
  };
  await Promise.all(Array.from({ length: CONCURRENT_ENROLLMENTS }, enrollNext));
  return uuids;
}
