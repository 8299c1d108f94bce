// The README's lab deploy walk, run as written against `npm start -- --lab 2`: only the ports
// differ (the test's own free ones), and `.data` is the test's data folder.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { freeUpPorts, startUp, type RunningUp } from '../support/up.js';

const scratch = process.env.TEST_SCRATCH_DIR;
if (!scratch) throw new Error('run the tests with "npm test"');

/** The first ```sh block under the README heading `heading`. */
function readmeShellBlock(heading: string): string {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(section >= 0, `README has a section "${heading}"`);
  const start = readme.indexOf('```sh\n', section);
  return readme.slice(start + '```sh\n'.length, readme.indexOf('\n```', start));
}

const WALK_TIMEOUT_MS = 8 * 60_000;

describe('the README lab deploy walk', () => {
  const home = mkdtempSync(path.join(scratch, 'walk-'));
  const dataDir = path.join(home, '.data');
  mkdirSync(dataDir);
  chmodSync(home, 0o755);
  chmodSync(dataDir, 0o755);
  let running: RunningUp | undefined;

  // the whole process group: up's services must not outlive a failed test
  after(() => running?.child.pid && process.kill(-running.child.pid, 'SIGKILL'));

  let ports: Awaited<ReturnType<typeof freeUpPorts>>;

  /** Runs a README block as written, but for the test's own ports; answers its output, failing on a non-zero exit. */
  async function runWalk(block: string): Promise<string> {
    const script = block
      .replaceAll('127.0.0.1:6385', `127.0.0.1:${ports.api}`)
      .replaceAll('127.0.0.1:15999', `127.0.0.1:${ports.lab - 1}`);
    const walk = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], {
      cwd: home,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    walk.stdout.on('data', (chunk) => (output += chunk));
    walk.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => walk.kill('SIGKILL'), WALK_TIMEOUT_MS);
    const code = await new Promise<number | null>((resolve) => walk.once('exit', resolve));
    clearTimeout(timer);
    assert.equal(code, 0, `the walk failed or timed out:\n${output}`);
    return output;
  }

  it('takes every lab node to active and back to available', async () => {
    ports = await freeUpPorts();
    running = await startUp(dataDir, ports, { lab: 2 });
    assert.doesNotMatch(running.output(), /MISSING/, 'npm start installed what the lab needs');
    const output = await runWalk(readmeShellBlock('Deploying the lab'));

    assert.match(output, /"provision_state": "active"/, 'the walk shows lab-000 deployed');
    assert.match(output, /deploy/, 'and its history');
    const nodes = (await (await running.api('/v1/nodes?resource_class=lab')).json()).nodes;
    assert.deepEqual(
      // the lab enrolls its machines concurrently: compare by name, not list order
      nodes.map((n: any) => [n.name, n.provision_state, n.last_error]).sort(),
      [
        ['lab-000', 'available', null],
        ['lab-001', 'available', null],
      ],
    );
  });

  it('deploys a pre-booted node by kexec: the README kexec walk', async () => {
    assert.ok(running, 'the lab of the deploy walk is up');
    const output = await runWalk(readmeShellBlock('Final boot by kexec'));
    assert.match(output, /CUSTOM_PREBOOTED/, 'the boot verb pre-booted lab-000');
    assert.match(output, /"provision_state":"active","power_state":"power on","kexecs":1/);
    assert.match(output, /kexec instance\t\/boot\/vmlinuz-\S+ root=PARTUUID=\S+ ro/);
  });

  it('keeps a lab node pre-booted with a warm pool: the README warm pool walk', async () => {
    assert.ok(running, 'the lab of the kexec walk is up');
    const output = await runWalk(readmeShellBlock('Warm pools: pre-booted nodes'));
    assert.match(output, /"status":\{"target":1,"warm":1\},"workflow_id":"warm_pool\//);
    assert.match(output, /\{"name":"lab-001","warm":true\}/);
    assert.match(output, /prebooted\tbooted into the agent, kept up for the next operation/);
    await running.stop();
    running = undefined;
  });
});
