// A GET whose body is a Node stream: node's own HTTP client, not fetch. An image is gigabytes, and
// fetch hands its body over as a web stream whose per-chunk cost made a third of the agent's CPU
// time per image (bench:image); node's client gives the socket's chunks straight to the writer.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

/** Redirects followed at most, as a browser would (image stores send signed URLs onwards). */
const MAX_REDIRECTS = 5;

/** The response to GET `url`, after redirects; its body not yet read. */
export async function httpGet(url: string): Promise<IncomingMessage> {
  let target = new URL(url);
  for (let redirects = 0; ; redirects++) {
    const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
    if (!client) throw new Error(`unsupported protocol ${target.protocol}`);
    const response = await new Promise<IncomingMessage>((resolve, reject) =>
      client.get(target, resolve).on('error', reject),
    );
    const location = response.headers.location;
    if (response.statusCode && response.statusCode >= 300 && response.statusCode < 400 && location) {
      response.resume(); // drop the redirect's own body
      if (redirects === MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      target = new URL(location, target);
      continue;
    }
    return response;
  }
}
