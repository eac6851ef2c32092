/**
 * One pool of connections for the reader clients (Secrets Manager, Parameter Store, Certificate
 * Manager) of every AWS store in this process. The SDK otherwise gives each client its own
 * agent — one per SecretStore: 100 pools at 10,000 ExternalSecrets, 1,000 at 100,000, each
 * keeping its own idle TLS connections to the same regional endpoint. Connections carry no
 * identity (every request is signed with its store's credentials), so sharing them is safe.
 *
 * The SDK destroys its handler's agent when a client is destroyed (a store edited or deleted):
 * `destroy` is a no-op here, so one store's client going away never cuts another's requests.
 * The change feed's SQS client keeps its own pool (its 20 s long polls must not queue behind
 * reads, nor reads behind them).
 */
import http from 'node:http';
import https from 'node:https';

/** Connections per endpoint host across every store (the SDK's own default per client: 50). */
export const AWS_MAX_SOCKETS = 64;
/** Idle connections kept per host; more are closed when they come free. */
export const AWS_MAX_FREE_SOCKETS = 16;

const options = {
  keepAlive: true,
  maxSockets: AWS_MAX_SOCKETS,
  maxFreeSockets: AWS_MAX_FREE_SOCKETS,
  scheduling: 'lifo' as const,
};

class SharedHttpsAgent extends https.Agent {
  override destroy(): void {}
}

class SharedHttpAgent extends http.Agent {
  override destroy(): void {}
}

let agents: { httpAgent: http.Agent; httpsAgent: https.Agent } | undefined;

/** The process's shared agents, for a client's `requestHandler` options. */
export function sharedAwsAgents(): { httpAgent: http.Agent; httpsAgent: https.Agent } {
  agents ??= { httpAgent: new SharedHttpAgent(options), httpsAgent: new SharedHttpsAgent(options) };
  return agents;
}
