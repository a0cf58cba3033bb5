/** The closest known name to a misspelt one, for "did you mean" hints. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance: edits that turn one name into the other. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min(current + 1, (row[j - 1] ?? 0) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

/**
 * `; did you mean "where"?` (or, as an aside inside a list, ` (did you mean "where"?)`) when a
 * known name is close to the misspelt one, else the empty string.
 */
export function didYouMean(name: string, known: readonly string[], form: 'clause' | 'aside' = 'clause'): string {
  const hint = closestName(name, known);
  if (hint === undefined) return '';
  return form === 'clause' ? `; did you mean "${hint}"?` : ` (did you mean "${hint}"?)`;
}
