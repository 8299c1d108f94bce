// The Redfish transport: HTTP(S) with a chosen CA, basic or session auth, timeouts, retries with
// backoff, redirects kept on the BMC, and Redfish error bodies turned into readable BmcErrors.
import { createHash } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { z } from 'zod';
import { isAddressAllowed, MAX_CA_BUNDLE_BYTES, type VerifyCa } from '../domain/bmc-access.js';
import { scrubSecret } from '../domain/secrets.js';
import { BmcError } from './types.js';

export type RedfishAuthType = 'auto' | 'basic' | 'session';
export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RedfishEndpoint {
  origin: string;
  username: string;
  password: string;
  /** true: the system CA store; false: no verification; caFile: a CA bundle in the operator's CA directory. */
  verifyCa: VerifyCa;
  authType: RedfishAuthType;
  /** CIDRs the BMC's address must resolve into; empty: any. */
  allowedNetworks: readonly string[];
}

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Wait before the second try; doubled before each further one. */
  initialDelayMs: number;
}

export interface RedfishResponse {
  status: number;
  /** Parsed JSON, undefined when the body is empty. */
  body: unknown;
  location: string | undefined;
}

const ROOT_PATH = '/redfish/v1/';
const DEFAULT_SESSIONS_PATH = '/redfish/v1/SessionService/Sessions';
const MAX_REDIRECTS = 3;
/** Only these methods may be repeated when the first try's outcome is unknown. */
const REPEATABLE_METHODS: ReadonlySet<Method> = new Set(['GET', 'PATCH', 'DELETE']);
/** Errors that mean the request never reached the BMC, so even a POST is safe to repeat. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL/;
/** Redfish answers are small; a BMC address pointed at something else must not fill the worker's memory. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** How much of a Redfish error message reaches last_error. */
const MAX_ERROR_TEXT = 300;

class ResponseTooLarge extends Error {}
class AddressNotAllowed extends Error {
  readonly code = 'EADDRNOTALLOWED';
}

/** One message for every unusable CA bundle, naming no path: it must not tell which files exist. */
const CA_UNUSABLE = `driver_info.redfish_verify_ca does not name a usable CA bundle (a regular file of at most ${MAX_CA_BUNDLE_BYTES} bytes in the CA directory)`;

/**
 * The CA bundle, read without blocking the worker: opened non-blocking and without following a
 * final symlink (a FIFO or a device then cannot hang or flood it), checked to be a regular file of
 * bounded size, and read only up to that bound.
 */
async function readCaBundle(caFile: string): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(caFile, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size === 0 || stat.size > MAX_CA_BUNDLE_BYTES) return undefined;
    const buffer = Buffer.alloc(stat.size);
    const { bytesRead } = await handle.read(buffer, 0, stat.size, 0);
    return buffer.subarray(0, bytesRead);
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** DNS resolution that refuses addresses outside `networks`: checked on the address connected to, so DNS cannot swap it after a check. */
function guardedLookup(networks: readonly string[]): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const allowed = addresses.filter((a) => isAddressAllowed(a.address, networks));
      if (allowed.length === 0)
        return callback(new AddressNotAllowed(`${hostname} resolves outside the networks BMCs may be on`), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      callback(null, allowed[0].address, allowed[0].family);
    });
  };
}

const serviceRootSchema = z.object({
  SessionService: z.object({ '@odata.id': z.string() }).optional(),
  Links: z.object({ Sessions: z.object({ '@odata.id': z.string() }).optional() }).optional(),
});
const redfishErrorSchema = z.object({
  error: z.object({
    message: z.string().optional(),
    '@Message.ExtendedInfo': z.array(z.object({ Message: z.string().optional() })).optional(),
  }),
});

/** The readable text of a Redfish error body: its ExtendedInfo messages, else its message. */
function redfishErrorText(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const result = redfishErrorSchema.safeParse(parsed);
  if (!result.success) return undefined;
  const messages = (result.data.error['@Message.ExtendedInfo'] ?? []).flatMap((info) => info.Message ?? []);
  return messages.length > 0 ? messages.join('; ') : result.data.error.message;
}

class ExchangeTimeout extends Error {}

