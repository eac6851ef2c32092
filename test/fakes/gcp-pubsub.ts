/**
 * A wire-level fake of Pub/Sub's Subscriber service: a real gRPC server (@grpc/grpc-js) whose
 * messages are encoded with the `protos.json` shipped in @google-cloud/pubsub, so the real
 * `PubSub` client's streaming pull talks to it unchanged (`apiEndpoint` host:port, insecure
 * channel), as the Secret Manager fake does.
 *
 * Implements StreamingPull (the initial request opens a subscription's stream; empty requests
 * are the client's keepalives and get an empty response; flow control by the request's
 * `maxOutstandingMessages`), Acknowledge and ModifyAckDeadline (a deadline of 0 is a nack: the
 * message is delivered again). Messages a closed stream held unacknowledged are delivered again
 * too. Ack deadlines do not expire here (the client extends them anyway).
 *
 * Tests publish messages (attributes + data), deliver one again (a duplicate), and fail the
 * service: `ackFault` refuses acknowledgements; `fail(code)` ends every open stream with that status and refuses new ones until
 * `recover()`; a subscription that does not exist is NOT_FOUND; `refuse(sub, code)` refuses one.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const PROTOS = require.resolve('@google-cloud/pubsub/build/protos/protos.json');
const SERVICE = 'google.pubsub.v1.Subscriber';

export const GrpcCode = grpc.status;

export interface PublishedMessage {
  attributes?: Record<string, string>;
  data?: string | Uint8Array;
}

interface Stored {
  messageId: string;
  attributes: Record<string, string>;
  data: Buffer;
  publishTime: { seconds: number; nanos: number };
  deliveries: number;
}

type Duplex = grpc.ServerDuplexStream<Record<string, unknown>, unknown>;

interface Stream {
  subscription: string;
  call: Duplex;
  max: number;
  /** ackId -> message, delivered on this stream and not acknowledged. */
  outstanding: Map<string, Stored>;
}

interface Sub {
  queue: Stored[];
  /** ackId -> message, delivered and not acknowledged (any stream). */
  outstanding: Map<string, Stored>;
  refusal: grpc.status | undefined;
}

type Method = 'StreamingPull' | 'Acknowledge' | 'ModifyAckDeadline';

export class GcpPubSubFake {
  readonly #server = new grpc.Server();
  readonly #subs = new Map<string, Sub>();
  readonly #streams = new Set<Stream>();
  #fault: { code: grpc.status; details: string } | undefined;
  #nextId = 1;
  #nextAck = 1;
  /** Calls per method (StreamingPull: streams opened). */
  readonly calls: Record<Method, number> = { StreamingPull: 0, Acknowledge: 0, ModifyAckDeadline: 0 };
  /** Acknowledged messages per subscription. */
  readonly acked = new Map<string, number>();
  /** Message ids delivered, in order (a redelivery appears again). */
  readonly delivered: string[] = [];
  /** StreamingPull requests per subscription named (refused ones included). */
  readonly streamsFor = new Map<string, number>();
  /** Streams refused or ended by a fault. */
  refusedStreams = 0;
  /** Acknowledge calls fail with this status while set (the messages stay outstanding). */
  ackFault: grpc.status | undefined;
  /** Flow control the client asked for on its last stream. */
  lastFlowControl: { maxOutstandingMessages: number; maxOutstandingBytes: number } | undefined;
  host = '127.0.0.1';
  port = 0;

