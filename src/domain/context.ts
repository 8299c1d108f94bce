/** Who asked for a change, carried from the API request into the event log. Never holds a secret. */
export interface RequestContext {
  user: string | null;
  project: string | null;
  requestId: string;
}