/** A non-2xx answer, with its status for callers that tolerate some (a missing optional resource). */
class RedfishStatusError extends BmcError {
  constructor(
    message: string,
    kind: BmcError['kind'],
    readonly status: number,
  ) {
    super(message, kind);
  }
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** How long an idle keep-alive connection to a BMC stays open (as undici's default). */
const IDLE_CONNECTION_MS = 4000;

/** One HTTP exchange, body included, within `timeoutMs`; the socket is destroyed on timeout. */
function exchange(
  url: URL,
  method: Method,
  headers: Record<string, string>,
  body: string | undefined,
  agent: http.Agent,
  timeoutMs: number,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? https.request : http.request;
    const request = send(url, { method, headers, agent }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) request.destroy(new ResponseTooLarge());
        else chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    const timer = setTimeout(() => request.destroy(new ExchangeTimeout()), timeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end(body);
  });
}

type AuthMode = { kind: 'basic' } | { kind: 'session'; token: string };

/**
 * What every connection of one driver shares: keep-alive agents per TLS setting and the sessions
 * already opened, so a worker logs in to a BMC once, not on every activity.
 */
export class RedfishClientPool {
  readonly #agents = new Map<string, http.Agent>();
  readonly #auth = new Map<string, Promise<AuthMode>>();

  constructor(
    readonly requestTimeoutMs: number,
    readonly retry: RetryPolicy,
  ) {}

  client(endpoint: RedfishEndpoint): RedfishClient {
    return new RedfishClient(endpoint, this);
  }

  async agent(endpoint: RedfishEndpoint, fail: (message: string) => BmcError): Promise<http.Agent> {
    const { origin, verifyCa, allowedNetworks } = endpoint;
    const isHttps = origin.startsWith('https:');
    // Names are checked as they resolve (guardedLookup); an IP literal is never looked up, so here.
    const host = new URL(origin).hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !isAddressAllowed(host, allowedNetworks))
      throw fail(`is at ${host}, outside the networks BMCs may be on (BMC_ALLOWED_NETWORKS)`);
    let ca: Buffer | undefined;
    if (isHttps && typeof verifyCa === 'object') {
      ca = await readCaBundle(verifyCa.caFile);
      if (!ca) throw fail(`cannot be trusted: ${CA_UNUSABLE}`);
    }
    // Keyed by the bundle's content, so a replaced CA file takes effect without a restart.
    const tls = !isHttps
      ? 'http'
      : ca
        ? `ca:${createHash('sha256').update(ca).digest('hex')}`
        : `verify:${verifyCa !== false}`;
    const key = `${tls}\n${allowedNetworks.join(',')}`;
    let agent = this.#agents.get(key);
    if (!agent) {
      const options = {
        keepAlive: true,
        // An idle connection is closed after this, by us: a fleet's sync must not hold one open per BMC
        // (10,000 sockets), and a BMC keeping it longer never closes it under a request we send.
        timeout: IDLE_CONNECTION_MS,
        maxSockets: 8,
        ...(allowedNetworks.length > 0 && { lookup: guardedLookup(allowedNetworks) }),
      };
      agent = isHttps
        ? new https.Agent({ ...options, ca, rejectUnauthorized: verifyCa !== false })
        : new http.Agent(options);
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /** The auth mode for `endpoint`, opening a session at most once however many calls ask at the same time. */
  authMode(endpoint: RedfishEndpoint, open: () => Promise<AuthMode>): Promise<AuthMode> {
    const key = this.#authKey(endpoint);
    let mode = this.#auth.get(key);
    if (!mode) {
      mode = open();
      this.#auth.set(key, mode);
      mode.catch(() => this.#auth.delete(key));
    }
    return mode;
  }

  forgetSession(endpoint: RedfishEndpoint): void {
    this.#auth.delete(this.#authKey(endpoint));
  }

  /** The password enters the key only as a digest, and a changed password opens a new session. */
  #authKey({ origin, username, password, authType }: RedfishEndpoint): string {
    return [origin, authType, username, createHash('sha256').update(password).digest('hex')].join('\n');
  }
}

export class RedfishClient {
  readonly #endpoint: RedfishEndpoint;
  readonly #pool: RedfishClientPool;

  constructor(endpoint: RedfishEndpoint, pool: RedfishClientPool) {
    this.#endpoint = endpoint;
    this.#pool = pool;
  }

