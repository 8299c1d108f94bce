// The config `npm run temporal:postgres` writes from the Temporal server module's template, checked
// on an excerpt of that template (go.temporal.io/server v1.29.1, config/development-postgres12.yaml):
// the tests never build or run that server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertTemporalPostgresPort,
  dynamicConfigYaml,
  serverConfig,
  TEMPORAL_POSTGRES_PORTS,
  temporalPostgresPorts,
} from '../../src/cli/temporal-postgres.js';

const TEMPLATE = `log:
  stdout: true
  level: info

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
      sql:
        pluginName: "postgres12"
        databaseName: "temporal"
        connectAddr: "127.0.0.1:5432"
        connectProtocol: "tcp"
        user: "temporal"
        password: "temporal"
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: "1h"
    postgres-visibility:
      sql:
        pluginName: "postgres12"
        databaseName: "temporal_visibility"
        connectAddr: "127.0.0.1:5432"
        connectProtocol: "tcp"
        user: "temporal"
        password: "temporal"
        maxConns: 2
        maxIdleConns: 2
        maxConnLifetime: "1h"

global:
  pprof:
    port: 7936
  metrics:
    prometheus:
      listenAddress: "127.0.0.1:8000"

services:
  frontend:
    rpc:
      grpcPort: 7233
      membershipPort: 6933
      bindOnLocalHost: true
      httpPort: 7243
  matching:
    rpc:
      grpcPort: 7235
      membershipPort: 6935
  history:
    rpc:
      grpcPort: 7234
      membershipPort: 6934
  worker:
    rpc:
      grpcPort: 7239
      membershipPort: 6939

publicClient:
  hostPort: "localhost:7233"

clusterMetadata:
  clusterInformation:
    active:
      rpcAddress: "localhost:7233"
`;

const DB = { host: '127.0.0.1', port: '41000', user: 'postgres', password: 'secret' };
const numbers = (config: string, key: string) =>
  [...config.matchAll(new RegExp(`${key}: "?(?:127\\.0\\.0\\.1:)?(\\d+)`, 'g'))].map((m) => Number(m[1]));

describe('temporal:postgres config', () => {
  it('moves every service port with the frontend port, and lists them all', () => {
    const config = serverConfig(TEMPLATE, DB, 20000);
    const moved = [
      ...numbers(config, 'grpcPort'),
      ...numbers(config, 'membershipPort'),
      ...numbers(config, 'httpPort'),
      ...numbers(config, '  port'),
      ...numbers(config, 'listenAddress'),
    ].sort();
    assert.deepEqual(moved, temporalPostgresPorts(20000).sort());
    assert.match(config, /rpcAddress: "127\.0\.0\.1:20000"/);
    assert.deepEqual(numbers(config, 'connectAddr'), [41000, 41000]);
  });

  it('runs 16 history shards, logs warnings only, and gives visibility 10 connections', () => {
    const config = serverConfig(TEMPLATE, DB, 7233);
    assert.match(config, /numHistoryShards: 16\n/);
    assert.match(config, /^log:\n  stdout: true\n  level: warn$/m);
    assert.match(config, /databaseName: "temporal_visibility"\n(?:.*\n)*?\s+maxConns: 10\n\s+maxIdleConns: 10\n/);
    assert.deepEqual(numbers(config, 'maxConns'), [20, 10]);
  });

  it("keeps the dev server's settings and runs one task queue partition", () => {
    const yaml = dynamicConfigYaml();
    assert.match(yaml, /^system\.enableActivityEagerExecution:\n  - value: true$/m);
    assert.match(yaml, /^matching\.numTaskqueueReadPartitions:\n  - value: 1$/m);
    assert.match(yaml, /^matching\.numTaskqueueWritePartitions:\n  - value: 1$/m);
  });

  it('refuses a port that would put a membership port beyond PostgreSQL smallint, naming the range', () => {
    const { min, max } = TEMPORAL_POSTGRES_PORTS;
    assert.doesNotThrow(() => assertTemporalPostgresPort(7233));
    assert.doesNotThrow(() => assertTemporalPostgresPort(max));
    assert.ok(Math.max(...temporalPostgresPorts(max).slice(0, 4)) <= 32767);
    assert.throws(() => assertTemporalPostgresPort(max + 1), new RegExp(`--port must be between ${min} and ${max}`));
    assert.throws(() => assertTemporalPostgresPort(40000), /smallint/);
  });
});
