// The kernel command line of a Tempered ramdisk: shared by the virtual-media ISOs and the iPXE
// scripts, so both boot it the same way.

/** Kernel parameters of a Tempered ramdisk: the serial console, and where the agent finds the API. */
export function ramdiskKernelArguments(apiUrl: string): string {
  if (/\s/.test(apiUrl)) throw new Error(`the agent's API URL "${apiUrl}" contains white space`);
  return `console=tty0 console=ttyS0,115200 quiet tempered.api_url=${apiUrl}`;
}
