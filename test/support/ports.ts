// Ports for a service a test stops and starts again on the same port, drawn from below Linux's
// ephemeral range (freeLowPorts).
import { freeLowPorts } from '../../src/cli/ports.js';

/** `count` consecutive ports, all free right now; returns the first. */
export function freeLowRun(count: number, taken: number[] = []): Promise<number> {
  return freeLowPorts((first) => Array.from({ length: count }, (_, i) => first + i), taken);
}

/** One such port, free right now and not in `taken`. */
export function freeLowPort(taken: number[] = []): Promise<number> {
  return freeLowRun(1, taken);
}
