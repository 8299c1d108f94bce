// Reservations through the API, on the real Temporal dev server and PostgreSQL: capacity over the
// window (409 naming the shortfall), extend and shorten checked the same way, cancel, scoping by
// project, the event log under the reservation's UUID, the workflow's search attributes, and a
// recurring reservation (a Temporal Schedule) that fires twice, is paused, and deleted.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { insertNode } from '../../src/db/nodes.js';
import { startHarness, type Harness } from '../support/harness.js';
import { tenantTokens, type Tenant } from '../support/tenants.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('reservations', () => {
  let h: Harness;
  let tokens: Record<Tenant, string>;
  const at = (ms: number) => new Date(Date.now() + ms).toISOString();

  async function nodes(resourceClass: string, count: number): Promise<string[]> {
    const uuids = Array.from({ length: count }, () => randomUUID());
    for (const uuid of uuids) {
      await insertNode(h.pool, {
        uuid,
        driver: 'fake',
        resource_class: resourceClass,
        provision_state: 'available',
        power_state: 'power off',
        owner: 'acme',
      });
    }
    return uuids;
  }

  const reserve = (fields: Record<string, unknown>, token = tokens.alice) =>
    h.http(
      'POST',
      '/v1/reservations',
      { resource_class: 'cap', count: 1, lessee: 'bigco', start_at: at(HOUR), end_at: at(2 * HOUR), ...fields },
      token,
    );

  before(async () => {
    h = await startHarness();
    tokens = await tenantTokens(h);
  });
  after(async () => h?.close());

  it('promises only what the window has free (409 with the shortfall), extends and shortens the same way, and cancels', async () => {
    await nodes('cap', 3);
    const first = await reserve({ count: 2 });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual(
      [first.body.status, first.body.owner, first.body.lessee, first.body.count],
      ['pending', 'acme', 'bigco', 2],
    );
    const self = `/v1/reservations/${first.body.uuid}`;

    // Overlaps the first for half an hour: only one node is left then.
    const tooMany = await reserve({ count: 2, start_at: at(90 * MINUTE), end_at: at(3 * HOUR) });
    assert.equal(tooMany.status, 409);
    assert.deepEqual(
      [tooMany.body.error.code, tooMany.body.error.shortfall, tooMany.body.error.nodes, tooMany.body.error.reserved],
      ['insufficient_capacity', 1, 3, 2],
    );
    assert.match(tooMany.body.error.message, /^1 of 2 nodes of class cap are not free in the window/);
    const second = await reserve({ count: 1, start_at: at(90 * MINUTE), end_at: at(3 * HOUR) });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    // Back to back with the first, which does not count: only the second's one node is taken then.
    const backToBack = await reserve({ count: 3, start_at: first.body.end_at, end_at: at(150 * MINUTE) });
    assert.deepEqual([backToBack.status, backToBack.body.error.shortfall], [409, 1]);

    // Extending the first into the second's window needs 3 nodes at once: there are.
    const patch = (uuid: string, end: number, token = tokens.alice) =>
      h.http('PATCH', `/v1/reservations/${uuid}`, { end_at: at(end) }, token);
    const extended = await patch(first.body.uuid, 150 * MINUTE);
    assert.deepEqual(
      [extended.status, Date.parse(extended.body.end_at) > Date.parse(first.body.end_at)],
      [200, true],
      JSON.stringify(extended.body),
    );
    assert.equal((await reserve({ count: 1, start_at: at(2 * HOUR), end_at: at(4 * HOUR) })).status, 409);
    const third = await reserve({ count: 1, start_at: at(3 * HOUR), end_at: at(4 * HOUR) });
    assert.equal(third.status, 201);
    assert.equal((await patch(first.body.uuid, 210 * MINUTE)).status, 200);
    // Now the first (2) and the third (1) fill every node from 3 h on: the second cannot grow into it.
    const refused = await patch(second.body.uuid, 4 * HOUR);
    assert.deepEqual(
      [refused.status, refused.body.error.code, refused.body.error.shortfall],
      [409, 'insufficient_capacity', 1],
    );
    assert.equal((await patch(first.body.uuid, 90 * MINUTE)).status, 200, 'shortening needs no capacity');
    // The workflow's validator refuses what its phase forbids, synchronously, with the reason.
    const beforeStart = await patch(first.body.uuid, 30 * MINUTE);
    assert.deepEqual(
      [beforeStart.status, beforeStart.body.error.code, beforeStart.body.error.message],
      [409, 'reservation_change_refused', 'end_at must be after start_at'],
    );
    const row = (await h.pool.query('SELECT end_at FROM reservations WHERE uuid = $1', [first.body.uuid])).rows[0];
    assert.ok(Math.abs(row.end_at.getTime() - (Date.now() + 90 * MINUTE)) < MINUTE, 'a refused change changed nothing');
    for (const [body, field] of [
      [{ end_at: 'tomorrow' }, 'end_at'],
      [{ end_at: at(2 * HOUR), start_at: at(HOUR) }, 'start_at'],
    ] as const) {
      const bad = await h.http('PATCH', self, body, tokens.alice);
      assert.deepEqual([bad.status, bad.body.error.field], [400, field]);
    }

    // Scoped: owner and lessee see it, a stranger does not; only the owner resizes it.
    assert.equal((await h.http('GET', self, undefined, tokens.auditor)).status, 200);
    assert.equal((await h.http('GET', self, undefined, tokens.bob)).status, 200);
    assert.equal((await h.http('GET', self, undefined, tokens.eve)).status, 404);
    assert.equal((await patch(first.body.uuid, 2 * HOUR, tokens.auditor)).status, 403);
    assert.equal((await patch(first.body.uuid, 2 * HOUR, tokens.bob)).status, 403);
    assert.equal((await h.http('DELETE', self, undefined, tokens.eve)).status, 404);
    const listed = async (token: string) =>
      (await h.http('GET', '/v1/reservations?resource_class=cap', undefined, token)).body.reservations.map(
        (r: any) => r.uuid,
      );
    assert.deepEqual(await listed(tokens.bob), [first.body.uuid, second.body.uuid, third.body.uuid]);
    assert.deepEqual(await listed(tokens.eve), []);

    // The workflow carries the search attributes the Temporal UI filters on.
    const description = await h.client.workflow.getHandle(`reservation/${first.body.uuid}`).describe();
    assert.deepEqual(
      ['ReservationId', 'Lessee', 'ResourceClass'].map((key) => description.searchAttributes[key]),
      [[first.body.uuid], ['bigco'], ['cap']],
    );

    // The lessee gives it back before it starts.
    const cancelled = await h.http('DELETE', self, undefined, tokens.bob);
    assert.equal(cancelled.status, 202, JSON.stringify(cancelled.body));
    await h.waitFor(self, (r: any) => r.status === 'cancelled');
    assert.equal((await h.http('DELETE', self, undefined, tokens.bob)).body.error.code, 'reservation_change_refused');
    const story = (await h.http('GET', `${self}/events`, undefined, tokens.bob)).body.events.map((e: any) => e.event);
    assert.deepEqual(story, ['create', 'change end', 'change end', 'change end', 'cancel', 'cancelled']);
  });

  it("refuses bad requests with the field named, and reserving another project's nodes", async () => {
    const cases: Array<[Record<string, unknown>, number, string | undefined, string?]> = [
      [{ end_at: at(30 * MINUTE) }, 400, 'end_at'],
      [{ start_at: at(-HOUR) }, 400, 'start_at'],
      [{ start_at: 'soon' }, 400, 'start_at'],
      [{ count: 0 }, 400, 'count'],
      [{ flavor: 'big' }, 400, 'flavor'],
      [
        {
          deploy: {
            node: 'x',
            image_source: 'http://127.0.0.1:9/a',
            os_hash_algo: 'sha256',
            os_hash_value: '0'.repeat(64),
          },
        },
        400,
        'deploy.node',
      ],
      [
        { deploy: { image_source: 'ftp://127.0.0.1/a', os_hash_algo: 'sha256', os_hash_value: '0'.repeat(64) } },
        400,
        'deploy.image_source',
      ],
      [{ owner: 'zed' }, 403, undefined],
      [{}, 403, undefined, tokens.auditor],
      [{}, 400, 'owner', h.config.adminToken!],
    ];
    for (const [body, status, field, token] of cases) {
      const response = await reserve(body, token ?? tokens.alice);
      assert.deepEqual([response.status, response.body.error?.field], [status, field], JSON.stringify(response.body));
    }
    const none = await reserve({}, tokens.eve);
    assert.deepEqual([none.status, none.body.error.nodes, none.body.error.shortfall], [409, 0, 1]);
  });

  it('claims its nodes even when another allocation took the reservation UUID', async () => {
    await nodes('taken', 1);
    const soon = { resource_class: 'taken', start_at: at(2000), end_at: at(6000) };
    const reservation = await reserve(soon);
    assert.equal(reservation.status, 201, JSON.stringify(reservation.body));
    const squatter = await h.http(
      'POST',
      '/v1/allocations',
      { uuid: reservation.body.uuid, resource_class: 'none' },
      tokens.bob,
    );
    assert.deepEqual([squatter.status, squatter.body.state], [201, 'error']);
    const self = `/v1/reservations/${reservation.body.uuid}`;
    const ended = await h.waitFor(self, (r: any) => r.status === 'ended', 60_000);
    assert.equal(ended.shortfall, 0);
    const story = (await h.get(`${self}/events`)).body.events.map((e: any) => e.event);
    assert.deepEqual(story, ['create', 'active', 'claim', 'release', 'ended']);
    assert.equal(
      (await h.get(`/v1/allocations/${reservation.body.uuid}`)).body.owner,
      'bigco',
      'the squatter keeps its own',
    );
  });

  it('runs a recurring reservation as a Temporal Schedule: it fires twice, pauses and is deleted', async () => {
    const [node] = await nodes('sched', 1);
    const bad = await h.http(
      'POST',
      '/v1/reservation_schedules',
      { resource_class: 'sched', count: 1, lessee: 'bigco', cron: 'bad', duration_seconds: 2 },
      tokens.alice,
    );
    assert.deepEqual([bad.status, bad.body.error.field], [400, 'cron']);
    const created = await h.http(
      'POST',
      '/v1/reservation_schedules',
      { resource_class: 'sched', count: 1, lessee: 'bigco', every_seconds: 4, duration_seconds: 2 },
      tokens.alice,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.paused, false);
    const self = `/v1/reservation_schedules/${created.body.uuid}`;

    const ended = (body: any) => body.reservations.filter((r: any) => r.status === 'ended');
    const fired = await h.waitFor(
      `/v1/reservations?schedule=${created.body.uuid}`,
      (body: any) => ended(body).length >= 2,
      90_000,
    );
    for (const reservation of ended(fired).slice(0, 2)) {
      assert.deepEqual([reservation.lessee, reservation.resource_class, reservation.shortfall], ['bigco', 'sched', 0]);
      const story = (await h.get(`/v1/reservations/${reservation.uuid}/events`)).body.events.map((e: any) => e.event);
      assert.deepEqual(story, ['create', 'active', 'claim', 'release', 'ended']);
    }

    const paused = await h.http('PATCH', self, { paused: true, note: 'maintenance week' }, tokens.alice);
    assert.deepEqual([paused.status, paused.body.paused, paused.body.note], [200, true, 'maintenance week']);
    assert.deepEqual(
      (await h.http('GET', '/v1/reservation_schedules', undefined, tokens.bob)).body.reservation_schedules.map(
        (s: any) => s.uuid,
      ),
      [created.body.uuid],
    );
    assert.deepEqual(
      (await h.http('GET', '/v1/reservation_schedules', undefined, tokens.eve)).body.reservation_schedules,
      [],
    );
    assert.equal((await h.http('DELETE', self, undefined, tokens.bob)).status, 403);
    assert.equal((await h.http('DELETE', self, undefined, tokens.alice)).status, 204);
    assert.equal((await h.get(self)).status, 404);
    await assert.rejects(
      h.client.schedule.getHandle(`reservation-schedule/${created.body.uuid}`).describe(),
      /not found/i,
    );

    // Given back after each firing.
    await h.waitFor(`/v1/nodes/${node}`, (n: any) => n.lessee === null && n.allocation_uuid === null, 30_000);
  });
});
