/**
 * An independent evaluator of the filter DSL over plain rows, written from the documented rules
 * (not from the compiler): equality by value, `$ne`/`$nin` also match NULL, ranges never match
 * NULL, `$like` is case-sensitive with `\` escaping `%` and `_`.
 */
type Row = Record<string, unknown>;

function comparable(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : value;
}

function likeToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '\\' && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[++i] as string);
    } else if (ch === '%') source += '.*';
    else if (ch === '_') source += '.';
    else source += escapeRegExp(ch);
  }
  return new RegExp(`^${source}$`, 's');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function matchCondition(value: unknown, condition: unknown): boolean {
  const v = comparable(value);
  if (condition === null) return value === null;
  if (typeof condition !== 'object' || condition instanceof Date) return value !== null && v === comparable(condition);
  return Object.entries(condition as Record<string, unknown>).every(([op, operand]) => {
    const o = comparable(operand);
    switch (op) {
      case '$eq':
        return operand === null ? value === null : value !== null && v === o;
      case '$ne':
        return operand === null ? value !== null : value === null || v !== o;
      case '$gt':
        return value !== null && (v as number) > (o as number);
      case '$gte':
        return value !== null && (v as number) >= (o as number);
      case '$lt':
        return value !== null && (v as number) < (o as number);
      case '$lte':
        return value !== null && (v as number) <= (o as number);
      case '$in':
        return value !== null && (operand as unknown[]).map(comparable).includes(v);
      case '$nin':
        return value === null || !(operand as unknown[]).map(comparable).includes(v);
      case '$like':
        return value !== null && likeToRegExp(operand as string).test(value as string);
      case '$null':
        return operand ? value === null : value !== null;
      default:
        throw new Error(`reference evaluator: unknown operator ${op}`);
    }
  });
}

export function referenceMatch(row: Row, filter: Record<string, unknown>): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    if (key === '$and') return (condition as Record<string, unknown>[]).every((f) => referenceMatch(row, f));
    if (key === '$or') return (condition as Record<string, unknown>[]).some((f) => referenceMatch(row, f));
    return matchCondition(row[key], condition);
  });
}
