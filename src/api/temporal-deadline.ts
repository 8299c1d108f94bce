// Calls from the API to Temporal are bounded: a request never waits, holding a pool connection
// (or a transaction's locks), for a Temporal server that is away or slow. Past the deadline, or
// when the server is unreachable, the request is answered 503 with Retry-After.
import { isGrpcDeadlineError, isGrpcServiceError, type Client } from '@temporalio/client';
import { unavailable } from './errors.js';

/** How long one call to Temporal may take (the client retries within it). */
export const TEMPORAL_CALL_DEADLINE_MS = 5000;
/** gRPC status codes of a server that is away or too slow, rather than of a refused request. */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_CANCELLED = 1;

function hasGrpcCode(err: unknown, code: number): boolean {
  for (let cause: unknown = err; cause instanceof Error; cause = cause.cause) {
    if (isGrpcServiceError(cause) && cause.code === code) return true;
  }
  return false;
}

function isTemporalUnavailable(err: unknown): boolean {
  return hasGrpcCode(err, GRPC_UNAVAILABLE) || hasGrpcCode(err, GRPC_DEADLINE_EXCEEDED) || isGrpcDeadlineError(err);
}

/** `rpc` with a short deadline; a Temporal that is away or too slow is a 503 (Retry-After). */
export async function withTemporalDeadline<T>(client: Client, rpc: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + TEMPORAL_CALL_DEADLINE_MS;
  try {
    return await client.connection.withDeadline(deadline, rpc);
  } catch (err) {
    // Past the deadline the client cancels the call: CANCELLED then means Temporal was too slow
    // (seen as a 500 under a burst of 1,000 requests), not that it refused the request.
    if (isTemporalUnavailable(err) || (Date.now() >= deadline && hasGrpcCode(err, GRPC_CANCELLED)))
      throw unavailable('Temporal');
    throw err;
  }
}
