/**
 * Label and field selectors as the API server parses them (`k=v`, `k==v`, `k!=v`,
 * `k in (a,b)`, `k notin (a)`, `k`, `!k`), and the LabelSelector objects of webhook
 * configurations (`matchLabels` + `matchExpressions`).
 */

export type Labels = Record<string, string> | undefined;

export interface Requirement {
  key: string;
  op: 'eq' | 'neq' | 'in' | 'notin' | 'exists' | 'notexists';
  values: string[];
}

/** Splits on commas that are not inside parentheses. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += ch;
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

/** Throws an Error with a message in the API server's words when the selector is malformed. */
export function parseLabelSelector(selector: string | undefined | null): Requirement[] {
  if (!selector) return [];
  return splitTerms(selector).map((term) => {
    let m = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = (m[3] ?? '')
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      return { key: m[1] ?? '', op: m[2] === 'in' ? 'in' : 'notin', values };
    }
    m = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(term);
    if (m) return { key: m[1] ?? '', op: m[2] === '!=' ? 'neq' : 'eq', values: [m[3] ?? ''] };
    m = /^!\s*([^\s!=(),]+)$/.exec(term);
    if (m) return { key: m[1] ?? '', op: 'notexists', values: [] };
    m = /^([^\s!=(),]+)$/.exec(term);
    if (m) return { key: m[1] ?? '', op: 'exists', values: [] };
    throw new Error(`unable to parse requirement: ${term}`);
  });
}

export function matchesRequirements(reqs: Requirement[], labels: Labels): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'eq':
        return has && v === r.values[0];
      case 'neq':
        return !has || v !== r.values[0];
      case 'in':
        return has && r.values.includes(v as string);
      case 'notin':
        return !has || !r.values.includes(v as string);
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
    return false;
  });
}

/** fieldSelector: only `metadata.name` and `metadata.namespace` with =, == and !=. */
export function parseFieldSelector(
  selector: string | undefined | null,
): Array<{ field: string; negate: boolean; value: string }> {
  if (!selector) return [];
  return splitTerms(selector).map((term) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m || (m[1] !== 'metadata.name' && m[1] !== 'metadata.namespace')) {
      throw new Error(`field label not supported: ${term}`);
    }
    return { field: m[1], negate: m[2] === '!=', value: (m[3] ?? '').trim() };
  });
}

export function matchesFields(
  reqs: Array<{ field: string; negate: boolean; value: string }>,
  meta: { name?: string; namespace?: string },
): boolean {
  return reqs.every((r) => {
    const actual = r.field === 'metadata.name' ? meta.name : meta.namespace;
    return r.negate ? actual !== r.value : actual === r.value;
  });
}

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** A metav1.LabelSelector; an absent or empty selector matches everything. */
export function matchesLabelSelector(sel: LabelSelectorObject | undefined, labels: Labels): boolean {
  if (!sel) return true;
  const reqs: Requirement[] = Object.entries(sel.matchLabels ?? {}).map(([key, v]) => ({
    key,
    op: 'eq',
    values: [v],
  }));
  for (const e of sel.matchExpressions ?? []) {
    const op = ({ In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: 'notexists' } as const)[
      e.operator as 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'
    ];
    if (!op) throw new Error(`${e.operator} is not a valid label selector operator`);
    reqs.push({ key: e.key, op, values: e.values ?? [] });
  }
  return matchesRequirements(reqs, labels);
}
