#!/usr/bin/env node
// The lab's image server as a process of its own, for big labs: a thousand downloads at once get a
// core's share of their own, not what is left by the lab's BMCs and light agents in one event loop.
//   node dist/sim/image-server-main.js --port 0 name=/path/to/file [name=/path ...]
// It reports {port} on its IPC channel once listening, and exits when that channel closes.
import { parseArgs } from 'node:util';
import { startImageServer } from './images.js';

const { values, positionals } = parseArgs({
  options: { port: { type: 'string', default: '0' } },
  allowPositionals: true,
});
const files = Object.fromEntries(
  positionals.map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`"${pair}" is not name=path`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);
const server = await startImageServer(files, Number(values.port));
process.send!({ port: server.port });
// The parent gone (closed, or killed): nothing left to serve for.
process.on('disconnect', () => void server.close().then(() => process.exit(0)));
