// `tempered up` as `npm start` runs it, in a child process on free ports with its own data folder.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freeLowPort, freeLowRun } from './ports.js';

export interface UpPorts {
  api: number;
  /** The agents' listener (lookup, heartbeat). */
  agentApi: number;
  temporal: number;
  ui: number;
  /** The lab's first BMC; the demo image is served one below. */
  lab: number;
}

export async function freeUpPorts(labMachines = 2): Promise<UpPorts> {
  // The lab: the demo image's port, then one BMC port per machine.
  const labRun = await freeLowRun(labMachines + 1);
  const taken = Array.from({ length: labMachines + 1 }, (_, i) => labRun + i);
  const single = async () => {
    const port = await freeLowPort(taken);
    taken.push(port);
    return port;
  };
  return {
    api: await single(),
    agentApi: await single(),
    temporal: await single(),
    ui: await single(),
    lab: labRun + 1,
  };
}

export interface RunningUp {
  child: ChildProcess;
  /** What it printed so far (banner, logs). */
  output: () => string;
  /** Ctrl-C as a terminal sends it (to the whole process group); the exit code must be 0, with no error printed. */
  stop: () => Promise<void>;
  /** fetch against its API with the admin token `up` keeps in the data folder. */
  api: (p: string, init?: RequestInit) => Promise<Response>;
}

export async function startUp(
  dataDir: string,
  ports: UpPorts,
  { lab = 2, labPowerDelayMs = 50 } = {},
): Promise<RunningUp> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    API_PORT: String(ports.api),
    AGENT_API_PORT: String(ports.agentApi),
    LOG_LEVEL: 'warn',
  };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/index.ts',
      'up',
      '--lab',
      String(lab),
      '--lab-power-delay',
      String(labPowerDelayMs),
      '--data-dir',
      dataDir,
      '--temporal-port',
      String(ports.temporal),
      '--temporal-ui-port',
      String(ports.ui),
      '--lab-base-port',
      String(ports.lab),
    ],
    // Its own process group, as a shell gives a command: Ctrl-C reaches up, its API and its worker at once.
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 120_000;
  while (!output.includes('Tempered is up')) {
    if (child.exitCode !== null) throw new Error(`up exited early:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`up did not come up:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(output, new RegExp(`API: +http://127.0.0.1:${ports.api}`));
  assert.match(output, new RegExp(`Temporal UI: +http://127.0.0.1:${ports.ui}`));
  return {
    child,
    output: () => output,
    stop: async () => {
      const exited = once(child, 'exit');
      process.kill(-child.pid!, 'SIGINT');
      const [code] = await exited;
      assert.equal(code, 0, output);
      // The API and the worker stop cleanly too: none exits on its own or reports an error on the way out.
      assert.doesNotMatch(output, /exited \(|Called end on pool more than once|"level":50/);
    },
    api: (p, init = {}) =>
      fetch(`http://127.0.0.1:${ports.api}${p}`, {
        ...init,
        headers: {
          ...init.headers,
          authorization: `Bearer ${readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim()}`,
        },
      }),
  };
}
