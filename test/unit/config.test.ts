// Settings from the environment: the documented defaults, and a clear error naming a bad variable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_PG_POOL_SIZE, DEFAULT_WORKER_CAPACITY, loadConfig } from '../../src/config.js';

const base = { DATABASE_URL: 'postgres://127.0.0.1/tempered' };

describe('worker capacity settings', () => {
  it('default to the documented values', () => {
    const config = loadConfig(base);
    assert.deepEqual(config.worker, DEFAULT_WORKER_CAPACITY);
    assert.equal(config.pgPoolSize, DEFAULT_PG_POOL_SIZE);
  });

  it('are read from the environment', () => {
    const config = loadConfig({
      ...base,
      PG_POOL_SIZE: '8',
      WORKER_MAX_CONCURRENT_ACTIVITIES: '50',
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '4',
      WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: '30',
      WORKER_MAX_CACHED_WORKFLOWS: '500',
    });
    assert.equal(config.pgPoolSize, 8);
    assert.deepEqual(config.worker, {
      maxConcurrentActivityTaskExecutions: 50,
      maxConcurrentWorkflowTaskExecutions: 4,
      maxConcurrentLocalActivityExecutions: 30,
      maxCachedWorkflows: 500,
    });
  });

  for (const value of ['0', '-3', '2.5', 'many']) {
    it(`refuse ${JSON.stringify(value)} naming the variable`, () => {
      assert.throws(
        () => loadConfig({ ...base, WORKER_MAX_CONCURRENT_ACTIVITIES: value }),
        /WORKER_MAX_CONCURRENT_ACTIVITIES must be/,
      );
    });
  }
});
