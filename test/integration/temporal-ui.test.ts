// What an operator sees of a running deploy in the Temporal UI, read as the UI reads it: the
// static summary and details set at start, the current details (step N of M), the activity
// summaries naming the step, and the search attributes to filter by; then the UI itself,
// rendered by headless Chromium, must show the step name.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { defaultPayloadConverter } from '@temporalio/common';
import pino from 'pino';
import { freePort } from '../../src/cli/ports.js';
import { startTemporal, type LocalTemporal } from '../../src/cli/temporal-server.js';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { CurrentStep, Driver, Lessee, nodeWorkflowId, Operation, Project } from '../../src/workflows/contract.js';
import { env, startHarness, type Harness } from '../support/harness.js';
import { tenantTokens } from '../support/tenants.js';
import { ended } from '../support/workflows.js';

const MiB = 1024 ** 2;
/** At the slow image server's 8 MiB/s, write_image runs about half a minute: time to look at it. */
const IMAGE_BYTES = 256 * MiB;
const STEP = 'deploy.write_image';

const run = promisify(execFile);

/** The page as headless Chromium renders it (the DOM after the UI's scripts ran), and a screenshot of it. */
async function renderPage(url: string, screenshot: string): Promise<string> {
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1600,1200'];
  // Virtual time lets the single-page app fetch and render before Chromium dumps or shoots.
  const budget = '--virtual-time-budget=20000';
  await run('chromium', [...flags, budget, `--screenshot=${screenshot}`, url], { timeout: 120_000 });
  const { stdout } = await run('chromium', [...flags, budget, '--dump-dom', url], {
    timeout: 120_000,
    maxBuffer: 64 * MiB,
  });
  return stdout;
}

describe('Temporal UI of a running deploy', () => {
  let temporal: LocalTemporal;
  let h: Harness;
  let images: ImageServer;
  let uuid: string;

  before(async () => {
    const scratch = env('TEST_SCRATCH_DIR');
    // A Temporal server of this test's own, with its web UI (the run's is headless).
    temporal = await startTemporal(
      { port: await freePort(), uiPort: await freePort(), logFile: path.join(scratch, 'temporal-ui.log') },
      pino({ level: 'silent' }),
    );
    h = await startHarness({ labCount: 1, temporalAddress: temporal.address });
    [uuid] = h.nodeUuids;
    const file = path.join(path.dirname(h.logFile), 'disk.raw');
    const imageHash = await writeDiskImage(file, IMAGE_BYTES);
    images = await startImageServer({ 'disk.raw': file });
    assert.equal((await h.http('PATCH', `/v1/nodes/${uuid}`, { owner: 'acme', lessee: 'bigco' })).status, 200);
    for (const target of ['manage', 'provide']) {
      assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target })).status, 202);
      await ended(h, uuid);
    }
    const { bob } = await tenantTokens(h);
    const deployment = await h.http(
      'POST',
      '/v1/deployments',
      { node: uuid, image_source: images.url('slow/disk.raw'), os_hash_algo: 'sha256', os_hash_value: imageHash },
      bob,
    );
    assert.equal(deployment.status, 201, JSON.stringify(deployment.body));
  });
  after(async () => {
    if (h) await ended(h, uuid).catch(() => undefined);
    await images?.close();
    await h?.close();
    await temporal?.stop();
  });

  it('explains itself through the Temporal client, as the UI reads it', async () => {
    const handle = h.client.workflow.getHandle(nodeWorkflowId(uuid));
    // Visibility is eventually consistent: wait for the search attribute the operator filters by.
    let description = await handle.describe();
    for (let tries = 0; description.typedSearchAttributes.get(CurrentStep) !== STEP; tries++) {
      assert.ok(tries < 300, `CurrentStep is ${description.typedSearchAttributes.get(CurrentStep)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      description = await handle.describe();
    }
    assert.equal(description.status.name, 'RUNNING');
    assert.equal(description.type, 'provisionWorkflow');

    assert.equal(await description.staticSummary(), 'deploy lab-000 · disk.raw · by bob (bigco)');
    const details = (await description.staticDetails()) ?? '';
    for (const fact of [
      `**Node**: lab-000 \`${uuid}\``,
      '**Operation**: deploy, from available',
      '**Asked by**: bob (bigco)',
      '**Lessee**: bigco',
      `**Image**: ${images.url('slow/disk.raw')}`,
    ])
      assert.ok(details.includes(fact), `${fact} in\n${details}`);

    const attributes = description.typedSearchAttributes;
    assert.deepEqual(
      [Project, Lessee, Driver, Operation, CurrentStep].map((key) => attributes.get(key)),
      ['bigco', 'bigco', 'redfish', 'deploy', STEP],
    );

    // The current details, through the query the UI sends.
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    const current = metadata.currentDetails ?? '';
    assert.match(current, new RegExp(`^\\*\\*deploy\\*\\*: step (\\d+) of (\\d+): \\*\\*${STEP}\\*\\*`));
    assert.match(current, new RegExp(`\\d+\\. ▶ ${STEP}`));

    // Each activity's summary names the step it serves.
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? []).flatMap((event) =>
      event.activityTaskScheduledEventAttributes && event.userMetadata?.summary
        ? [defaultPayloadConverter.fromPayload<string>(event.userMetadata.summary)]
        : [],
    );
    assert.ok(
      summaries.some((s) => new RegExp(`^step \\d+/\\d+ ${STEP} · agentStartStep$`).test(s)),
      summaries.join('\n'),
    );
    assert.ok(
      summaries.includes('boot the ramdisk and wait for the agent · bmcPrepareRamdiskBoot'),
      summaries.join('\n'),
    );

    // What it writes to visibility: the one baseline patch, and no Operation the API already set.
    const written = (history.events ?? []).flatMap((event) =>
      Object.keys(event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
    );
    assert.equal(written.filter((key) => key === 'TemporalChangeVersion').length, 1, written.join(', '));
    assert.ok(!written.includes('Operation'), written.join(', '));

    // "Which deploys are stuck in write_image" is one query.
    const stuck: string[] = [];
    for await (const workflow of h.client.workflow.list({
      query: `CurrentStep = "${STEP}" AND ExecutionStatus = "Running"`,
    }))
      stuck.push(workflow.workflowId);
    assert.deepEqual(stuck, [nodeWorkflowId(uuid)]);
  });

  it('shows the step in the web UI, rendered by headless Chromium', async () => {
    const handle = h.client.workflow.getHandle(nodeWorkflowId(uuid));
    const { runId, status } = await handle.describe();
    assert.equal(status.name, 'RUNNING', 'the deploy ended before the screenshot');
    const url = `${temporal.uiUrl}/namespaces/default/workflows/${encodeURIComponent(nodeWorkflowId(uuid))}/${runId}/history`;
    const screenshot = path.join(path.dirname(h.logFile), 'temporal-ui-deploy.png');
    const page = await renderPage(url, screenshot);
    writeFileSync(path.join(path.dirname(h.logFile), 'temporal-ui-deploy.html'), page);
    assert.ok(page.includes(STEP), `${STEP} is not on the page; see ${screenshot}`);
    console.log(`Temporal UI screenshot: ${screenshot}`);
  });
});
