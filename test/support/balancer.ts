// A TCP load balancer on loopback, as an operator puts in front of several API processes: each new
// connection goes to the next backend in turn, and one that refuses the connection is skipped.
import net from 'node:net';

export interface Balancer {
  url: string;
  /** The backends (host:port), settable after start: a test may start its APIs after the lab. */
  backends: string[];
  /** Connections each backend took, by host:port. */
  connections: Map<string, number>;
  close(): Promise<void>;
}

export async function startBalancer(backends: string[] = []): Promise<Balancer> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const balancer: Balancer = { url: '', backends, connections: new Map(), close: async () => undefined };

  /** Connects to the next backend that accepts, trying each at most once. */
  function connectUpstream(tried = 0): Promise<net.Socket> {
    if (tried >= balancer.backends.length) return Promise.reject(new Error('no backend accepts connections'));
    const backend = balancer.backends[next++ % balancer.backends.length];
    const [host, port] = [
      backend.slice(0, backend.lastIndexOf(':')),
      Number(backend.slice(backend.lastIndexOf(':') + 1)),
    ];
    return new Promise((resolve, reject) => {
      const upstream = net.connect({ host, port });
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        balancer.connections.set(backend, (balancer.connections.get(backend) ?? 0) + 1);
        resolve(upstream);
      });
      upstream.once('error', () => connectUpstream(tried + 1).then(resolve, reject));
    });
  }

  const server = net.createServer((client) => {
    sockets.add(client);
    client.pause();
    connectUpstream().then(
      (upstream) => {
        sockets.add(upstream);
        const end = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        for (const socket of [client, upstream]) socket.once('close', end).once('error', end);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      },
      () => {
        client.destroy();
        sockets.delete(client);
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  balancer.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  balancer.close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return balancer;
}
