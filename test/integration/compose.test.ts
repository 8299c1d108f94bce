// docker-compose.yml is for users' machines (no engine runs here); Debian's docker-compose
// checks it against the Compose schema without one.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('docker-compose.yml', () => {
  it('is valid Compose', async () => {
    await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
  });

  it('runs the API, the worker, the migration, Temporal with its UI, and PostgreSQL', async () => {
    const { stdout } = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services']);
    const services = stdout.trim().split('\n').sort();
    for (const wanted of [
      'postgresql',
      'temporal',
      'temporal-ui',
      'temporal-setup',
      'tempered-migrate',
      'tempered-worker',
      'tempered-api',
    ]) {
      assert.ok(services.includes(wanted), `service ${wanted} is missing from ${services.join(', ')}`);
    }
  });
});
