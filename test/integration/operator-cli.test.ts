// `tempered`, the operator CLI, against the real API, worker and lab: tables and JSON, --wait with
// step progress, a failed deploy's last_error and exit code, events, tokens, help and completion.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { env as harnessEnv, startHarness, type Harness } from '../support/harness.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/tempered/main.ts'];

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('the tempered CLI', () => {
  let h: Harness;
  let images: ImageServer;
  let sha256: string;
  let configFile: string;

  before(async () => {
    h = await startHarness({ labCount: 1 });
    const dir = mkdtempSync(path.join(harnessEnv('TEST_SCRATCH_DIR'), 'cli-'));
    sha256 = await writeDiskImage(path.join(dir, 'disk.raw'), 64 * 1024 ** 2);
    images = await startImageServer({ 'disk.raw': path.join(dir, 'disk.raw') });
    // The API URL and token from a config file, as an operator would keep them.
    configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ url: h.apiUrl, token: h.config.adminToken }));
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  async function tempered(...args: string[]): Promise<CliResult> {
    try {
      const { stdout, stderr } = await run(process.execPath, [...CLI, ...args], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TEMPERED_CONFIG: configFile },
        timeout: 300_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }
  const ok = async (...args: string[]) => {
    const result = await tempered(...args);
    assert.equal(result.code, 0, `tempered ${args.join(' ')}:\n${result.stderr}`);
    return result;
  };

  it('lists nodes as a table and as JSON, and shows one with secrets masked', async () => {
    const table = (await ok('node', 'list')).stdout;
    assert.match(table, /name .*provision state/);
    assert.match(table, /lab-000 .* enroll/);
    const nodes = JSON.parse((await ok('node', 'list', '-o', 'json')).stdout);
    assert.deepEqual(
      nodes.map((n: any) => n.name),
      ['lab-000'],
    );
    const shown = JSON.parse((await ok('node', 'show', 'lab-000', '-o', 'json')).stdout);
    assert.equal(shown.driver_info.redfish_password, '******');
  });

  it('runs manage, provide and deploy with --wait, showing step N of M, then power and undeploy', async () => {
    // A zero-delay lab deploys between two of --wait's polls; a template's 2 s wait step holds the
    // deploy in one step long enough for the progress line to show it.
    const template = await h.http('POST', '/v1/deploy_templates', {
      name: 'CUSTOM_CLI_PAUSE',
      steps: [{ interface: 'deploy', step: 'wait', args: { seconds: 2 }, priority: 1 }],
    });
    assert.equal(template.status, 201, JSON.stringify(template.body));
    await h.http('PUT', '/v1/nodes/lab-000/traits/CUSTOM_CLI_PAUSE');
    assert.match((await ok('template', 'list')).stdout, /CUSTOM_CLI_PAUSE .* deploy\.wait:1/);

    assert.match((await ok('node', 'manage', 'lab-000', '--wait')).stderr, /lab-000 {2}manageable/);
    assert.match((await ok('node', 'provide', 'lab-000', '--wait')).stderr, /lab-000 {2}available/);
    const deploy = await ok(
      'node',
      'deploy',
      'lab-000',
      '--image',
      images.url('disk.raw'),
      '--sha256',
      sha256,
      '--wait',
      '--config-drive',
      '{"meta_data": {"hostname": "lab-000"}}',
    );
    assert.match(
      deploy.stderr,
      /lab-000 {2}wait call-back {2}step (\d)\/\1 deploy\.wait/,
      'the deploy shows its plan: step N of M and its name',
    );
    assert.match(deploy.stderr, /lab-000 {2}active/);
    assert.match(deploy.stderr, /done in \d+s/);

    await ok('node', 'power', 'lab-000', 'off', '--wait');
    assert.equal((await h.get('/v1/nodes/lab-000')).body.power_state, 'power off');
    await ok('node', 'power', 'lab-000', 'on', '--wait');
    await ok('node', 'undeploy', 'lab-000', '--wait');
    assert.equal((await h.get('/v1/nodes/lab-000')).body.provision_state, 'available');

    const history = (await ok('node', 'history', 'lab-000')).stdout;
    assert.match(history, /provision .*deploy .*available → deploying/);
  });

  it('exits non-zero with last_error when a deploy fails', async () => {
    const wrong = 'f'.repeat(64);
    const result = await tempered(
      'node',
      'deploy',
      'lab-000',
      '--image',
      images.url('disk.raw'),
      '--sha256',
      wrong,
      '--wait',
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /failed after \d+s:\n {2}lab-000: deploy failed: .*checksum/i);
  });

  it('reports API errors, makes tokens, prints events, and has help and completion everywhere', async () => {
    const missing = await tempered('node', 'show', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /404 node "nope" was not found/);

    const token = JSON.parse(
      (await ok('token', 'create', '--project', 'acme', '--user', 'alice', '-o', 'json')).stdout,
    );
    assert.match(token.token, /.{20,}/);
    assert.match((await ok('token', 'list')).stdout, /acme .* alice/);

    const events = JSON.parse((await ok('events', '--node', 'lab-000', '--kind', 'power', '-o', 'json')).stdout);
    assert.ok(events.some((e: any) => e.to_state === 'power off'));

    for (const command of [[], ['node'], ['node', 'deploy'], ['events'], ['token', 'create']]) {
      assert.match((await ok(...command, '--help')).stdout, /Usage: tempered/);
    }
    const completion = (await ok('completion')).stdout;
    assert.match(completion, /complete -F _tempered tempered/);
    assert.match(
      completion,
      /"node"\) words="list show inventory create manage provide inspect undeploy abort deploy power history/,
    );
  });
});