  /** GET of a resource that must exist, its body checked against `schema`. */
  async getAs<T>(schema: z.ZodType<T>, path: string): Promise<T> {
    const result = schema.safeParse((await this.request('GET', path)).body);
    if (!result.success)
      throw this.error('protocol', `answered GET ${path} with an unexpected body: ${z.prettifyError(result.error)}`);
    return result.data;
  }

  /** GET of a resource the BMC may lack: undefined on 404 or 501. */
  async getOptionalAs<T>(schema: z.ZodType<T>, path: string): Promise<T | undefined> {
    try {
      return await this.getAs(schema, path);
    } catch (error) {
      if (error instanceof RedfishStatusError && (error.status === 404 || error.status === 501)) return undefined;
      throw error;
    }
  }

  /** An authenticated exchange; a 2xx response, or a BmcError saying what went wrong. */
  async request(method: Method, path: string, body?: unknown): Promise<RedfishResponse> {
    let mode = await this.#authMode();
    let response = await this.#send(method, path, body, mode);
    if (response.status === 401 && mode.kind === 'session') {
      // The session expired or the BMC restarted: log in again, once.
      this.#pool.forgetSession(this.#endpoint);
      mode = await this.#authMode();
      response = await this.#send(method, path, body, mode);
    }
    const exchangeName = `${method} ${path}`;
    if (response.status === 401 || response.status === 403) {
      throw this.error(
        'auth',
        `rejected the credentials for user ${this.#endpoint.username} (HTTP ${response.status} to ${exchangeName})`,
      );
    }
    if (response.status < 200 || response.status >= 300) {
      // Only a Redfish error message is repeated, never the body itself: the address may point at
      // something that is no BMC, whose answer is nobody's business (SSRF).
      const detail = redfishErrorText(response.text)?.slice(0, MAX_ERROR_TEXT) ?? 'no Redfish error message';
      // 501 means the BMC lacks the feature, which retrying will not change.
      const kind = response.status === 501 ? 'unsupported' : response.status >= 500 ? 'unreachable' : 'protocol';
      const { message } = this.error(kind, `answered ${exchangeName} with HTTP ${response.status}: ${detail}`);
      throw new RedfishStatusError(message, kind, response.status);
    }
    let parsed: unknown;
    if (response.text.trim() !== '') {
      try {
        parsed = JSON.parse(response.text);
      } catch {
        throw this.error('protocol', `answered ${exchangeName} with a body that is not JSON`);
      }
    }
    const location = response.headers.location;
    return {
      status: response.status,
      body: parsed,
      location: location ? this.#sameOrigin(location, exchangeName).pathname : undefined,
    };
  }

  /** Every failure names the BMC; the password is scrubbed in case a BMC echoes it back. */
  error(kind: BmcError['kind'], message: string): BmcError {
    return new BmcError(scrubSecret(`BMC at ${this.#endpoint.origin} ${message}`, this.#endpoint.password), kind);
  }

  #authMode(): Promise<AuthMode> {
    const { authType } = this.#endpoint;
    if (authType === 'basic') return Promise.resolve({ kind: 'basic' });
    return this.#pool.authMode(this.#endpoint, async () => {
      const sessionsPath = await this.#sessionsPath();
      if (!sessionsPath) {
        if (authType === 'session')
          throw this.error('unsupported', 'offers no SessionService; set redfish_auth_type to basic');
        return { kind: 'basic' };
      }
      return { kind: 'session', token: await this.#login(sessionsPath) };
    });
  }

  /** Where to log in, from the (public) service root; undefined when the BMC has no sessions. */
  async #sessionsPath(): Promise<string | undefined> {
    const root = await this.#send('GET', ROOT_PATH, undefined, undefined);
    if (root.status !== 200) {
      // Some BMCs guard even the root; the standard path is the best guess then.
      return this.#endpoint.authType === 'session' ? DEFAULT_SESSIONS_PATH : undefined;
    }
    let body: unknown;
    try {
      body = JSON.parse(root.text);
    } catch {
      return undefined;
    }
    const parsed = serviceRootSchema.safeParse(body);
    if (!parsed.success) return undefined;
    const { SessionService: service, Links: links } = parsed.data;
    return links?.Sessions?.['@odata.id'] ?? (service ? DEFAULT_SESSIONS_PATH : undefined);
  }

