// Running the system tools the agent drives (lsblk, sgdisk, qemu-img, …): arguments as an array,
// never a shell, and an error that names the tool and carries its stderr.
import { execFile } from 'node:child_process';

export type RunCommand = (command: string, args: readonly string[]) => Promise<string>;

const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export class CommandFailed extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly stderr: string,
    readonly exitCode: number | string | null,
  ) {
    super(`${command} ${args.join(' ')} failed (${exitCode}): ${stderr.trim() || 'no output'}`);
    this.name = 'CommandFailed';
  }
}

/** Runs `command` and resolves with its stdout; rejects with CommandFailed (ENOENT when it is not installed). */
export const runCommand: RunCommand = (command, args) =>
  new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new CommandFailed(command, args, stderr || error.message, error.code ?? error.signal ?? null));
      else resolve(stdout);
    });
  });
