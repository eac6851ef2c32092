/** Sorting the few keys of a Secret or a refs record, as the admission path does on every render. */

/**
 * Sorts `list` in place by the text `keyOf` gives, compared as Array#sort compares strings (by
 * UTF-16 code units), stable: by insertion up to 16 items, by Array#sort beyond. Array#sort
 * allocates ~850 B of work arrays even for three items, and /mutate sorted twice per render.
 */
export function sortByText<T>(list: T[], keyOf: (item: T) => string): T[] {
  if (list.length > 16) return list.sort((a, b) => compareText(keyOf(a), keyOf(b)));
  for (let i = 1; i < list.length; i++) {
    const item = list[i] as T;
    const key = keyOf(item);
    let j = i - 1;
    for (; j >= 0 && keyOf(list[j] as T) > key; j--) list[j + 1] = list[j] as T;
    list[j + 1] = item;
  }
  return list;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
