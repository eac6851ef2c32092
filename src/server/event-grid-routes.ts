/**
 * The Event Grid routes of the refresh port (src/server/event-grid.ts): the store is named by
 * the path, the delivery secret is checked before the body is read, and only then is a body of
 * up to EVENT_GRID_BODY_LIMIT parsed.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type Authenticated,
  deliveryCredential,
  EVENT_GRID_BODY_LIMIT,
  type EventGridEndpoint,
  type StorePath,
} from './event-grid.ts';
import type { RefreshAnswer } from './refresh.ts';

type Answer = (reply: FastifyReply, a: RefreshAnswer) => FastifyReply;

export function registerEventGridRoutes(
  app: FastifyInstance,
  endpoint: EventGridEndpoint,
  answer: Answer,
): void {
  const authenticated = new WeakMap<FastifyRequest, Authenticated & { store: unknown }>();
  const route = (url: string, path: (params: Record<string, string>) => StorePath) => {
    // Authentication before the body: an unauthenticated caller never has a body parsed.
    const onRequest = async (req: FastifyRequest, reply: FastifyReply) => {
      const query = req.query as Record<string, unknown> | undefined;
      const credential = deliveryCredential(req.headers.authorization, query?.access_token);
      const early = endpoint.precheck(credential, req.ip);
      if (early) return answer(reply, early);
      const auth = await endpoint.authenticate(
        path(req.params as Record<string, string>),
        credential as string,
        req.ip,
      );
      if ('answer' in auth) return answer(reply, auth.answer);
      authenticated.set(req, auth);
      return undefined;
    };
    app.options(url, { onRequest }, async (req, reply) => {
      const origin = req.headers['webhook-request-origin'];
      return answer(reply, endpoint.options(typeof origin === 'string' ? origin : undefined));
    });
    app.post(url, { onRequest, bodyLimit: EVENT_GRID_BODY_LIMIT }, async (req, reply) => {
      const auth = authenticated.get(req);
      if (!auth || !('id' in auth))
        return reply.code(500).send({ code: 'ESW_INTERNAL', message: 'internal error' });
      const a = await endpoint.deliver(auth, req.body);
      // The access_token form of the CloudEvents webhook spec: success answers are private.
      reply.header('cache-control', 'private');
      return answer(reply, a);
    });
  };
  route('/events/azure/secretstores/:namespace/:name', (p) => ({
    kind: 'SecretStore',
    namespace: p.namespace,
    name: p.name ?? '',
  }));
  route('/events/azure/clustersecretstores/:name', (p) => ({
    kind: 'ClusterSecretStore',
    name: p.name ?? '',
  }));
}
