/**
 * Bounds one SDK call by the caller's deadline signal. SDKs that do not take a signal (node-vault,
 * the gRPC client's promise API) keep running after it fires; the caller gets the deadline error
 * at once and the late answer is dropped. Any other failure goes through `mapError`, so messages
 * are the provider's own and never carry the response.
 */
export async function withDeadline<T>(
  signal: AbortSignal,
  op: () => Promise<T>,
  deadlineError: () => Error,
  mapError: (err: unknown) => Error,
): Promise<T> {
  if (signal.aborted) throw deadlineError();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(deadlineError());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([op(), aborted]);
  } catch (err: unknown) {
    throw signal.aborted ? deadlineError() : mapError(err);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