  async #login(sessionsPath: string): Promise<string> {
    const { username, password } = this.#endpoint;
    const response = await this.#send('POST', sessionsPath, { UserName: username, Password: password }, undefined);
    const token = response.headers['x-auth-token'];
    if (response.status === 401 || response.status === 403) {
      throw this.error(
        'auth',
        `rejected the credentials for user ${username} (HTTP ${response.status} to POST ${sessionsPath})`,
      );
    }
    if (response.status < 200 || response.status >= 300 || typeof token !== 'string') {
      throw this.error(
        'protocol',
        `did not open a session at ${sessionsPath} (HTTP ${response.status}); set redfish_auth_type to basic`,
      );
    }
    return token;
  }

  #sameOrigin(link: string, exchangeName: string): URL {
    const url = new URL(link, this.#endpoint.origin);
    // Links come from the BMC; never send the credentials to another host it names.
    if (url.origin !== this.#endpoint.origin)
      throw this.error('protocol', `links to ${url.origin} in ${exchangeName}, outside the BMC`);
    return url;
  }

  /** One request with retries and redirects; `mode` undefined sends no credentials. */
  async #send(method: Method, path: string, body: unknown, mode: AuthMode | undefined): Promise<RawResponse> {
    const { requestTimeoutMs, retry } = this.#pool;
    const agent = await this.#pool.agent(this.#endpoint, (message) => this.error('protocol', message));
    const headers: Record<string, string> = { Accept: 'application/json', 'OData-Version': '4.0' };
    if (mode?.kind === 'basic') {
      headers.Authorization = `Basic ${Buffer.from(`${this.#endpoint.username}:${this.#endpoint.password}`).toString('base64')}`;
    } else if (mode?.kind === 'session') {
      headers['X-Auth-Token'] = mode.token;
    }
    // Some BMCs (sushy-tools among them) refuse a POST without a JSON content type, even when empty.
    const text = body === undefined && method !== 'POST' ? undefined : JSON.stringify(body ?? {});
    if (text !== undefined) headers['Content-Type'] = 'application/json';

    let url = this.#sameOrigin(path, `${method} ${path}`);
    for (let attempt = 1, redirects = 0; ; attempt++) {
      const exchangeName = `${method} ${url.pathname}`;
      const canRetry = attempt < retry.attempts;
      let response: RawResponse;
      try {
        response = await exchange(url, method, headers, text, agent, requestTimeoutMs);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        if (TLS_ERROR.test(code)) {
          throw this.error(
            'protocol',
            `presented a TLS certificate that could not be verified (${code}: ${(error as Error).message}); ` +
              'set driver_info.redfish_verify_ca to the CA bundle that signed it, or to false',
          );
        }
        if (error instanceof ResponseTooLarge)
          throw this.error('protocol', `answered ${exchangeName} with more than ${MAX_RESPONSE_BYTES} bytes`);
        if (error instanceof AddressNotAllowed)
          throw this.error('protocol', `is outside the networks BMCs may be on (BMC_ALLOWED_NETWORKS)`);
        const timedOut = error instanceof ExchangeTimeout;
        if (canRetry && (REPEATABLE_METHODS.has(method) || NOT_SENT_CODES.has(code))) {
          await this.#backoff(attempt);
          continue;
        }
        throw this.error(
          'unreachable',
          timedOut
            ? `gave no answer to ${exchangeName} within ${requestTimeoutMs} ms`
            : `could not be reached for ${exchangeName}: ${code || (error as Error).message}`,
        );
      }
      if ([301, 302, 307, 308].includes(response.status) && response.headers.location && redirects < MAX_REDIRECTS) {
        // sushy-tools, for one, redirects a system named by its name to its UUID.
        url = this.#sameOrigin(response.headers.location, exchangeName);
        redirects++;
        attempt--;
        continue;
      }
      const transient = response.status >= 500 && response.status !== 501;
      if (transient && canRetry && (REPEATABLE_METHODS.has(method) || response.status === 503)) {
        await this.#backoff(attempt);
        continue;
      }
      return response;
    }
  }

  #backoff(attempt: number): Promise<void> {
    const delay = this.#pool.retry.initialDelayMs * 2 ** (attempt - 1);
    return new Promise((resolve) => setTimeout(resolve, delay));
  }
}
