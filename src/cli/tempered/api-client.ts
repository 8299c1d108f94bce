// The operator CLI's only way in: Tempered's HTTP API, with the URL and token taken from flags,
// then the environment, then a config file.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const DEFAULT_API_URL = 'http://127.0.0.1:6385';

export interface ConnectionFlags {
  url?: string;
  token?: string;
  config?: string;
}

export interface Connection {
  url: string;
  token: string | undefined;
}

/** An error to print as it is and exit non-zero on: no stack, the API's own message. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** ~/.config/tempered/config.json (or TEMPERED_CONFIG): {"url": "...", "token": "..."}. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.TEMPERED_CONFIG ??
    path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'tempered', 'config.json')
  );
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const file = flags.config ?? defaultConfigPath(env);
  let fromFile: Partial<Connection> = {};
  if (existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new CliError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
  }
  return {
    url: (flags.url ?? env.TEMPERED_URL ?? fromFile.url ?? DEFAULT_API_URL).replace(/\/+$/, ''),
    token: flags.token ?? env.TEMPERED_TOKEN ?? fromFile.token,
  };
}

export class ApiClient {
  constructor(private readonly connection: Connection) {}

  async request<T = any>(method: string, urlPath: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.connection.url}${urlPath}`, {
        method,
        headers: {
          'content-type': 'application/json',
          ...(this.connection.token ? { authorization: `Bearer ${this.connection.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CliError(
        `cannot reach the API at ${this.connection.url}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`,
      );
    }
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const error = parsed?.error;
      const where = error?.field ? ` (${error.field})` : '';
      throw new CliError(`${method} ${urlPath}: ${response.status} ${error?.message ?? response.statusText}${where}`);
    }
    return parsed as T;
  }

  get<T = any>(urlPath: string): Promise<T> {
    return this.request<T>('GET', urlPath);
  }
}
