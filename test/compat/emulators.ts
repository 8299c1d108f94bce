// Third-party BMC emulators on 127.0.0.1, started fresh for a test or benchmark and stopped after:
// sushy-tools' sushy-emulator (fake driver, its own state dir), OpenIPMI's ipmi_sim (one process
// per BMC), plus what they need around them: TLS certificates, and images served over HTTP.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/cli/ports.js';
import { createIpmiDriver } from '../../src/drivers/ipmi.js';

const run = promisify(execFile);
const FIXTURES = path.resolve('test/compat/fixtures');
const SUSHY_EMULATOR = path.resolve('.tools/venv/bin/sushy-emulator');
const START_TIMEOUT_MS = 30_000;

export async function scratchDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `tempered-${prefix}-`));
}

async function waitUntil(
  what: string,
  ready: () => Promise<boolean>,
  process: ChildProcess,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await ready())) {
    if (process.exitCode !== null) throw new Error(`${what} exited with ${process.exitCode}:\n${log()}`);
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${START_TIMEOUT_MS} ms:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function startProcess(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return { child, log: () => output, stop };
}

/** Whether `url` answers HTTP at all (any status), not checking its certificate. */
function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const request = get(url, { rejectUnauthorized: false, timeout: 2_000 }, (response) => {
      response.resume();
      resolve(true);
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
  });
}

export interface Certificates {
  caPath: string;
  certPath: string;
  keyPath: string;
  /** A CA that did not sign the server certificate. */
  otherCaPath: string;
}

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}.key`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
  return { cert, key };
}

/** A CA and a server certificate for 127.0.0.1 signed by it, made with openssl for this run. */
export async function makeCertificates(dir: string): Promise<Certificates> {
  const ca = await makeCa(dir, 'test-ca');
  const other = await makeCa(dir, 'other-ca');
  const keyPath = path.join(dir, 'server.key');
  const csr = path.join(dir, 'server.csr');
  const certPath = path.join(dir, 'server.pem');
  const extensions = path.join(dir, 'server.ext');
  await writeFile(extensions, 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    csr,
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    certPath,
    '-days',
    '2',
    '-extfile',
    extensions,
  ]);
  return { caPath: ca.cert, certPath, keyPath, otherCaPath: other.cert };
}

export interface FileServer {
  url(name: string): string;
  close(): Promise<void>;
}

/** Serves `files` by name over HTTP on loopback, as an image store would. */
export async function serveFiles(files: Record<string, string | Buffer>): Promise<FileServer> {
  const server = http.createServer((request, response) => {
    const body = files[decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname.slice(1))];
    response.writeHead(body === undefined ? 404 : 200, { 'Content-Type': 'application/octet-stream' });
    response.end(body);
  });
  const { port, close } = await listenOnLoopback(server);
  return { url: (name) => `http://127.0.0.1:${port}/${name}`, close };
}

/** Listens on a free port of 127.0.0.1; the port, and a close that also drops kept-alive connections. */
async function listenOnLoopback(server: http.Server): Promise<{ port: number; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { port, close };
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The parsed JSON body; undefined when there was none. */
  body: unknown;
}

export interface RecordingProxy {
  url: string;
  /** Every request forwarded so far, oldest first. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy on loopback that forwards every request to `target` and keeps what was asked, so
 * a test can prove what a client sent to an emulator that does not tell (which ResetType, say).
 */
export async function recordRequests(target: string): Promise<RecordingProxy> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    requests.push({ method: request.method ?? '', path: request.url ?? '', body: text ? JSON.parse(text) : undefined });
    const upstream = http.request(
      new URL(request.url ?? '/', target),
      { method: request.method, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    upstream.end(text);
  });
  const { port, close } = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, requests, close };
}

export interface SushySystem {
  uuid: string;
  name: string;
  mac: string;
}

export interface SushyEmulator {
  url: string;
  systems: SushySystem[];
  stop(): Promise<void>;
}

export interface SushyOptions {
  systems: number;
  username: string;
  password: string;
  tls?: Pick<Certificates, 'certPath' | 'keyPath'>;
}