  constructor() {
    const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(PROTOS, 'utf8')));
    const service = root.lookupService(SERVICE);
    const definition: Record<string, grpc.MethodDefinition<object, unknown>> = {};
    for (const name of ['StreamingPull', 'Acknowledge', 'ModifyAckDeadline'] as Method[]) {
      const method = service.methods[name];
      if (!method) throw new Error(`protos.json has no ${SERVICE}.${name}`);
      method.resolve();
      const reqType = method.resolvedRequestType;
      const resType = method.resolvedResponseType;
      if (!reqType || !resType) throw new Error(`cannot resolve ${name}`);
      const stream = name === 'StreamingPull';
      definition[name] = {
        path: `/${SERVICE}/${name}`,
        requestStream: stream,
        responseStream: stream,
        requestSerialize: (v: object) => Buffer.from(reqType.encode(reqType.fromObject(v)).finish()),
        requestDeserialize: (b: Buffer) =>
          reqType.toObject(reqType.decode(b), { defaults: true, longs: Number }),
        responseSerialize: (v: unknown) =>
          Buffer.from(resType.encode(resType.fromObject(v as object)).finish()),
        responseDeserialize: (b: Buffer) => resType.toObject(resType.decode(b), { defaults: true }),
      };
    }
    this.#server.addService(definition, {
      StreamingPull: (call: Duplex) => this.#streamingPull(call),
      Acknowledge: (
        call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
        cb: grpc.sendUnaryData<unknown>,
      ) => {
        this.calls.Acknowledge++;
        if (this.ackFault !== undefined) {
          cb({ code: this.ackFault, details: 'acknowledgement refused by the fake' });
          return;
        }
        const sub = this.#subs.get(String(call.request.subscription));
        for (const id of (call.request.ackIds as string[]) ?? [])
          this.#ack(String(call.request.subscription), sub, id);
        cb(null, {});
      },
      ModifyAckDeadline: (
        call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
        cb: grpc.sendUnaryData<unknown>,
      ) => {
        this.calls.ModifyAckDeadline++;
        const sub = this.#subs.get(String(call.request.subscription));
        if (sub && Number(call.request.ackDeadlineSeconds) === 0) {
          for (const id of (call.request.ackIds as string[]) ?? []) this.#nack(sub, id);
          this.#pump();
        }
        cb(null, {});
      },
    });
  }

  async start(): Promise<{ host: string; port: number }> {
    this.port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(`${this.host}:0`, grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      );
    });
    return { host: this.host, port: this.port };
  }

  /** The endpoint override for the webhook (`endpoints.gcpPubsub`). */
  get endpoint(): { host: string; port: number; insecure: true } {
    return { host: this.host, port: this.port, insecure: true };
  }

  async close(): Promise<void> {
    for (const s of this.#streams) s.call.end();
    this.#streams.clear();
    this.#server.forceShutdown();
  }

  /** `projects/<p>/subscriptions/<s>`. */
  createSubscription(name: string): void {
    if (!this.#subs.has(name))
      this.#subs.set(name, { queue: [], outstanding: new Map(), refusal: undefined });
  }

  /** Queues messages in this order; returns their ids. */
  publish(subscription: string, ...messages: PublishedMessage[]): string[] {
    const sub = this.#subs.get(subscription);
    if (!sub) throw new Error(`no subscription ${subscription}`);
    const ids: string[] = [];
    for (const m of messages) {
      const now = Date.now();
      const stored: Stored = {
        messageId: String(this.#nextId++),
        attributes: { ...(m.attributes ?? {}) },
        data: Buffer.from(m.data ?? ''),
        publishTime: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
        deliveries: 0,
      };
      sub.queue.push(stored);
      ids.push(stored.messageId);
    }
    this.#pump();
    return ids;
  }

  /** Queues message `messageId` once more (Pub/Sub's at-least-once delivery: a duplicate). */
  duplicate(subscription: string, messageId: string): void {
    const sub = this.#subs.get(subscription);
    const known = [...(sub?.outstanding.values() ?? []), ...(sub?.queue ?? [])].find(
      (m) => m.messageId === messageId,
    );
    const original = known ?? this.#history.get(messageId);
    if (!sub || !original) throw new Error(`no message ${messageId} on ${subscription}`);
    sub.queue.push({ ...original });
    this.#pump();
  }

  /** Messages queued and not yet delivered, plus those delivered and not acknowledged. */
  depth(subscription: string): number {
    const sub = this.#subs.get(subscription);
    return sub ? sub.queue.length + sub.outstanding.size : 0;
  }

  /** Streams open now. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /** Ends every open stream with `code` and refuses new ones until `recover()`. */
  fail(code: grpc.status, details = `injected ${grpc.status[code]}`): void {
    this.#fault = { code, details };
    for (const s of [...this.#streams]) this.#end(s, code, details);
  }

  recover(): void {
    this.#fault = undefined;
  }

  /** Streams on `subscription` are refused with `code` (PERMISSION_DENIED…); undefined to allow. */
  refuse(subscription: string, code: grpc.status | undefined): void {
    const sub = this.#subs.get(subscription);
    if (!sub) throw new Error(`no subscription ${subscription}`);
    sub.refusal = code;
    if (code !== undefined)
      for (const s of [...this.#streams])
        if (s.subscription === subscription) this.#end(s, code, 'refused by the fake');
  }

  /** Every message ever published, by id (for duplicates of acknowledged ones). */
  readonly #history = new Map<string, Stored>();

  #streamingPull(call: Duplex): void {
    this.calls.StreamingPull++;
    let stream: Stream | undefined;
    call.on('data', (req: Record<string, unknown>) => {
      if (!stream) {
        const name = String(req.subscription ?? '');
        this.streamsFor.set(name, (this.streamsFor.get(name) ?? 0) + 1);
        const sub = this.#subs.get(name);
        const refusal = this.#fault
          ? this.#fault
          : !sub
            ? { code: grpc.status.NOT_FOUND, details: `Resource not found (resource=${name}).` }
            : sub.refusal !== undefined
              ? { code: sub.refusal, details: 'The caller does not have permission' }
              : undefined;
        if (refusal) {
          this.refusedStreams++;
          call.emit('error', { code: refusal.code, details: refusal.details });
          return;
        }
        this.lastFlowControl = {
          maxOutstandingMessages: Number(req.maxOutstandingMessages ?? 0),
          maxOutstandingBytes: Number(req.maxOutstandingBytes ?? 0),
        };
        stream = {
          subscription: name,
          call,
          max: Number(req.maxOutstandingMessages ?? 0) || 1000,
          outstanding: new Map(),
        };
        this.#streams.add(stream);
        this.#pump();
        return;
      }
      // Acks and nacks on the stream (the Node client sends them as unary calls instead).
      const sub = this.#subs.get(stream.subscription);
      for (const id of (req.ackIds as string[]) ?? []) this.#ack(stream.subscription, sub, id);
      // The client's keepalive: answered, or the client takes the stream for dead.
      if (!(req.ackIds as string[] | undefined)?.length) call.write({});
    });
    const closed = () => {
      if (stream && this.#streams.delete(stream)) this.#requeue(stream);
    };
    call.on('end', () => {
      closed();
      call.end();
    });
    call.on('cancelled', closed);
    call.on('error', closed);
  }

  #end(s: Stream, code: grpc.status, details: string): void {
    this.#streams.delete(s);
    this.#requeue(s);
    this.refusedStreams++;
    s.call.emit('error', { code, details });
  }

  /** A closed stream's unacknowledged messages go back to the front of the queue. */
  #requeue(s: Stream): void {
    const sub = this.#subs.get(s.subscription);
    if (!sub) return;
    const back: Stored[] = [];
    for (const [ackId, m] of s.outstanding) {
      if (sub.outstanding.delete(ackId)) back.push(m);
    }
    sub.queue.unshift(...back);
    this.#pump();
  }

  #ack(name: string, sub: Sub | undefined, ackId: string): void {
    if (!sub?.outstanding.delete(ackId)) return;
    for (const s of this.#streams) s.outstanding.delete(ackId);
    this.acked.set(name, (this.acked.get(name) ?? 0) + 1);
    this.#pump();
  }

  #nack(sub: Sub, ackId: string): void {
    const m = sub.outstanding.get(ackId);
    if (!m) return;
    sub.outstanding.delete(ackId);
    for (const s of this.#streams) s.outstanding.delete(ackId);
    sub.queue.unshift(m);
  }

  /** Delivers queued messages to open streams, within each stream's flow control. */
  #pump(): void {
    for (const s of this.#streams) {
      const sub = this.#subs.get(s.subscription);
      if (!sub) continue;
      const batch: unknown[] = [];
      while (sub.queue.length > 0 && s.outstanding.size < s.max) {
        const m = sub.queue.shift() as Stored;
        const ackId = `ack-${this.#nextAck++}`;
        m.deliveries++;
        this.#history.set(m.messageId, m);
        s.outstanding.set(ackId, m);
        sub.outstanding.set(ackId, m);
        this.delivered.push(m.messageId);
        batch.push({
          ackId,
          deliveryAttempt: m.deliveries,
          message: {
            data: m.data,
            attributes: m.attributes,
            messageId: m.messageId,
            publishTime: m.publishTime,
          },
        });
      }
      if (batch.length > 0) s.call.write({ receivedMessages: batch });
    }
  }
}
