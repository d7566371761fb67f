// Bounded concurrency without an I/O library: the rate limiter paces requests, this only bounds how many tasks are
// under way (memory, sockets, and how soon a cancel is seen).

/**
 * Runs `task` for every item with at most `limit` under way, and resolves with the results in the items' order. The
 * first rejection stops new tasks from starting and rejects, once the running ones have settled.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}
