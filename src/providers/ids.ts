// Ids a provider sent, used as URL path segments: shared by every provider's client.
import { sanitizeForDisplay } from '../core/mask.js';
import { UsageError } from '../errors.js';
import { say, displayText } from '../ui/display-text.js';

/** Whether `id` can be one URL path segment as it is. */
export function isSafeId(id: string): boolean {
  // eslint-disable-next-line no-control-regex
  return id !== '' && id !== '.' && id !== '..' && !/[/\\%\s\u0000-\u001f\u007f]/.test(id);
}

/**
 * An id as one URL path segment. Ids that are not safe single segments ("", ".", "..", or with "/", "\\", "%",
 * spaces or controls) would make the URL point elsewhere (`DELETE /users/<id>/apikeys/..`): they never reach one.
 */
export function pathSegment(id: string): string {
  if (!isSafeId(id)) throw new UsageError(say`"${displayText(sanitizeForDisplay(id, 60))}" is not a valid id.`, { hint: say`Ids are the ones keyrot list-users and list-keys show.` });
  return encodeURIComponent(id);
}

/**
 * `items` with each id once, the first kept: a paged list may show the same item on two pages (an item added or moved
 * between two page reads), and a key listed twice would make a lookup by name ambiguous when it is one key.
 */
export function uniqueById<T extends { id: string }>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    if (seen.has(item.id)) return false;
    seen.add(item.id);
    return true;
  });
}
