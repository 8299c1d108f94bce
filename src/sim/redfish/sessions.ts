// Who may ask: HTTP Basic on every request, or an X-Auth-Token session for clients (like sushy)
// that log in first.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SESSION_SERVICE, SESSIONS } from './paths.js';
import {
  collection,
  healthy,
  link,
  noContent,
  notFound,
  requireObject,
  type Reply,
  type RouteTable,
  unauthorized,
} from './routes.js';

interface Session {
  id: string;
  token: string;
  userName: string;
}

export class SessionStore {
  readonly #byId = new Map<string, Session>();
  readonly #expectedCredentials: Buffer;

  constructor(username: string, password: string) {
    this.#expectedCredentials = digest(`${username}:${password}`);
  }

  isAuthorized(request: IncomingMessage): boolean {
    const token = request.headers['x-auth-token'];
    if (typeof token === 'string' && [...this.#byId.values()].some((session) => session.token === token)) return true;
    const basic = /^Basic\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (!basic) return false;
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && this.#credentialsMatch(decoded.slice(0, colon), decoded.slice(colon + 1));
  }

  addRoutes(routes: RouteTable): void {
    routes
      .resource(SESSION_SERVICE, () => ({
        '@odata.id': SESSION_SERVICE,
        '@odata.type': '#SessionService.v1_1_6.SessionService',
        Id: 'SessionService',
        Name: 'Session Service',
        ServiceEnabled: true,
        Status: healthy,
        Sessions: link(SESSIONS),
      }))
      .resource(SESSIONS, () =>
        collection(SESSIONS, 'SessionCollection', 'Sessions', [...this.#byId.keys()].map(sessionPath)),
      )
      .post(SESSIONS, (body) => this.#login(body))
      .public(SESSIONS, 'POST')
      .resource(`${SESSIONS}/:id`, ({ id }) => resource(this.#session(id)))
      .delete(`${SESSIONS}/:id`, (_body, { id }) => {
        this.#byId.delete(this.#session(id).id);
        return noContent;
      });
  }

  #session(id: string): Session {
    const session = this.#byId.get(id);
    if (!session) throw notFound(sessionPath(id));
    return session;
  }

  #login(body: unknown): Reply {
    const { UserName: userName, Password: password } = requireObject(body, 'a session');
    if (typeof userName !== 'string' || typeof password !== 'string' || !this.#credentialsMatch(userName, password)) {
      return unauthorized;
    }
    const session: Session = { id: randomUUID(), token: randomBytes(24).toString('hex'), userName };
    this.#byId.set(session.id, session);
    return {
      status: 201,
      headers: { 'X-Auth-Token': session.token, Location: sessionPath(session.id) },
      body: resource(session),
    };
  }

  /** Compares digests, so neither the content nor the length of the secret leaks through timing. */
  #credentialsMatch(userName: string, password: string): boolean {
    return timingSafeEqual(digest(`${userName}:${password}`), this.#expectedCredentials);
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest();
const sessionPath = (id: string) => `${SESSIONS}/${id}`;

function resource(session: Session) {
  return {
    '@odata.id': sessionPath(session.id),
    '@odata.type': '#Session.v1_1_0.Session',
    Id: session.id,
    Name: 'User Session',
    UserName: session.userName,
  };
}
