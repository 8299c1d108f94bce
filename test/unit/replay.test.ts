// Replays committed workflow histories (test/replay/histories, recorded from real lab runs of every
// verb by `npm run record:histories`) against the current workflow code: a change that would make
// an in-flight operation's replay diverge (a new activity call, a reordered timer) fails here
// instead of in a worker that picks up a running deploy. Ship such a change behind patched().
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { env } from '../support/harness.js';

const HISTORIES = path.join('test', 'replay', 'histories');

describe('workflow histories replay on the current workflow code', () => {
  const files = readdirSync(HISTORIES)
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('has a recorded history of every operation', () => {
    assert.ok(files.length > 0, `histories in ${HISTORIES}`);
  });

  it('replays each without a determinism error', async () => {
    const histories = files.map((file) => ({
      workflowId: path.basename(file, '.json'),
      history: proto.temporal.api.history.v1.History.fromObject(
        JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8')),
      ),
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: env('TEMPERED_WORKFLOW_BUNDLE') } },
      histories,
    )) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.deepEqual(failures, []);
    assert.equal(replayed, histories.length);
  });
});
