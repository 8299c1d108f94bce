// What every part of the simulated BMC shares: replies, Redfish errors, request checks, and the
// route table each resource module adds its paths to (as sushy-tools' emulator/main.py does).

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
/** `params` holds the values of a pattern route's `:name` segments. */
export type Handler = (body: unknown, params: Readonly<Record<string, string>>) => Reply | Promise<Reply>;

export interface Route {
  /** Methods reachable without credentials: reading the service root, logging in. */
  publicMethods: readonly Method[];
  methods: Partial<Record<Method, Handler>>;
  params: Readonly<Record<string, string>>;
}

/** A failed request, answered with a Redfish error body. */
export class RedfishRequestError extends Error {
  constructor(
    readonly status: number,
    readonly messageId: string,
    message: string,
  ) {
    super(message);
  }
}

/** The DMTF error shape: a general code with the specific messages in @Message.ExtendedInfo. */
export function redfishErrorBody(messageId: string, message: string) {
  return {
    error: {
      code: 'Base.1.0.GeneralError',
      message: 'A general error has occurred. See ExtendedInfo for more information.',
      '@Message.ExtendedInfo': [
        { '@odata.type': '#Message.v1_0_0.Message', MessageId: messageId, Message: message, Severity: 'Critical' },
      ],
    },
  };
}

export const ok = (body: unknown): Reply => ({ status: 200, body });
export const noContent: Reply = { status: 204 };
export const unauthorized: Reply = {
  status: 401,
  headers: { 'WWW-Authenticate': 'Basic realm="Redfish"' },
  body: redfishErrorBody('Base.1.0.NoValidSession', 'There is no valid session established with the implementation.'),
};
export const notFound = (path: string) =>
  new RedfishRequestError(
    404,
    'Base.1.0.ResourceMissingAtURI',
    `The resource at the URI ${path || '/'} was not found.`,
  );

export const link = (path: string) => ({ '@odata.id': path });
export const collection = (path: string, type: string, name: string, members: string[]) => ({
  '@odata.id': path,
  '@odata.type': `#${type}.${type}`,
  Name: name,
  'Members@odata.count': members.length,
  Members: members.map(link),
});
export const healthy = { State: 'Enabled', Health: 'OK' };

export function requireObject(body: unknown, what: string): Record<string, unknown> {
  if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  throw new RedfishRequestError(400, 'Base.1.0.MalformedJSON', `The request body for ${what} must be a JSON object.`);
}

export function requireOneOf<T extends string>(value: unknown, allowed: readonly T[], property: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new RedfishRequestError(
    400,
    'Base.1.0.PropertyValueNotInList',
    `The value ${JSON.stringify(value)} for the property ${property} is not in the list of acceptable values: ${allowed.join(', ')}.`,
  );
}

interface Entry {
  segments: string[];
  publicMethods: Method[];
  methods: Partial<Record<Method, Handler>>;
}

/**
 * Paths to handlers. A path segment `:name` matches any one segment and reaches the handler as
 * params.name; an exact path wins over a pattern.
 */
export class RouteTable {
  readonly #entries = new Map<string, Entry>();

  get(path: string, handler: Handler): this {
    return this.#add(path, 'GET', handler);
  }

  /** GET of a resource rendered fresh on every read. */
  resource(path: string, render: (params: Readonly<Record<string, string>>) => unknown): this {
    return this.get(path, (_body, params) => ok(render(params)));
  }

  post(path: string, handler: Handler): this {
    return this.#add(path, 'POST', handler);
  }

  patch(path: string, handler: Handler): this {
    return this.#add(path, 'PATCH', handler);
  }

  delete(path: string, handler: Handler): this {
    return this.#add(path, 'DELETE', handler);
  }

  /** Lets `method` on `path` through without credentials. */
  public(path: string, method: Method): this {
    this.#entry(path).publicMethods.push(method);
    return this;
  }

  find(path: string): Route | undefined {
    const exact = this.#entries.get(path);
    if (exact) return { publicMethods: exact.publicMethods, methods: exact.methods, params: {} };
    const segments = path.split('/');
    for (const entry of this.#entries.values()) {
      const params = matchSegments(entry.segments, segments);
      if (params) return { publicMethods: entry.publicMethods, methods: entry.methods, params };
    }
    return undefined;
  }

  #add(path: string, method: Method, handler: Handler): this {
    this.#entry(path).methods[method] = handler;
    return this;
  }

  #entry(path: string): Entry {
    let entry = this.#entries.get(path);
    if (!entry) {
      entry = { segments: path.split('/'), publicMethods: [], methods: {} };
      this.#entries.set(path, entry);
    }
    return entry;
  }
}

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length || !pattern.some((segment) => segment.startsWith(':'))) return undefined;
  const params: Record<string, string> = {};
  for (const [i, segment] of pattern.entries()) {
    if (segment.startsWith(':')) params[segment.slice(1)] = segments[i];
    else if (segment !== segments[i]) return undefined;
  }
  return params;
}
