/**
 * The AWS change feed (docs/push-refresh.md): Secrets Manager events, routed by an EventBridge
 * rule to an SQS queue, long-polled with the store's own credentials. Each message names a secret
 * by ARN or name; the keys it yields are every spelling a dependent may use for it. Only events
 * that change a value (or make a missing key appear) count: a rule that also routes reads would
 * otherwise have every refresh trigger the next.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SQS_QUEUE_URL } from '../../feeds/addresses.ts';
import type { ChangeFeedReceiver, FeedEvent } from '../../feeds/types.ts';
import { ProviderError } from '../types.ts';
import { awsError } from './errors.ts';
import type { AwsClientOptions } from './options.ts';

/** CloudTrail event names of Secrets Manager that change what a key reads. */
export const CHANGE_EVENTS: ReadonlySet<string> = new Set([
  'PutSecretValue',
  'UpdateSecret',
  'UpdateSecretVersionStage',
  'RotateSecret',
  'RotationSucceeded',
  'CreateSecret',
  'DeleteSecret',
  'RestoreSecret',
  'ReplicateSecretToRegions',
]);

/** A long poll: SQS's maximum. */
export const WAIT_SECONDS = 20;
const MAX_IDS = 16;
const MAX_ID_LENGTH = 2048;

/**
 * The queue a store names, checked: a real SQS queue URL only (the SDK sends the request to the
 * URL's host; a store must not choose where this server connects). Returns its region.
 */
export function queueRegion(url: string): string {
  const m = SQS_QUEUE_URL.exec(url);
  if (!m?.[1]) {
    throw new ProviderError(
      'Invalid',
      'metadata.annotations[esw.io/change-feed]: not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)',
    );
  }
  return m[1];
}

/**
 * The keys a Secrets Manager event is about, or `unreadable`. `prefix` is the store's
 * `spec.provider.aws.prefix`: dependents name keys without it.
 */
export function eventKeys(body: string, prefix: string): { keys: string[]; unreadable: boolean } {
  let event = parse(body);
  // Through SNS (EventBridge → SNS → SQS): the event is the notification's Message.
  if (event && event.Type === 'Notification' && typeof event.Message === 'string')
    event = parse(event.Message);
  if (!event) return { keys: [], unreadable: true };
  const detail = (event.detail ?? {}) as Record<string, unknown>;
  if (event.source !== 'aws.secretsmanager' || typeof detail.eventName !== 'string')
    return { keys: [], unreadable: false };
  if (!CHANGE_EVENTS.has(detail.eventName)) return { keys: [], unreadable: false };
  const ids: unknown[] = [
    field(detail.requestParameters, 'secretId'),
    field(detail.requestParameters, 'name'),
    field(detail.responseElements, 'arn'),
    field(detail.additionalEventData, 'SecretId'),
    field(detail.serviceEventDetails, 'secretId'),
    ...(Array.isArray(event.resources) ? event.resources : []),
  ];
  const keys = new Set<string>();
  for (const id of ids.slice(0, MAX_IDS)) {
    if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) continue;
    for (const k of spellings(id)) {
      if (k.startsWith('arn:')) keys.add(k);
      else if (k.startsWith(prefix) && k.length > prefix.length) keys.add(k.slice(prefix.length));
    }
  }
  return { keys: [...keys], unreadable: false };
}

/**
 * A secret's ARN ends in its name and a 6-character suffix AWS adds (`…:secret:prod/db-a1B2c3`);
 * an ARN given without the suffix (a partial ARN) is the name itself. Both, and the ARN.
 */
function spellings(id: string): string[] {
  const at = id.startsWith('arn:') ? id.indexOf(':secret:') : -1;
  if (at < 0) return [id];
  const resource = id.slice(at + ':secret:'.length);
  const out = [id, resource];
  if (/-[A-Za-z0-9]{6}$/.test(resource)) out.push(resource.slice(0, -7));
  return out;
}

function field(o: unknown, k: string): unknown {
  return o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined;
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The SQS receiver: the store's credentials and role chain, the queue's region, and a request
 * timeout past the long poll. Messages are deleted after their keys are scheduled; one left
 * undeleted (a crash in between) comes back after the queue's visibility timeout, which is
 * harmless: a refresh writes only a changed value.
 */
export function sqsReceiver(
  url: string,
  options: AwsClientOptions,
  endpoint: string | undefined,
  prefix: string,
): ChangeFeedReceiver {
  const region = queueRegion(url);
  // The queue's name (the URL's last segment): the errors' subject.
  const queue = url.slice(url.lastIndexOf('/') + 1);
  const { endpoint: _secretsManager, ...rest } = options;
  const client = new SQSClient({
    ...rest,
    region,
    ...(endpoint ? { endpoint } : {}),
    requestHandler: {
      requestTimeout: (WAIT_SECONDS + 10) * 1000,
      connectionTimeout: options.requestHandler.connectionTimeout,
    },
  });
  return {
    kind: 'aws-sqs',
    async receive(signal) {
      const out = await client
        .send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: WAIT_SECONDS,
          }),
          { abortSignal: signal },
        )
        .catch((err: unknown) => {
          throw awsError(err, `SQS ReceiveMessage on queue ${queue}`);
        });
      const events: FeedEvent[] = [];
      for (const m of out.Messages ?? []) {
        if (!m.ReceiptHandle) continue;
        events.push({ ...eventKeys(m.Body ?? '', prefix), handle: m.ReceiptHandle });
      }
      return events;
    },
    async ack(handles, signal) {
      for (let i = 0; i < handles.length; i += 10) {
        const entries = handles.slice(i, i + 10).map((h, j) => ({ Id: String(j), ReceiptHandle: h }));
        await client
          .send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: entries }), { abortSignal: signal })
          .catch((err: unknown) => {
            throw awsError(err, `SQS DeleteMessageBatch on queue ${queue}`);
          });
      }
    },
    close: () => client.destroy(),
  };
}