/** sushy-emulator with its fake driver, basic auth (bcrypt htpasswd) and a fresh state dir. */
export async function startSushyEmulator(options: SushyOptions): Promise<SushyEmulator> {
  if (!existsSync(SUSHY_EMULATOR))
    throw new Error(`${SUSHY_EMULATOR} is missing: run "bash scripts/install-tools.sh --test"`);
  const dir = await scratchDir('sushy');
  const port = await freePort();
  const htpasswd = path.join(dir, 'htpasswd');
  // -i reads the password from stdin, so it never shows on a command line.
  const hashed = await new Promise<string>((resolve, reject) => {
    const child = execFile('htpasswd', ['-niB', options.username], (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
    child.stdin!.end(`${options.password}\n`);
  });
  await writeFile(htpasswd, hashed, { mode: 0o600 });
  const systems = Array.from({ length: options.systems }, (_, i) => ({
    uuid: randomUUID(),
    name: `sushy-${i}`,
    mac: `52:54:01:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
  }));
  const config = [
    `SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'`,
    `SUSHY_EMULATOR_LISTEN_PORT = ${port}`,
    'SUSHY_EMULATOR_FAKE_DRIVER = True',
    `SUSHY_EMULATOR_AUTH_FILE = ${JSON.stringify(htpasswd)}`,
    `SUSHY_EMULATOR_STATE_DIR = ${JSON.stringify(path.join(dir, 'state'))}`,
    ...(options.tls
      ? [
          `SUSHY_EMULATOR_SSL_CERT = ${JSON.stringify(options.tls.certPath)}`,
          `SUSHY_EMULATOR_SSL_KEY = ${JSON.stringify(options.tls.keyPath)}`,
        ]
      : []),
    `SUSHY_EMULATOR_FAKE_SYSTEMS = ${JSON.stringify(
      systems.map(({ uuid, name, mac }) => ({ uuid, name, power_state: 'Off', nics: [{ mac, ip: '127.0.0.2' }] })),
    )}`,
    `SUSHY_EMULATOR_STORAGE = ${JSON.stringify(
      Object.fromEntries(
        systems.map(({ uuid }) => [
          uuid,
          [
            {
              Id: '1',
              Name: 'Local Storage Controller',
              StorageControllers: [{ MemberId: '0', Name: 'RAID', SpeedGbps: 12 }],
              Drives: ['disk0'],
            },
          ],
        ]),
      ),
    )}`,
    // The config is Python; JSON without null or booleans is valid Python. Drives are keyed by
    // (system UUID, storage id), a tuple, which JSON cannot spell.
    `SUSHY_EMULATOR_DRIVES = {${systems.map(({ uuid }) => `(${JSON.stringify(uuid)}, '1'): [{'Id': 'disk0', 'Name': 'Drive 0', 'CapacityBytes': 899527000000, 'Protocol': 'SAS'}]`).join(', ')}}`,
  ].join('\n');
  const configPath = path.join(dir, 'emulator.conf');
  await writeFile(configPath, `${config}\n`);
  const emulator = startProcess(SUSHY_EMULATOR, ['--config', configPath]);
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  try {
    await waitUntil('sushy-emulator', () => answers(`${url}/redfish/v1/`), emulator.child, emulator.log);
  } catch (error) {
    await emulator.stop();
    throw error;
  }
  return {
    url,
    systems,
    async stop() {
      await emulator.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A UDP port nothing listens on now (ipmi_sim speaks UDP). */
export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

export interface IpmiSim {
  port: number;
  /** What the chassis_control script stored: '1' / '0' for power, pxe / default / cdrom / bios for boot. */
  chassis(name: 'power' | 'boot'): Promise<string>;
  /** Every power change, shutdown and reset the chassis was asked for, oldest first: 'power 1', 'reset 1'. */
  chassisLog(): Promise<string[]>;
  /** Makes the simulated OS ignore (or obey again) ACPI shutdown requests. */
  ignoreSoftPowerOff(ignore: boolean): Promise<void>;
  stop(): Promise<void>;
}

/** One OpenIPMI ipmi_sim BMC on a free UDP port of 127.0.0.1, its chassis state in files. */
export async function startIpmiSim(credentials: { username: string; password: string }): Promise<IpmiSim> {
  const dir = await scratchDir('ipmi-sim');
  const stateDir = path.join(dir, 'chassis');
  await mkdir(stateDir);
  const port = await freeUdpPort();
  const quote = (text: string) => `"${text.replace(/["\\]/g, '\\$&')}"`;
  const lanConf = [
    `name ${quote(`bmc${port}`)}`,
    'set_working_mc 0x20',
    '  startlan 1',
    `    addr 127.0.0.1 ${port}`,
    '    priv_limit admin',
    ...['callback', 'user', 'operator', 'admin'].map((level) => `    allowed_auths_${level} md5`),
    `    guid ${randomUUID().replaceAll('-', '')}`,
    '  endlan',
    `  chassis_control ${quote(`${path.join(FIXTURES, 'ipmi-chassis.sh')} ${stateDir}`)}`,
    `  user 2 true ${quote(credentials.username)} ${quote(credentials.password)} admin 10 md5`,
  ].join('\n');
  const lanConfPath = path.join(dir, 'lan.conf');
  await writeFile(lanConfPath, `${lanConf}\n`, { mode: 0o600 });
  const sim = startProcess('ipmi_sim', [
    '-c',
    lanConfPath,
    '-f',
    path.join(FIXTURES, 'ipmi-bmc.emu'),
    '-s',
    path.join(dir, 'persist'),
    '-n',
  ]);
  const probe = createIpmiDriver({ lanRetries: 0, lanTimeoutSeconds: 1 }).connect({
    nodeUuid: 'probe',
    driverInfo: {
      ipmi_address: '127.0.0.1',
      ipmi_port: port,
      ipmi_username: credentials.username,
      ipmi_password: credentials.password,
    },
  });
  try {
    await waitUntil(
      'ipmi_sim',
      () =>
        probe.validate().then(
          () => true,
          () => false,
        ),
      sim.child,
      sim.log,
    );
  } catch (error) {
    await sim.stop();
    throw error;
  }
  return {
    port,
    chassis: async (name) => (await readFile(path.join(stateDir, name), 'utf8').catch(() => '')).trim(),
    chassisLog: async () =>
      (await readFile(path.join(stateDir, 'log'), 'utf8').catch(() => '')).split('\n').filter(Boolean),
    ignoreSoftPowerOff: async (ignore) => {
      const flag = path.join(stateDir, 'ignore-soft-off');
      if (ignore) await writeFile(flag, '');
      else await rm(flag, { force: true });
    },
    async stop() {
      await sim.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
