/**
 * Provider change feeds (docs/push-refresh.md, "Change feeds"): a store names a feed with the
 * `esw.io/change-feed` annotation; its provider client opens it with the store's own
 * credentials. A feed hands back batches of events, each naming the remote keys it is about.
 */

/**
 * On a SecretStore or ClusterSecretStore: the feed to consume (AWS: an SQS queue URL; GCP: a
 * Pub/Sub subscription, `projects/<p>/subscriptions/<s>`).
 */
export const CHANGE_FEED_ANNOTATION = 'esw.io/change-feed';

/** Feed kinds, the `feed` label of the metrics. */
export type FeedKind = 'aws-sqs' | 'azure-event-grid' | 'gcp-pubsub';

export interface FeedEvent {
  /**
   * Remote keys this event may be about, as dependents name them (several spellings of one
   * secret: a name, an ARN); empty when the event is not a change of a secret value.
   */
  keys: string[];
  /** The body could not be read as an event of the provider. */
  unreadable: boolean;
  /** Acknowledges the event (SQS: its receipt handle). */
  handle: string;
}

export interface ChangeFeedReceiver {
  readonly kind: FeedKind;
  /** One long poll: resolves with the events received (possibly none). Throws on failure. */
  receive(signal: AbortSignal): Promise<FeedEvent[]>;
  /** Acknowledges handled events (SQS: deletes them). */
  ack(handles: string[], signal: AbortSignal): Promise<void>;
  close(): void;
}
