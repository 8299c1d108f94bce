// The drivers' declarations (capability matrix, driver_info schema, generated docs), the IPMI
// driver's handling of ipmitool, and the Redfish transport's retries, sessions and timeouts.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DRIVERS_DOC_PATH, renderDriversDoc } from '../../src/cli/docs-drivers.js';
import { checkDriverInfo, DRIVER_NAMES, DRIVERS, type Capability } from '../../src/domain/drivers.js';
import { createIpmiDriver } from '../../src/drivers/ipmi.js';
import { createRedfishDriver } from '../../src/drivers/redfish.js';
import { getDriver } from '../../src/drivers/registry.js';
import type { Bmc } from '../../src/drivers/types.js';
import { rejectsWithKind } from '../support/bmc.js';

const VALID_DRIVER_INFO: Record<string, Record<string, unknown>> = {
  fake: {},
  redfish: { redfish_address: 'http://127.0.0.1:1', redfish_username: 'u', redfish_password: 'p' },
  ipmi: { ipmi_address: '127.0.0.1' },
};

/** The optional Bmc members each capability promises. */
const OPTIONAL_MEMBERS: Partial<Record<Capability, (keyof Bmc)[]>> = {
  virtual_media: ['insertVirtualMedia', 'ejectVirtualMedia'],
  inventory: ['getInventory'],
  firmware_update: ['updateFirmware'],
  bios: ['getBiosSettings', 'applyBiosSettings'],
};

describe('driver declarations', () => {
  it('docs/drivers.md is what `npm run docs:drivers` generates', async () => {
    assert.equal(
      await readFile(DRIVERS_DOC_PATH, 'utf8'),
      renderDriversDoc(),
      'docs/drivers.md is stale: run npm run docs:drivers',
    );
  });

  it('every driver offers exactly the optional operations its capabilities claim', () => {
    for (const name of DRIVER_NAMES) {
      const bmc = getDriver(name).connect({ nodeUuid: 'n', driverInfo: VALID_DRIVER_INFO[name] });
      for (const [capability, members] of Object.entries(OPTIONAL_MEMBERS)) {
        const claimed = DRIVERS[name].capabilities.includes(capability as Capability);
        for (const member of members)
          assert.equal(typeof bmc[member] === 'function', claimed, `${name}: ${capability} / ${member}`);
      }
    }
  });

  it('checks ipmi driver_info: port and cipher suite as integer or digits in range, password length', () => {
    const ipmi = (info: Record<string, unknown>) => checkDriverInfo('ipmi', { ipmi_address: 'bmc', ...info });
    assert.equal(ipmi({ ipmi_port: 623, ipmi_cipher_suite: '17' }), undefined);
    assert.equal(ipmi({ ipmi_port: ' 6230 ' }), undefined);
    assert.deepEqual(ipmi({ ipmi_port: 0 }), {
      field: 'driver_info.ipmi_port',
      message: 'must be between 1 and 65535',
    });
    assert.equal(ipmi({ ipmi_port: 62.3 })?.field, 'driver_info.ipmi_port');
    assert.equal(ipmi({ ipmi_port: true })?.field, 'driver_info.ipmi_port');
    assert.equal(ipmi({ ipmi_cipher_suite: 18 })?.field, 'driver_info.ipmi_cipher_suite');
    assert.equal(ipmi({ ipmi_password: '12345678901234567890' }), undefined);
    assert.deepEqual(ipmi({ ipmi_password: 'é'.repeat(11) }), {
      field: 'driver_info.ipmi_password',
      message: 'must be at most 20 bytes',
    });
    assert.equal(checkDriverInfo('ipmi', {})?.field, 'driver_info.ipmi_address');
  });

  it('checks redfish driver_info: auth type from its list, verify_ca boolean or string', () => {
    const redfish = (info: Record<string, unknown>) =>
      checkDriverInfo('redfish', { ...VALID_DRIVER_INFO.redfish, ...info });
    assert.equal(redfish({ redfish_auth_type: 'session', redfish_verify_ca: false }), undefined);
    assert.equal(redfish({ redfish_verify_ca: '/etc/ssl/certs/ca.pem' }), undefined);
    assert.deepEqual(redfish({ redfish_auth_type: 'digest' }), {
      field: 'driver_info.redfish_auth_type',
      message: 'must be one of auto, basic, session',
    });
    assert.equal(redfish({ redfish_verify_ca: 1 })?.field, 'driver_info.redfish_verify_ca');
  });
});

describe('ipmi driver and ipmitool', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tempered-ipmitool-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('hands the password to ipmitool in its environment, never on its command line', async () => {
    const fakeIpmitool = path.join(dir, 'ipmitool');
    await writeFile(
      fakeIpmitool,
      `#!/bin/sh\necho "$@" > ${dir}/args\necho "$IPMI_PASSWORD" > ${dir}/password\necho "Chassis Power is on"\n`,
    );
    await chmod(fakeIpmitool, 0o755);
    const password = 'the-ipmi-secret';
    const bmc = createIpmiDriver({ ipmitool: fakeIpmitool }).connect({
      nodeUuid: 'n',
      driverInfo: { ipmi_address: '10.0.0.5', ipmi_port: '6230', ipmi_username: 'root', ipmi_password: password },
    });
    assert.equal(await bmc.getPowerState(), 'power on');
    const args = (await readFile(path.join(dir, 'args'), 'utf8')).trim();
    assert.equal(args, '-I lanplus -H 10.0.0.5 -p 6230 -C 3 -L ADMINISTRATOR -R 2 -N 2 -v -U root -E power status');
    assert.equal((await readFile(path.join(dir, 'password'), 'utf8')).trim(), password);
  });

  it('says how to install ipmitool when the worker lacks it', async () => {
    const bmc = createIpmiDriver({ ipmitool: path.join(dir, 'no-ipmitool') }).connect({
      nodeUuid: 'n',
      driverInfo: { ipmi_address: 'bmc' },
    });
    const error = await rejectsWithKind(bmc.validate(), 'unsupported');
    assert.match(error.message, /not installed on the worker.*apt-get install ipmitool/);
  });
});

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

