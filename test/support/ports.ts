// Ports for a service a test stops and starts again on the same port. They are drawn from below
// Linux's ephemeral range (32768 and up by default): meanwhile any outgoing connection on the
// machine may be given an ephemeral port as its own, which the restarted listener could not bind.
import { isPortFree } from '../../src/cli/ports.js';

const LOW_PORTS = { from: 20000, count: 12000 };

/** `count` consecutive ports, all free right now; returns the first. */
export async function freeLowRun(count: number, taken: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = LOW_PORTS.from + Math.floor(Math.random() * (LOW_PORTS.count - count));
    const ports = Array.from({ length: count }, (_, i) => first + i);
    if (ports.some((port) => taken.includes(port))) continue;
    if ((await Promise.all(ports.map(isPortFree))).every(Boolean)) return first;
  }
  throw new Error(`found no free run of ${count} ports below ${LOW_PORTS.from + LOW_PORTS.count}`);
}

/** One such port, free right now and not in `taken`. */
export function freeLowPort(taken: number[] = []): Promise<number> {
  return freeLowRun(1, taken);
}
