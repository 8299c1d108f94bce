// Image write throughput: the agent (its own process, compiled, simulated platform) streaming
// a raw image over HTTP onto a file disk while hashing it, against dd of the same bytes onto the
// same kind of file. Both end with an fsync. One run each; prints MiB/s and the ratio.
//   npm run bench:image -- [--mib 1024]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AgentClient } from '../src/agent/client.js';
import { startFakeControlPlane } from '../test/support/fake-control-plane.js';
import { cpuSeconds } from './cpu.js';
import { hashFilePrefix, startImageServer, writeRandomImage } from '../src/sim/images.js';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' } } });
const imageBytes = Number(values.mib) * 1024 ** 2;
const diskBytes = Math.max(4 * 1024 ** 3, imageBytes);
const TOKEN = 'bench-agent-token-0123456789abcdefghijklmnop';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tempered-bench-image-'));
const file = (name: string) => path.join(scratch, name);
const sparseDisk = (name: string) => {
  execFileSync('truncate', [`--size=${diskBytes}`, file(name)]);
  return file(name);
};
const mibPerSecond = (seconds: number) => imageBytes / 1024 ** 2 / seconds;

const controlPlane = await startFakeControlPlane({
  nodeUuid: '5e1ab000-0000-4000-8000-0000000be4c1',
  token: TOKEN,
  heartbeatInterval: 30,
});
const agentDisk = sparseDisk('agent-disk.img');
const agent = spawn(
  process.execPath,
  [
    'dist/agent/main.js',
    '--platform',
    'sim',
    '--api-url',
    controlPlane.url,
    '--listen',
    '127.0.0.1:0',
    '--sim-disk',
    agentDisk,
    '--sim-macs',
    '52:54:00:be:00:00',
    '--scratch-dir',
    scratch,
  ],
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } },
);
try {
  console.log(
    `image: ${imageBytes / 1024 ** 2} MiB of random data; targets: sparse ${diskBytes / 1024 ** 3} GiB files in ${scratch}`,
  );
  const imageHash = await writeRandomImage(file('image.raw'), imageBytes);
  const images = await startImageServer({ 'image.raw': file('image.raw') });
  // Both runs read the image from the page cache.
  await hashFilePrefix(file('image.raw'), imageBytes);

  let started = process.hrtime.bigint();
  execFileSync('dd', [
    `if=${file('image.raw')}`,
    `of=${sparseDisk('dd-disk.img')}`,
    'bs=4M',
    'conv=fsync,notrunc',
    'status=none',
  ]);
  const ddSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  rmSync(file('dd-disk.img'));

  while (controlPlane.heartbeats.length === 0) await new Promise((r) => setTimeout(r, 50));
  const client = new AgentClient(controlPlane.heartbeats[0].callback_url, TOKEN, { timeoutMs: 600_000 });
  started = process.hrtime.bigint();
  const cpuBefore = cpuSeconds(agent.pid!);
  const command = await client.executeStep('deploy', {
    step: 'write_image',
    args: {
      image_source: images.url('image.raw'),
      disk_format: 'raw',
      os_hash_algo: 'sha256',
      os_hash_value: imageHash,
    },
  });
  const done = await client.getCommand(command.id, { wait: true });
  const agentSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const agentCpu = cpuSeconds(agent.pid!) - cpuBefore;
  if (done.command_status !== 'SUCCEEDED') throw new Error(`write_image failed: ${done.command_error?.message}`);
  if ((await hashFilePrefix(agentDisk, imageBytes)) !== imageHash)
    throw new Error('the agent disk does not hold the image');
  await images.close();

  console.log(
    `dd bs=4M conv=fsync:                 ${mibPerSecond(ddSeconds).toFixed(0)} MiB/s (${ddSeconds.toFixed(2)} s)`,
  );
  console.log(
    `agent write_image (HTTP + sha256):   ${mibPerSecond(agentSeconds).toFixed(0)} MiB/s (${agentSeconds.toFixed(2)} s)`,
  );
  console.log(`agent CPU (user + system):           ${agentCpu.toFixed(2)} s`);
  console.log(`ratio agent / dd:                    ${(ddSeconds / agentSeconds).toFixed(2)} (goal ≥ 0.9)`);
  console.log(
    `load average:                        ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  agent.kill('SIGTERM');
  await controlPlane.close();
  rmSync(scratch, { recursive: true, force: true });
}
