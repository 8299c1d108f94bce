// A lab of simulated machines, each behind its own Redfish BMC on 127.0.0.1.
import { agentLauncher, bootAgentOnRamdiskBoot, type AgentBootOptions } from './boot.js';
import { SimMachine, type ResetType } from './machine.js';
import { runVmOnBoot, type MachineVm, type VmBootOptions } from './qemu/boot.js';
import { startRedfishBmc, type RedfishBmc } from './redfish/server.js';

export interface LabOptions {
  count: number;
  /** Folder for the machines' disk files. */
  dataDir: string;
  powerDelayMs?: number;
  /** Power-on self test: how long a machine takes from power on to starting its boot device. */
  postDelayMs?: number;
  diskSizeBytes?: number;
  resetTypes?: readonly ResetType[];
  /** BMC credentials, the same for every machine. */
  username: string;
  password: string;
  /** Machine i's BMC listens on basePort + i; absent: free ports. */
  basePort?: number;
  /** Index of the first machine; lets two labs sharing one database keep distinct names and MACs. */
  firstIndex?: number;
  /** Given: a machine that boots the ramdisk (PXE, virtual media) runs the agent against this API. */
  agent?: AgentBootOptions;
  /** Given: each machine is a QEMU virtual machine that boots what its BMC says (instead of `agent`). */
  vm?: Omit<VmBootOptions, 'dataDir'>;
}

export interface LabMachine {
  machine: SimMachine;
  /** driver_info.redfish_address for this machine. */
  bmcUrl: string;
  /** Its BMC, which a test may silence. */
  bmc: RedfishBmc;
  name: string;
  macs: readonly string[];
  /** The machine's QEMU VM, in a lab of VMs. */
  vm?: MachineVm;
}

export interface Lab {
  machines: LabMachine[];
  close(): Promise<void>;
}

export async function startLab(options: LabOptions): Promise<Lab> {
  const firstIndex = options.firstIndex ?? 0;
  const bmcs: RedfishBmc[] = [];
  const machines: LabMachine[] = [];
  const detachAgents: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const { machine } of machines) machine.stop();
    await Promise.all([...bmcs.map((bmc) => bmc.close()), ...detachAgents.map((detach) => detach())]);
  };
  const launchAgent = options.agent && agentLauncher(options.agent);
  try {
    for (let offset = 0; offset < options.count; offset++) {
      const machine = await SimMachine.create({
        index: firstIndex + offset,
        diskDir: options.dataDir,
        diskSizeBytes: options.diskSizeBytes,
        powerDelayMs: options.powerDelayMs,
        postDelayMs: options.postDelayMs,
        resetTypes: options.resetTypes,
      });
      const bmc = await startRedfishBmc(machine, {
        port: options.basePort === undefined ? 0 : options.basePort + offset,
        username: options.username,
        password: options.password,
      });
      bmcs.push(bmc);
      if (launchAgent) detachAgents.push(bootAgentOnRamdiskBoot(machine, launchAgent));
      const vm = options.vm && (await runVmOnBoot(machine, { ...options.vm, dataDir: options.dataDir }));
      if (vm) detachAgents.push(vm.detach);
      machines.push({ machine, bmc, bmcUrl: bmc.url, name: machine.id, macs: machine.macs, vm });
    }
  } catch (error) {
    // A port in use halfway through must not leave the first servers running.
    await close();
    throw error;
  }
  return { machines, close };
}