describe('redfish transport', () => {
  let server: Server;
  let origin: string;
  let handler: Handler;
  const requests: string[] = [];
  const fast = createRedfishDriver({ requestTimeoutMs: 300, retry: { attempts: 3, initialDelayMs: 1 } });
  const connect = (info: Record<string, unknown> = {}) =>
    fast.connect({
      nodeUuid: 'n',
      driverInfo: {
        redfish_address: origin,
        redfish_username: 'u',
        redfish_password: 'secret-pw',
        redfish_auth_type: 'basic',
        redfish_system_id: '1',
        ...info,
      },
    });
  const json = (response: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    response.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const system = {
    '@odata.type': '#ComputerSystem.v1_10_0.ComputerSystem',
    PowerState: 'On',
    Actions: { '#ComputerSystem.Reset': { target: '/reset' } },
  };

  before(async () => {
    server = createServer((request, response) => {
      requests.push(
        `${request.method} ${request.url} ${request.headers['x-auth-token'] ?? request.headers.authorization ?? '-'}`,
      );
      handler(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const serve = (next: Handler) => {
    requests.length = 0;
    handler = next;
  };

  it('retries a GET on 5xx with backoff, then succeeds', async () => {
    let failures = 2;
    serve((_req, res) => (failures-- > 0 ? json(res, 503, { error: { message: 'busy' } }) : json(res, 200, system)));
    assert.equal(await connect().getPowerState(), 'power on');
    assert.equal(requests.length, 3);
  });

  it('gives up after its attempts with the Redfish message, as a retryable error', async () => {
    serve((_req, res) =>
      json(res, 500, { error: { '@Message.ExtendedInfo': [{ Message: 'The BMC is rebooting.' }] } }),
    );
    const error = await rejectsWithKind(connect().getPowerState(), 'unreachable');
    assert.match(error.message, /HTTP 500: The BMC is rebooting\./);
    assert.equal(requests.length, 3);
  });

  it('does not repeat a POST the BMC may have acted on (500), but does on 503', async () => {
    for (const [status, posts] of [
      [500, 1],
      [503, 3],
    ] as const) {
      serve((req, res) =>
        req.method === 'GET' ? json(res, 200, { ...system, PowerState: 'Off' }) : json(res, status, {}),
      );
      await rejectsWithKind(connect().setPowerState('power on'), 'unreachable');
      assert.equal(requests.filter((r) => r.startsWith('POST')).length, posts, `HTTP ${status}`);
    }
  });

  it('logs in again once when a session expires', async () => {
    let tokens = 0;
    serve((req, res) => {
      if (req.url === '/redfish/v1/') return json(res, 200, { Links: { Sessions: { '@odata.id': '/sessions' } } });
      if (req.method === 'POST' && req.url === '/sessions')
        return json(res, 201, {}, { 'X-Auth-Token': `token-${++tokens}` });
      // The first token "expires" after one use.
      return req.headers['x-auth-token'] === 'token-1' && tokens === 1 && requests.length > 3
        ? json(res, 401, {})
        : json(res, 200, system);
    });
    const bmc = connect({ redfish_auth_type: 'session', redfish_address: `${origin}/` });
    await bmc.getPowerState();
    await bmc.getPowerState();
    assert.deepEqual(requests, [
      'GET /redfish/v1/ -',
      'POST /sessions -',
      'GET /redfish/v1/Systems/1 token-1',
      'GET /redfish/v1/Systems/1 token-1',
      'GET /redfish/v1/ -',
      'POST /sessions -',
      'GET /redfish/v1/Systems/1 token-2',
    ]);
  });

  it('follows a redirect on the BMC, and refuses one to another host', async () => {
    serve((req, res) =>
      req.url === '/redfish/v1/Systems/1'
        ? json(res, 307, {}, { Location: '/redfish/v1/Systems/uuid' })
        : json(res, 200, system),
    );
    await connect().validate();
    serve((_req, res) => json(res, 307, {}, { Location: 'http://198.51.100.7/steal' }));
    const error = await rejectsWithKind(connect().validate(), 'protocol');
    assert.match(error.message, /links to http:\/\/198\.51\.100\.7.*outside the BMC/);
  });

  it('times out a BMC that never answers, and never names the password', async () => {
    serve(() => {});
    const error = await rejectsWithKind(connect().getPowerState(), 'unreachable');
    assert.match(error.message, /gave no answer to GET \/redfish\/v1\/Systems\/1 within 300 ms/);
    serve((_req, res) => json(res, 400, { error: { message: 'bad password secret-pw' } }));
    assert.ok(!(await rejectsWithKind(connect().validate(), 'protocol')).message.includes('secret-pw'));
  });

  it('masks a password the BMC echoes back, URL-encoded too', async () => {
    const password = 'p@ss word/1';
    serve((_req, res) => json(res, 400, { error: { message: `bad ${password} or ${encodeURIComponent(password)}` } }));
    const { message } = await rejectsWithKind(connect({ redfish_password: password }).validate(), 'protocol');
    assert.ok(!message.includes(password) && !message.includes(encodeURIComponent(password)), message);
    assert.match(message, /bad \*{6} or \*{6}/);
  });
});
