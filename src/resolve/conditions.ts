/**
 * Namespace rules of a ClusterSecretStore (`spec.conditions`), as the External Secrets Operator
 * applies them: no conditions allow every namespace; otherwise any one condition that matches
 * allows — a `namespaceSelector` matching the namespace's labels, a name in `namespaces`, or a
 * `namespaceRegexes` entry matching the name (Go `regexp.MatchString`: anywhere in the name, so
 * anchor it with `^…$` to mean the whole name; compiled by the one pattern engine,
 * src/patterns/re2.ts). A condition that cannot be evaluated (bad selector, bad regex) fails
 * closed.
 */
import type { ClusterSecretStoreCondition, LabelSelector } from '../api/types.ts';
import { ownWords } from '../observability/sanitize.ts';
import { compileGoRegexp, type GoRegexp, PatternError, quotePattern } from '../patterns/re2.ts';

/** The label every namespace carries since Kubernetes 1.21, added when the object is unknown. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** Why a condition could not be evaluated; the caller reports it with the store's name. */
export class ConditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionError';
  }
}
ownWords(ConditionError);

/** Kubernetes label-selector semantics; an empty selector matches everything. */
export function matchesLabelSelector(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>>,
  path = 'selector',
): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const [i, req] of (selector.matchExpressions ?? []).entries()) {
    const at = `${path}.matchExpressions[${i}]`;
    const has = Object.hasOwn(labels, req.key);
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
      case 'NotIn': {
        if (values.length === 0)
          throw new ConditionError(`${at}: values must be non-empty for ${req.operator}`);
        const inSet = has && values.includes(labels[req.key]!);
        if (req.operator === 'In' ? !inSet : inSet) return false;
        break;
      }
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) throw new ConditionError(`${at}: values must be empty for ${req.operator}`);
        if (req.operator === 'Exists' ? !has : has) return false;
        break;
      default:
        throw new ConditionError(`${at}: unsupported operator "${String(req.operator)}"`);
    }
  }
  return true;
}

/** Whether `namespace` (with `labels`) may use a ClusterSecretStore with these conditions. */
export function namespaceAllowed(
  conditions: readonly ClusterSecretStoreCondition[] | undefined,
  namespace: string,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (!conditions || conditions.length === 0) return true;
  const allLabels = { ...labels, [NAMESPACE_NAME_LABEL]: namespace };
  for (const [i, cond] of conditions.entries()) {
    const path = `spec.conditions[${i}]`;
    if (
      cond.namespaceSelector &&
      matchesLabelSelector(cond.namespaceSelector, allLabels, `${path}.namespaceSelector`)
    ) {
      return true;
    }
    if (cond.namespaces?.includes(namespace)) return true;
    for (const [j, source] of (cond.namespaceRegexes ?? []).entries()) {
      let re: GoRegexp;
      try {
        re = compileGoRegexp(source);
      } catch (err: unknown) {
        if (!(err instanceof PatternError)) throw err;
        throw new ConditionError(
          `${path}.namespaceRegexes[${j}]: ${quotePattern(source)} is not a valid regular expression: ${err.message}`,
        );
      }
      if (re.test(namespace)) return true;
    }
  }
  return false;
}
