// Refused calls are auth events an admin reads, but a source that loops on a bad token must not
// fill the event log: per source, the first refusal is recorded at once and the rest of the
// window's are counted into one later event.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';

/** Long enough for every try of a test to fall in one window, even on a busy machine. */
const WINDOW_SECONDS = 5;
const TRIES = 30;

/** GET `url` with a made-up API token, from the loopback address `from` (a second source). */
function withBadToken(url: string, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { localAddress: from, headers: { authorization: 'Bearer tmp_guessed' } }, (response) => {
      response.resume().once('end', () => resolve(response.statusCode!));
    })
      .once('error', reject)
      .end();
  });
}

describe('failed authentications and bad heartbeats in the event log', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ refusalWindowSeconds: WINDOW_SECONDS });
  });
  after(() => h?.close());

  /** The auth events (of `node`, or without a node), oldest first, waiting until there are `count`. */
  async function authEvents(count: number, node?: string): Promise<any[]> {
    const deadline = Date.now() + 4 * WINDOW_SECONDS * 1000;
    for (;;) {
      const { body } = await h.get(`/v1/events?kind=auth&limit=1000${node ? `&node=${node}` : ''}`);
      const events = (body.events as any[]).filter((e) => (node ? true : e.node_uuid === null));
      if (events.length >= count || Date.now() > deadline) return events;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('records the first bad API token of each source at once and the rest of its window as one count', async () => {
    const sources = ['127.0.0.1', '127.0.0.2'];
    const statuses = await Promise.all(
      sources.flatMap((from) => Array.from({ length: TRIES }, () => withBadToken(`${h.apiUrl}/v1/nodes`, from))),
    );
    assert.ok(
      statuses.every((s) => s === 401),
      'every try is refused',
    );
    const immediate = await authEvents(0);
    assert.deepEqual(immediate.map((e) => e.message).sort(), [
      'invalid or revoked API token for GET /v1/nodes from 127.0.0.1',
      'invalid or revoked API token for GET /v1/nodes from 127.0.0.2',
    ]);
    const events = await authEvents(4);
    assert.equal(events.length, 4, JSON.stringify(events.map((e) => e.message)));
    for (const from of sources) {
      const summary = events.find((e) => e.message.startsWith(`${TRIES - 1} more like this from ${from} `));
      assert.ok(summary, `one event counts the other ${TRIES - 1} tries from ${from}`);
      assert.deepEqual([summary.event, summary.severity], ['authenticate', 'error']);
    }
    // A new window: the next try is recorded at once again.
    assert.equal(await withBadToken(`${h.apiUrl}/v1/nodes`, '127.0.0.2'), 401);
    assert.equal((await authEvents(5)).length, 5);
  });

  it('records a looping bad heartbeat once per window, with a count', async () => {
    const uuid = (await h.http('POST', '/v1/nodes', { driver: 'fake' })).body.uuid;
    await h.pool.query(`UPDATE nodes SET provision_state = 'wait call-back' WHERE uuid = $1`, [uuid]);
    const beat = { callback_url: 'http://127.0.0.2:9/', agent_version: '1.0.0', agent_token: 'forged' };
    const statuses = await Promise.all(
      Array.from({ length: TRIES }, () => h.asAgent('POST', `/v1/heartbeat/${uuid}`, beat, '127.0.0.2')),
    );
    assert.ok(
      statuses.every((r) => r.status === 401),
      'every try is refused',
    );
    const events = await authEvents(2, uuid);
    assert.deepEqual(
      events.map((e) => [e.event, e.message]),
      [
        ['heartbeat', 'agent heartbeat with a wrong agent_token from 127.0.0.2'],
        [
          'heartbeat',
          `${TRIES - 1} more like this from 127.0.0.2 within ${WINDOW_SECONDS} s (counted, not recorded one by one): ` +
            'agent heartbeat with a wrong agent_token from 127.0.0.2',
        ],
      ],
    );
  });
});
