import net from 'node:net';

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Ports below Linux's ephemeral range (32768 and up by default), for a service bound again later
 * (restarted) or only after a while: meanwhile any outgoing connection on the machine may be given
 * an ephemeral port as its own, which the listener could then not bind.
 */
const LOW_PORTS = { from: 20000, to: 32767 };

/**
 * A port `first` in that range for which all of `portsOf(first)` (at most as far above it as
 * `portsOf(0)` reaches) are free right now and none is in `taken`.
 */
export async function freeLowPorts(portsOf: (first: number) => number[], taken: number[] = []): Promise<number> {
  const highest = LOW_PORTS.to - Math.max(...portsOf(0));
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = LOW_PORTS.from + Math.floor(Math.random() * (highest - LOW_PORTS.from));
    const ports = portsOf(first);
    if (ports.some((port) => taken.includes(port))) continue;
    if ((await Promise.all(ports.map(isPortFree))).every(Boolean)) return first;
  }
  throw new Error(
    `found no free ports between ${LOW_PORTS.from} and ${LOW_PORTS.to} for a service that takes ${portsOf(0).length}`,
  );
}
