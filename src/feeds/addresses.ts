/**
 * The addresses a store may name in `esw.io/change-feed`, by provider (docs/push-refresh.md,
 * "Change feeds"). Pure and SDK-free: admission checks them (src/api/validate-store.ts) and the
 * providers check them again before connecting. Each form names a resource of the provider's own
 * service, never a host: a store cannot make this server connect anywhere else.
 */

/** The annotation's longest accepted value (any provider). */
export const MAX_FEED_ADDRESS_LENGTH = 1024;

/** `https://sqs.<region>.amazonaws.com/<account>/<queue>` (the queue URL SQS gives). */
export const SQS_QUEUE_URL =
  /^https:\/\/sqs\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?\/\d{12}\/[A-Za-z0-9_-]{1,80}(?:\.fifo)?$/;

/**
 * `projects/<project>/subscriptions/<subscription>`: a project ID (6–30 characters, optionally
 * domain-scoped `example.com:my-project`) and a subscription ID as Pub/Sub allows them (3–255
 * characters, starting with a letter, not `goog`).
 */
export const PUBSUB_SUBSCRIPTION =
  /^projects\/((?:[a-z0-9][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9])\/subscriptions\/((?!goog)[A-Za-z][A-Za-z0-9._~+%-]{2,254})$/;

const FORMS: Record<string, { re: RegExp; form: string }> = {
  aws: {
    re: SQS_QUEUE_URL,
    form: 'an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)',
  },
  gcpsm: {
    re: PUBSUB_SUBSCRIPTION,
    form: 'a Pub/Sub subscription (projects/<project>/subscriptions/<subscription>)',
  },
  // Event Grid pushes to the webhook: nothing to connect to, only the opt-in.
  azurekv: { re: /^event-grid$/, form: '"event-grid" (Event Grid delivers to the webhook)' },
};

/**
 * Why `address` is not a feed of `provider`, or undefined when it is one (or when the provider's
 * feed is not checked here: the consumer reports a provider without a feed at run time).
 */
export function feedAddressProblem(provider: string, address: string): string | undefined {
  if (address.length > MAX_FEED_ADDRESS_LENGTH)
    return `must be at most ${MAX_FEED_ADDRESS_LENGTH} characters`;
  const form = Object.hasOwn(FORMS, provider) ? FORMS[provider] : undefined;
  if (!form) return undefined;
  return form.re.test(address) ? undefined : `must be ${form.form}`;
}
