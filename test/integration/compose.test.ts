// docker-compose.yml is for users' machines (no engine runs here); Debian's docker-compose
// checks it against the Compose schema without one.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { dynamicConfigYaml } from '../../src/cli/temporal-postgres-config.js';

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

  it("runs Temporal with Tempered's dynamic config, the one npm run temporal:postgres writes", async () => {
    const file = readFileSync('docker/temporal-dynamic-config.yaml', 'utf8');
    assert.equal(file.replace(/^#.*\n/gm, ''), dynamicConfigYaml());
    const { stdout } = await run('docker-compose', ['-f', 'docker-compose.yml', 'config']);
    const mounted = /(\S*docker\/temporal-dynamic-config\.yaml):(\S+):ro/.exec(stdout);
    assert.ok(mounted, 'the temporal service mounts docker/temporal-dynamic-config.yaml read-only');
    assert.match(stdout, new RegExp(`DYNAMIC_CONFIG_FILE_PATH: ${mounted[2].replaceAll('.', '\\.')}\n`));
  });
});
