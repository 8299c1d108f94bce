#!/usr/bin/env node
// The agent program, run on the machine from its ramdisk (or by the lab for a simulated machine):
//   node dist/agent/main.js [--api-url URL] [--listen 0.0.0.0:9999]
//   node dist/agent/main.js --platform sim --sim-disk lab-000.img --sim-macs 52:54:00:00:00:00 --api-url URL
import { readFileSync } from 'node:fs';
import { networkDataSchema } from '../domain/network-data.js';
import os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger } from '../logger.js';
import { startAgent } from './agent.js';
import { LinuxPlatform } from './platform/linux.js';
import { SimPlatform, type SimMachineControl } from './platform/sim.js';
import type { KexecRequest, Platform } from './platform/types.js';

/** The kernel parameter a Tempered ramdisk boots with, like ironic-python-agent's ipa-api-url. */
const API_URL_PARAMETER = 'tempered.api_url';

/** What the agent tells the lab's boot model, over the IPC channel of the child process it runs in. */
export type SimMachineMessage = { type: 'power-off' } | { type: 'reboot' } | { type: 'kexec'; request: KexecRequest };

function listenAddress(value: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError('must be host:port, e.g. 0.0.0.0:9999');
  return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

function port(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 65535)
    throw new InvalidArgumentError('must be a port number');
  return number;
}

function kernelParameter(name: string): string | undefined {
  const cmdline = readFileSync('/proc/cmdline', 'utf8');
  return cmdline
    .split(/\s+/)
    .find((word) => word.startsWith(`${name}=`))
    ?.slice(name.length + 1);
}

/** The lab machine around a simulated agent; a standalone simulated agent simply exits. */
function simMachineControl(): SimMachineControl {
  const tell = (message: SimMachineMessage) => {
    if (process.send) process.send(message);
    else process.exit(0);
  };
  return {
    powerOff: () => tell({ type: 'power-off' }),
    reboot: () => tell({ type: 'reboot' }),
    kexec: (request) => tell({ type: 'kexec', request }),
  };
}

interface Options {
  apiUrl?: string;
  platform: 'linux' | 'sim';
  listen: { host: string; port: number };
  advertiseHost?: string;
  advertisePort?: number;
  networkData?: string;
  agentTokenFile?: string;
  scratchDir: string;
  simDisk?: string;
  simMacs?: string;
  simSerial?: string;
}

const program = new Command('tempered-agent')
  .description('Tempered in-band agent: looks its machine up, heartbeats, and runs clean and deploy steps')
  .option('--api-url <url>', `Tempered API; default: the ${API_URL_PARAMETER}= kernel parameter`)
  .addOption(
    new Option('--platform <name>', 'linux: this machine; sim: a lab machine whose disk is a file')
      .choices(['linux', 'sim'])
      .default('linux'),
  )
  .option('--listen <host:port>', 'where the command API listens', listenAddress, { host: '0.0.0.0', port: 9999 })
  .option('--advertise-host <host>', 'host in the callback URL; default: the address facing the API')
  .option('--advertise-port <port>', 'port in the callback URL, when a NAT forwards it to the listen port', port)
  .option('--network-data <file>', 'linux: configure the network from this network_data.json first (no DHCP)')
  .option('--agent-token-file <file>', 'the agent token that came with the boot media')
  .option('--scratch-dir <path>', 'for transient files (a qcow2 before conversion)', os.tmpdir())
  .option('--sim-disk <path>', 'sim: the disk file')
  .option('--sim-macs <list>', "sim: the NICs' MAC addresses, comma separated")
  .option('--sim-serial <serial>', "sim: the disk's serial number", 'lab-disk')
  .action(async (options: Options) => {
    const logger = createLogger('agent');
    let platform: Platform;
    let apiUrl = options.apiUrl;
    if (options.platform === 'linux') {
      // The Linux platform erases and writes disks: it runs only where a Tempered ramdisk booted it.
      const fromKernel = kernelParameter(API_URL_PARAMETER);
      if (!fromKernel)
        throw new Error(
          `refusing the linux platform outside a Tempered ramdisk: no ${API_URL_PARAMETER}= on the kernel command line`,
        );
      apiUrl ??= fromKernel;
      const linux = new LinuxPlatform({ scratchDir: options.scratchDir });
      if (options.networkData)
        await linux.configureNetwork(networkDataSchema.parse(JSON.parse(readFileSync(options.networkData, 'utf8'))));
      platform = linux;
    } else {
      if (!options.simDisk || !options.simMacs) throw new Error('--platform sim needs --sim-disk and --sim-macs');
      platform = new SimPlatform({
        diskPath: options.simDisk,
        macs: options.simMacs.split(','),
        serial: options.simSerial!,
        scratchDir: options.scratchDir,
        control: simMachineControl(),
      });
    }
    if (!apiUrl) throw new Error('--api-url is required');
    const agent = await startAgent({
      apiUrl,
      platform,
      logger,
      listenHost: options.listen.host,
      listenPort: options.listen.port,
      advertiseHost: options.advertiseHost,
      advertisePort: options.advertisePort,
      presetToken: options.agentTokenFile ? readFileSync(options.agentTokenFile, 'utf8').trim() : undefined,
    });
    const stop = () => void agent.stop().then(() => process.exit(0));
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, stop);
    // Started by the lab: the machine's power goes with the lab process.
    process.once('disconnect', stop);
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`tempered-agent: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
