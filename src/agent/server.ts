// The agent's command API, shaped like ironic-python-agent's: POST /v1/commands runs a command
// and answers its record (RUNNING for async ones; ?wait=true waits, ?wait=<seconds> waits at most
// that long), GET polls. Every call but
// GET /v1/status must carry the agent token (X-Agent-Token header or ?agent_token=).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { agentTokenMatches } from '../domain/agent.js';
import { listenHttp } from '../http-listen.js';
import { AGENT_VERSION, COMMANDS, InvalidParams, type CommandContext } from './commands.js';
import { redactUrls } from '../domain/secrets.js';

export type CommandStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface CommandRecord {
  id: string;
  command_name: string;
  command_status: CommandStatus;
  command_error: { type: string; message: string } | null;
  command_result: unknown;
  started_at: string;
  finished_at: string | null;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface CommandEntry {
  record: CommandRecord;
  finished: Promise<void>;
  /** Calls waiting on this command's end right now. */
  waiting: number;
}

/** Runs commands one at a time, as the agent's disks can take only one writer. */
export class CommandRunner {
  readonly #commands = new Map<string, CommandEntry>();

  /** `onEnded` hears of every async command that ends, so the agent can report it at once. */
  constructor(
    private readonly context: CommandContext,
    private readonly onEnded: (record: CommandRecord) => void = () => {},
  ) {}

  start(name: string, params: unknown): CommandEntry {
    const spec = COMMANDS[name];
    if (!spec)
      throw new HttpError(
        400,
        'unknown_command',
        `unknown command "${name}"; known: ${Object.keys(COMMANDS).join(', ')}`,
      );
    const running = [...this.#commands.values()].find(({ record }) => record.command_status === 'RUNNING');
    if (running)
      throw new HttpError(
        409,
        'busy',
        `command ${running.record.command_name} (${running.record.id}) is still running`,
      );
    let run;
    try {
      run = spec.prepare(params);
    } catch (err) {
      if (err instanceof InvalidParams) throw new HttpError(400, 'invalid_params', err.message);
      throw err;
    }
    const record: CommandRecord = {
      id: randomUUID(),
      command_name: name,
      command_status: 'RUNNING',
      command_error: null,
      command_result: null,
      started_at: new Date().toISOString(),
      finished_at: null,
    };
    const { logger } = this.context;
    // Params are never logged nor echoed: image URLs may be pre-signed and user_data may hold secrets.
    logger.info({ command: name, id: record.id }, 'command started');
    const finished = run(this.context).then(
      (result) => {
        Object.assign(record, {
          command_status: 'SUCCEEDED',
          command_result: result ?? {},
          finished_at: new Date().toISOString(),
        });
        logger.info({ command: name, id: record.id }, 'command succeeded');
      },
      (err: Error) => {
        // A failed download quotes its URL: shown without the query string or credentials it may carry.
        const message = redactUrls(err.message);
        Object.assign(record, {
          command_status: 'FAILED',
          command_error: { type: err.name, message },
          finished_at: new Date().toISOString(),
        });
        logger.error({ command: name, id: record.id, error: message }, 'command failed');
      },
    );
    const entry: CommandEntry = { record, finished, waiting: 0 };
    // Sync commands end before their call is answered, and so does an async one that ends while a
    // call waits on it: only the others are worth a report (it would wake the workflow once more for
    // nothing). A waiting caller that never got its answer asks again, or the control plane's slow check does.
    if (spec.async) void finished.then(() => entry.waiting === 0 && this.onEnded(record));
    this.#commands.set(record.id, entry);
    return entry;
  }

  /** Waits for the command to end, at most `limitMs`; its end is then this caller's to hand on. */
  async awaitEnd(entry: CommandEntry, limitMs: number): Promise<void> {
    entry.waiting++;
    try {
      await until(entry.finished, limitMs);
    } finally {
      entry.waiting--;
    }
  }

  get(id: string) {
    return this.#commands.get(id);
  }

  list(): CommandRecord[] {
    return [...this.#commands.values()].map(({ record }) => record);
  }

  isAsync(name: string): boolean {
    return COMMANDS[name]?.async ?? false;
  }
}

const commandRequest = z.strictObject({ name: z.string().min(1).max(64), params: z.unknown().optional() });

/** Resolves when `finished` does or after `limitMs`, whichever comes first. */
async function until(finished: Promise<void>, limitMs: number): Promise<void> {
  if (limitMs === Infinity) return finished;
  if (limitMs <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, limitMs)))]);
  clearTimeout(timer);
}

export interface CommandServerOptions {
  host: string;
  port: number;
  runner: CommandRunner;
  /** The token the control plane gave; undefined until lookup succeeded, and then every call is refused. */
  tokenHash: () => string | undefined;
  logger: Logger;
}

export interface CommandServer {
  port: number;
  close(): Promise<void>;
}

export async function startCommandServer({
  host,
  port,
  runner,
  tokenHash,
  logger,
}: CommandServerOptions): Promise<CommandServer> {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(express.json({ limit: '1mb', type: () => true, strict: false }));
  const startedAt = new Date().toISOString();

  app.get('/v1/status', (_req, res) => {
    res.json({ started_at: startedAt, version: AGENT_VERSION });
  });

  const requireToken: RequestHandler = (req, _res, next) => {
    const presented =
      req.get('x-agent-token') ?? (typeof req.query.agent_token === 'string' ? req.query.agent_token : undefined);
    if (!agentTokenMatches(presented, tokenHash())) {
      logger.warn({ method: req.method, path: req.path, from: req.ip }, 'command call without a valid agent token');
      return next(new HttpError(401, 'unauthorized', 'a valid agent token is required'));
    }
    next();
  };
  app.use('/v1/commands', requireToken);

  /** How long a call waits for its command to end: ?wait=true until it ends, ?wait=<seconds> at most a minute. */
  const waitLimitMs = (query: unknown): number => {
    const wait = (query as Record<string, unknown>).wait;
    if (wait === 'true') return Infinity;
    const seconds = Number(wait);
    return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 60) * 1000 : 0;
  };

  app.post('/v1/commands', async (req, res) => {
    const parsed = commandRequest.safeParse(req.body);
    if (!parsed.success) throw new HttpError(400, 'invalid_input', `body: ${parsed.error.issues[0].message}`);
    const entry = runner.start(parsed.data.name, parsed.data.params);
    await runner.awaitEnd(entry, runner.isAsync(parsed.data.name) ? waitLimitMs(req.query) : Infinity);
    res.json(entry.record);
  });

  app.get('/v1/commands', (_req, res) => {
    res.json({ commands: runner.list() });
  });

  app.get('/v1/commands/:id', async (req, res) => {
    const entry = runner.get(req.params.id);
    if (!entry) throw new HttpError(404, 'not_found', `no command ${req.params.id}`);
    await runner.awaitEnd(entry, waitLimitMs(req.query));
    res.json(entry.record);
  });

  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`)));
  const errors: ErrorRequestHandler = (err, _req, res, _next) => {
    const error =
      err instanceof HttpError
        ? err
        : err?.type === 'entity.parse.failed'
          ? new HttpError(400, 'invalid_json', 'request body is not valid JSON')
          : new HttpError(500, 'internal_error', String(err?.message ?? err));
    if (error.status === 500) logger.error({ err }, 'request failed');
    res.status(error.status).json({ error: { code: error.code, message: error.message } });
  };
  app.use(errors);

  const server = createServer(app);
  const bound = await listenHttp(server, host, port);
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
