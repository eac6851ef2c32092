/**
 * The Key Vault clients' HTTP client, with a bound on every answer. A SecretStore's `vaultUrl` is
 * its author's choice, and the SDK's client reads whatever the endpoint sends into memory before
 * parsing it — an endpoint that answers the first, unauthenticated request with hundreds of MiB
 * needs no Azure credential at all. Here the SDK's own client is asked for the body as a stream,
 * which is read up to the answer bound (`../answer-bound.ts`) and given to the SDK as text, as
 * its client would have. Key Vault's secret, key and certificate calls never ask for a stream
 * themselves, so none is passed on unbounded.
 */
import {
  createDefaultHttpClient,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { readBounded } from '../answer-bound.ts';

/** Every status, so that no answer is read whole by the SDK's client. */
const EVERY_STATUS: ReadonlySet<number> = new Set([Number.POSITIVE_INFINITY]);

export function boundedHttpClient(inner: HttpClient = createDefaultHttpClient()): HttpClient {
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      request.streamResponseStatusCodes = new Set(EVERY_STATUS);
      const response = await inner.sendRequest(request);
      const stream = response.readableStreamBody;
      if (stream) {
        response.readableStreamBody = undefined;
        response.bodyAsText = await readBounded(stream);
      }
      return response;
    },
  };
}
