/**
 * A wire-level fake of Amazon SQS on its JSON protocol (`x-amz-target: AmazonSQS.<Operation>`,
 * what `@aws-sdk/client-sqs` speaks since 3.4xx): ReceiveMessage with long polling
 * (`WaitTimeSeconds`: the call is held until a message is visible or the wait ends, and released
 * when the client hangs up), DeleteMessage and DeleteMessageBatch by receipt handle, and a
 * visibility timeout (a message received and not deleted is delivered again once it expires, as
 * SQS does: at-least-once). Bodies carry their MD5, which the SDK checks. Queues are named by URL
 * path (`/<account>/<name>`); a queue not created answers `QueueDoesNotExist`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AwsJsonError, AwsJsonFake, type JsonBody } from './aws-json.ts';

interface Message {
  id: string;
  body: string;
  /** ms since epoch before which it is not delivered (in flight) */
  invisibleUntil: number;
  receipt: string | undefined;
  receives: number;
}

const noQueue = () =>
  new AwsJsonError(400, 'com.amazonaws.sqs#QueueDoesNotExist', 'The specified queue does not exist.');

export class AwsSqsFake extends AwsJsonFake {
  readonly #queues = new Map<string, Message[]>();
  readonly #waiters = new Set<() => void>();
  /** Messages deleted, per queue path. */
  readonly deleted = new Map<string, number>();
  /** Visibility timeout of a received message, in ms. */
  visibilityMs = 30_000;

  private constructor() {
    super('AmazonSQS');
  }

  static async start(): Promise<AwsSqsFake> {
    const fake = new AwsSqsFake();
    await fake.listen();
    return fake;
  }

  /** Creates a queue; `url` is what the store names (only its path identifies the queue here). */
  create(url: string): void {
    this.#queues.set(pathOf(url), []);
  }

  /** SendMessage (what EventBridge does for a matching event). */
  send(url: string, body: string): void {
    const q = this.#queues.get(pathOf(url));
    if (!q) throw new Error(`no queue ${url}`);
    q.push({ id: randomUUID(), body, invisibleUntil: 0, receipt: undefined, receives: 0 });
    for (const w of [...this.#waiters]) w();
  }

  /** Messages not yet deleted (visible or in flight). */
  depth(url: string): number {
    return this.#queues.get(pathOf(url))?.length ?? 0;
  }

  protected namesOf(_op: string, body: JsonBody): string[] {
    return typeof body.QueueUrl === 'string' ? [pathOf(body.QueueUrl)] : [];
  }

  protected async dispatch(op: string, body: JsonBody, signal: AbortSignal): Promise<unknown> {
    const path = typeof body.QueueUrl === 'string' ? pathOf(body.QueueUrl) : '';
    const q = this.#queues.get(path);
    if (!q) throw noQueue();
    switch (op) {
      case 'ReceiveMessage': {
        const max = Number(body.MaxNumberOfMessages ?? 1);
        const wait = Number(body.WaitTimeSeconds ?? 0);
        if (max < 1 || max > 10) throw new AwsJsonError(400, 'InvalidParameterValue', 'MaxNumberOfMessages');
        if (wait < 0 || wait > 20) throw new AwsJsonError(400, 'InvalidParameterValue', 'WaitTimeSeconds');
        const deadline = Date.now() + wait * 1000;
        for (;;) {
          const now = Date.now();
          const visible = q.filter((m) => m.invisibleUntil <= now).slice(0, max);
          if (visible.length > 0 || now >= deadline || signal.aborted) {
            return {
              Messages: visible.map((m) => {
                m.receipt = randomUUID();
                m.invisibleUntil = now + this.visibilityMs;
                m.receives++;
                return {
                  MessageId: m.id,
                  ReceiptHandle: m.receipt,
                  MD5OfBody: createHash('md5').update(m.body).digest('hex'),
                  Body: m.body,
                };
              }),
            };
          }
          // Woken by a send, the next visibility expiry, the wait's end or a hang-up.
          const next = Math.min(
            deadline,
            ...q.filter((m) => m.invisibleUntil > now).map((m) => m.invisibleUntil),
          );
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              this.#waiters.delete(done);
              signal.removeEventListener('abort', done);
              resolve();
            };
            const timer = setTimeout(done, Math.max(1, next - now));
            this.#waiters.add(done);
            signal.addEventListener('abort', done);
          });
        }
      }
      case 'DeleteMessage':
        this.#delete(path, q, String(body.ReceiptHandle ?? ''));
        return {};
      case 'DeleteMessageBatch': {
        const entries = (body.Entries ?? []) as { Id: string; ReceiptHandle: string }[];
        if (entries.length < 1 || entries.length > 10)
          throw new AwsJsonError(400, 'com.amazonaws.sqs#TooManyEntriesInBatchRequest', 'entries');
        for (const e of entries) this.#delete(path, q, e.ReceiptHandle);
        return { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [] };
      }
      default:
        throw new AwsJsonError(400, 'UnknownOperationException', `unknown operation ${op}`);
    }
  }

  /** SQS deletes by the latest receipt; an unknown or stale receipt is a no-op, as in SQS. */
  #delete(path: string, q: Message[], receipt: string): void {
    const i = q.findIndex((m) => m.receipt === receipt);
    if (i < 0) return;
    q.splice(i, 1);
    this.deleted.set(path, (this.deleted.get(path) ?? 0) + 1);
  }
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
