/**
 * Label selectors, field selectors, node selector terms, and taints and
 * tolerations, matching exactly as Kubernetes matches them.
 *
 * @example
 * ```ts
 * import { parseSelector } from "./selectors.ts";
 * const s = parseSelector("app=web,tier in (front, back),!canary");
 * s.matches({ app: "web", tier: "front" }); // true
 * s.toString(); // "!canary,app=web,tier in (back,front)"
 * ```
 *
 * @module
 */

import type { LabelSelector } from "./meta.ts";
import { labelValueErrors, qualifiedNameErrors } from "./names.ts";
import type { Taint } from "./types_core.ts";
import type {
  NodeSelector,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  PreferredSchedulingTerm,
  TaintEffect,
  Toleration,
} from "./types_pod.ts";

/** Operators of a label requirement, spelled as Kubernetes spells them. */
export type SelectorOperator =
  | "="
  | "=="
  | "!="
  | "in"
  | "notin"
  | "exists"
  | "!"
  | "gt"
  | "lt";

/** One requirement of a label selector. */
export interface Requirement {
  /** The label key. */
  readonly key: string;
  /** The comparison. */
  readonly operator: SelectorOperator;
  /** The values, sorted and without duplicates. */
  readonly values: readonly string[];
}

/** Labels of an object; a missing map has no labels. */
export type Labels = Readonly<Record<string, string>> | undefined | null;

const INT64 = /^[+-]?[0-9]+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function parseInt64(value: string): bigint | undefined {
  if (!INT64.test(value)) return undefined;
  const n = BigInt(value);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** Kubernetes' NewRequirement: checks a requirement and returns it, or throws. */
function requirement(key: string, operator: SelectorOperator, values: string[]): Requirement {
  const errs: string[] = [];
  const keyErrs = qualifiedNameErrors(key);
  if (keyErrs.length > 0) errs.push(`invalid label key "${key}": ${keyErrs.join("; ")}`);
  switch (operator) {
    case "in":
    case "notin":
      if (values.length === 0) errs.push("for 'in', 'notin' operators, values set can't be empty");
      break;
    case "=":
    case "==":
    case "!=":
      if (values.length !== 1) errs.push("exact-match compatibility requires one single value");
      break;
    case "exists":
    case "!":
      if (values.length !== 0) errs.push("values set must be empty for exists and does not exist");
      break;
    case "gt":
    case "lt":
      if (values.length !== 1) {
        errs.push("for 'Gt', 'Lt' operators, exactly one value is required");
      }
      for (const v of values) {
        if (parseInt64(v) === undefined) {
          errs.push(`for 'Gt', 'Lt' operators, the value must be an integer: "${v}"`);
        }
      }
      break;
  }
  for (const v of values) {
    const valueErrs = labelValueErrors(v);
    if (valueErrs.length > 0) {
      errs.push(`invalid label value "${v}" for key "${key}": ${valueErrs.join("; ")}`);
    }
  }
  if (errs.length > 0) throw new TypeError(errs.join(", "));
  return { key, operator, values: [...new Set(values)].sort() };
}

function requirementMatches(r: Requirement, labels: Labels): boolean {
  const has = labels != null && Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key] as string : "";
  switch (r.operator) {
    case "in":
    case "=":
    case "==":
      return has && r.values.includes(value);
    case "notin":
    case "!=":
      return !has || !r.values.includes(value);
    case "exists":
      return has;
    case "!":
      return !has;
    case "gt":
    case "lt": {
      if (!has || r.values.length !== 1) return false;
      const left = parseInt64(value);
      const right = parseInt64(r.values[0] as string);
      if (left === undefined || right === undefined) return false;
      return r.operator === "gt" ? left > right : left < right;
    }
  }
}

function requirementString(r: Requirement): string {
  const values = r.values.join(",");
  switch (r.operator) {
    case "!":
      return `!${r.key}`;
    case "exists":
      return r.key;
    case "in":
    case "notin":
      return `${r.key} ${r.operator} (${values})`;
    case "gt":
      return `${r.key}>${values}`;
    case "lt":
      return `${r.key}<${values}`;
    default:
      return `${r.key}${r.operator}${values}`;
  }
}

/**
 * A parsed label selector: requirements that must all hold. Build one with
 * {@linkcode parseSelector}, {@linkcode selectorFromLabelSelector} or
 * {@linkcode selectorFromSet}.
 */
export class Selector {
  /** The requirements, sorted by key. */
  readonly requirements: readonly Requirement[];
  readonly #nothing: boolean;

  private constructor(requirements: Requirement[], nothing: boolean) {
    this.requirements = requirements.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    this.#nothing = nothing;
  }

  /** A selector that matches every object. */
  static everything(): Selector {
    return new Selector([], false);
  }

  /** A selector that matches no object (what a missing LabelSelector means). */
  static nothing(): Selector {
    return new Selector([], true);
  }

  /** @internal Builds a selector from checked requirements. */
  static of(requirements: Requirement[]): Selector {
    return new Selector(requirements, false);
  }

  /** True when `labels` satisfy every requirement. */
  matches(labels: Labels): boolean {
    return !this.#nothing && this.requirements.every((r) => requirementMatches(r, labels));
  }

  /** True when the selector has no requirements (and so matches everything). */
  isEmpty(): boolean {
    return !this.#nothing && this.requirements.length === 0;
  }

  /** The value `key` must equal (`key=v`, `key==v`, `key in (v)`), if any. */
  requiresExactMatch(key: string): string | undefined {
    for (const r of this.requirements) {
      if (r.key !== key || r.values.length !== 1) continue;
      if (r.operator === "=" || r.operator === "==" || r.operator === "in") return r.values[0];
    }
    return undefined;
  }

  /** The selector in Kubernetes' string form, as accepted by `?labelSelector=`. */
  toString(): string {
    return this.requirements.map(requirementString).join(",");
  }
}

type TokenType =
  | "id"
  | "("
  | ")"
  | ","
  | "!"
  | "="
  | "=="
  | "!="
  | ">"
  | "<"
  | "in"
  | "notin"
  | "end";

interface Token {
  type: TokenType;
  text: string;
}

const SPECIAL = "=!(),<>";
const SYMBOLS = new Set(["(", ")", ",", "!", "=", "==", "!=", ">", "<"]);
const WHITESPACE = " \t\r\n";

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  while (true) {
    while (pos < input.length && WHITESPACE.includes(input[pos] as string)) pos++;
    if (pos >= input.length) break;
    const start = pos;
    if (SPECIAL.includes(input[pos] as string)) {
      // Longest run of special characters that still forms an operator.
      let best = 0;
      for (let end = pos + 1; end <= input.length; end++) {
        if (!SPECIAL.includes(input[end - 1] as string)) break;
        if (SYMBOLS.has(input.slice(pos, end))) best = end;
        else if (best > 0) break;
      }
      pos = best;
      const text = input.slice(start, pos);
      tokens.push({ type: text as TokenType, text });
    } else {
      while (
        pos < input.length && !SPECIAL.includes(input[pos] as string) &&
        !WHITESPACE.includes(input[pos] as string)
      ) pos++;
      const text = input.slice(start, pos);
      tokens.push({ type: text === "in" || text === "notin" ? text : "id", text });
    }
  }
  tokens.push({ type: "end", text: "" });
  return tokens;
}

/** Kubernetes' selector parser: `in`/`notin` are identifiers except where an operator is due. */
class Parser {
  #tokens: Token[];
  #pos = 0;

  constructor(input: string) {
    this.#tokens = lex(input);
  }

  #peek(operatorContext = false): Token {
    const t = this.#tokens[this.#pos] as Token;
    return !operatorContext && (t.type === "in" || t.type === "notin") ? { type: "id", text: t.text } : t;
  }

  #next(operatorContext = false): Token {
    const t = this.#peek(operatorContext);
    if (this.#pos < this.#tokens.length - 1) this.#pos++;
    return t;
  }

  parse(): Requirement[] {
    const out: Requirement[] = [];
    while (true) {
      const t = this.#peek();
      if (t.type === "end") return out;
      if (t.type !== "id" && t.type !== "!") {
        throw new TypeError(`found '${t.text}', expected: !, identifier, or 'end of string'`);
      }
      try {
        out.push(this.#requirement());
      } catch (e) {
        throw new TypeError(`unable to parse requirement: ${(e as Error).message}`);
      }
      const after = this.#next();
      if (after.type === "end") return out;
      if (after.type !== ",") {
        throw new TypeError(`found '${after.text}', expected: ',' or 'end of string'`);
      }
      const following = this.#peek();
      if (following.type !== "id" && following.type !== "!") {
        throw new TypeError(`found '${following.text}', expected: identifier after ','`);
      }
    }
  }

  #requirement(): Requirement {
    let t = this.#next();
    const negated = t.type === "!";
    if (negated) t = this.#next();
    if (t.type !== "id") throw new TypeError(`found '${t.text}', expected: identifier`);
    const key = t.text;
    const keyErrs = qualifiedNameErrors(key);
    if (keyErrs.length > 0) {
      throw new TypeError(`invalid label key "${key}": ${keyErrs.join("; ")}`);
    }
    const ahead = this.#peek();
    if (ahead.type === "end" || ahead.type === ",") {
      return requirement(key, negated ? "!" : "exists", []);
    }
    if (negated) {
      throw new TypeError(`found '${ahead.text}', expected: ',' or 'end of string'`);
    }
    const op = this.#next(true);
    switch (op.type) {
      case "in":
      case "notin":
        return requirement(key, op.type, this.#values());
      case "=":
      case "==":
      case "!=":
        return requirement(key, op.type, [this.#exactValue()]);
      case ">":
        return requirement(key, "gt", [this.#exactValue()]);
      case "<":
        return requirement(key, "lt", [this.#exactValue()]);
      default:
        throw new TypeError(
          `found '${op.text}', expected: in, notin, =, ==, !=, gt, lt`,
        );
    }
  }

  #exactValue(): string {
    const t = this.#peek();
    if (t.type === "end" || t.type === ",") return "";
    this.#next();
    if (t.type === "id") return t.text;
    throw new TypeError(`found '${t.text}', expected: identifier`);
  }

  #values(): string[] {
    const open = this.#next();
    if (open.type !== "(") throw new TypeError(`found '${open.text}' expected: '('`);
    const first = this.#peek();
    if (first.type === ")") {
      this.#next();
      return [""];
    }
    if (first.type !== "id" && first.type !== ",") {
      throw new TypeError(`found '${first.text}', expected: ',', ')' or identifier`);
    }
    const values: string[] = [];
    while (true) {
      const t = this.#next();
      if (t.type === "id") {
        values.push(t.text);
        const ahead = this.#peek();
        if (ahead.type === ")") break;
        if (ahead.type !== ",") {
          throw new TypeError(`found '${ahead.text}', expected: ',' or ')'`);
        }
      } else if (t.type === ",") {
        // "(,a)", "(a,,b)" and "(a,)" all hold the empty value.
        if (values.length === 0) values.push("");
        const ahead = this.#peek();
        if (ahead.type === ")") {
          values.push("");
          break;
        }
        if (ahead.type === ",") values.push("");
      } else {
        throw new TypeError(`found '${t.text}', expected: ',', or identifier`);
      }
    }
    this.#next();
    return values;
  }
}

/**
 * Parses a label selector string (`?labelSelector=`, `kubectl -l`):
 * `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>5`,
 * `a<5`, comma-separated. An empty string selects everything.
 *
 * @throws {TypeError} on bad syntax, naming what was found and what was expected
 */
export function parseSelector(input: string): Selector {
  if (typeof input !== "string") {
    throw new TypeError(`Invalid label selector: expected a string, got ${typeof input}`);
  }
  try {
    return Selector.of(new Parser(input).parse());
  } catch (e) {
    throw new TypeError(`Invalid label selector "${input}": ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The selector for a label map: every key must have exactly that value
 * (`matchLabels`, `spec.selector` of a Service, `spec.nodeSelector`).
 *
 * @throws {TypeError} when a key or value is not a valid label key or value
 */
export function selectorFromSet(labels: Readonly<Record<string, string>>): Selector {
  return Selector.of(Object.entries(labels).map(([k, v]) => requirement(k, "=", [v])));
}

const LABEL_SELECTOR_OPERATORS: Readonly<Record<string, SelectorOperator>> = {
  In: "in",
  NotIn: "notin",
  Exists: "exists",
  DoesNotExist: "!",
};

/**
 * The selector for a structured LabelSelector (`spec.selector` of
 * workloads): a missing selector matches nothing, an empty one everything.
 *
 * @throws {TypeError} when a requirement is invalid
 */
export function selectorFromLabelSelector(selector: LabelSelector | null | undefined): Selector {
  if (selector == null) return Selector.nothing();
  if (typeof selector !== "object") {
    throw new TypeError(`Invalid label selector: expected an object, got ${typeof selector}`);
  }
  const requirements: Requirement[] = [];
  const matchLabels = selector.matchLabels ?? {};
  if (typeof matchLabels !== "object" || Array.isArray(matchLabels)) {
    throw new TypeError("Invalid label selector: matchLabels must be an object");
  }
  for (const [k, v] of Object.entries(matchLabels)) {
    requirements.push(requirement(k, "=", [String(v)]));
  }
  const expressions = selector.matchExpressions ?? [];
  if (!Array.isArray(expressions)) {
    throw new TypeError("Invalid label selector: matchExpressions must be an array");
  }
  for (const expr of expressions) {
    const op = LABEL_SELECTOR_OPERATORS[String(expr?.operator)];
    if (op === undefined) {
      throw new TypeError(`"${expr?.operator}" is not a valid label selector operator`);
    }
    const values = Array.isArray(expr.values) ? expr.values.map(String) : [];
    requirements.push(requirement(String(expr.key), op, values));
  }
  return Selector.of(requirements);
}

/** One requirement of a field selector. */
export interface FieldRequirement {
  /** The field's path, e.g. `spec.nodeName`. */
  readonly field: string;
  /** `=` (also for `==`) or `!=`. */
  readonly operator: "=" | "!=";
  /** The value, unescaped. */
  readonly value: string;
}

/** Returns a field's value as a string; a missing field reads as `""`. */
export type FieldGetter = (field: string) => string | undefined;

function escapeFieldValue(value: string): string {
  return value.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** A parsed field selector: `field=value` and `field!=value` terms that must all hold. */
export class FieldSelector {
  /** The terms, sorted. */
  readonly requirements: readonly FieldRequirement[];

  /** @internal Builds a selector from parsed terms. */
  constructor(requirements: FieldRequirement[]) {
    this.requirements = requirements;
  }

  /** True when every term holds for the fields `get` returns. */
  matches(get: FieldGetter): boolean {
    return this.requirements.every((r) => {
      const actual = get(r.field) ?? "";
      return r.operator === "=" ? actual === r.value : actual !== r.value;
    });
  }

  /** The value `field` must equal, if a `=` term names it (e.g. `spec.nodeName`). */
  exactMatch(field: string): string | undefined {
    return this.requirements.find((r) => r.field === field && r.operator === "=")?.value;
  }

  /** True when there are no terms. */
  isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  /** The selector in Kubernetes' string form. */
  toString(): string {
    return this.requirements.map((r) => `${r.field}${r.operator}${escapeFieldValue(r.value)}`)
      .join(",");
  }
}

/** Splits on commas not escaped by a backslash. */
function splitFieldTerms(input: string): string[] {
  const terms: string[] = [];
  let start = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] === "\\") i++;
    else if (input[i] === ",") {
      terms.push(input.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(input.slice(start));
  return terms;
}

function unescapeFieldValue(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === "\\") {
      const next = value[++i];
      if (next === undefined || !"\\,=".includes(next)) {
        throw new TypeError(`invalid field selector: invalid escape sequence: \\${next ?? ""}`);
      }
      out += next;
    } else if (c === "," || c === "=") {
      throw new TypeError(`invalid field selector: unescaped character in value: ${c}`);
    } else out += c;
  }
  return out;
}

/**
 * Parses a field selector (`?fieldSelector=`): `a=b`, `a==b`, `a!=b`,
 * comma-separated; `\,`, `\=` and `\\` escape values.
 *
 * @throws {TypeError} on a term without an operator or a bad escape
 */
export function parseFieldSelector(input: string): FieldSelector {
  if (typeof input !== "string") {
    throw new TypeError(`Invalid field selector: expected a string, got ${typeof input}`);
  }
  const requirements: FieldRequirement[] = [];
  for (const term of splitFieldTerms(input).sort()) {
    if (term === "") continue;
    const match = /!=|==|=/.exec(term);
    if (match === null) {
      throw new TypeError(`Invalid field selector "${input}": can't understand '${term}'`);
    }
    const field = term.slice(0, match.index);
    let value: string;
    try {
      value = unescapeFieldValue(term.slice(match.index + match[0].length));
    } catch (e) {
      throw new TypeError(`Invalid field selector "${input}": ${(e as Error).message}`, {
        cause: e,
      });
    }
    requirements.push({ field, operator: match[0] === "!=" ? "!=" : "=", value });
  }
  return new FieldSelector(requirements);
}

/** The parts of a node that node selectors look at. */
export interface NodeLike {
  /** The node's name and labels. */
  metadata?: { name?: string; labels?: Record<string, string> };
}

const NODE_SELECTOR_OPERATORS: Readonly<Record<string, SelectorOperator>> = {
  ...LABEL_SELECTOR_OPERATORS,
  Gt: "gt",
  Lt: "lt",
};

function termExpressions(reqs: readonly NodeSelectorRequirement[]): Selector {
  return Selector.of(reqs.map((r) => {
    const op = NODE_SELECTOR_OPERATORS[String(r?.operator)];
    if (op === undefined) throw new TypeError(`"${r?.operator}" is not a valid node selector operator`);
    return requirement(String(r.key), op, Array.isArray(r.values) ? r.values.map(String) : []);
  }));
}

function termFieldsMatch(reqs: readonly NodeSelectorRequirement[], node: NodeLike): boolean {
  return reqs.every((r) => {
    if (r?.key !== "metadata.name") return false;
    const values = Array.isArray(r.values) ? r.values : [];
    if (values.length !== 1) return false;
    const name = node.metadata?.name ?? "";
    if (r.operator === "In") return name === values[0];
    if (r.operator === "NotIn") return name !== values[0];
    return false;
  });
}

/**
 * True when `node` satisfies the term: every label expression and every
 * field expression (`metadata.name`, In/NotIn) holds. An empty or invalid
 * term matches no node, as in Kubernetes.
 */
export function matchesNodeSelectorTerm(term: NodeSelectorTerm, node: NodeLike): boolean {
  if (term == null || typeof term !== "object") return false;
  const exprs = Array.isArray(term.matchExpressions) ? term.matchExpressions : [];
  const fields = Array.isArray(term.matchFields) ? term.matchFields : [];
  if (exprs.length === 0 && fields.length === 0) return false;
  try {
    if (exprs.length > 0 && !termExpressions(exprs).matches(node.metadata?.labels)) return false;
  } catch {
    return false;
  }
  return termFieldsMatch(fields, node);
}

/** True when `node` satisfies at least one term of the node selector. */
export function matchesNodeSelector(selector: NodeSelector, node: NodeLike): boolean {
  const terms = Array.isArray(selector?.nodeSelectorTerms) ? selector.nodeSelectorTerms : [];
  return terms.some((t) => matchesNodeSelectorTerm(t, node));
}

/** The parts of a pod that node affinity looks at. */
export interface PodSchedulingSpec {
  /** The pod's spec. */
  spec?: {
    nodeSelector?: Record<string, string>;
    affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector } };
  };
}

/**
 * True when `node` satisfies the pod's `nodeSelector` and its required node
 * affinity (both, when both are set), as the scheduler's NodeAffinity filter
 * checks. A nodeSelector with invalid keys or values matches no node.
 */
export function podMatchesNodeAffinity(pod: PodSchedulingSpec, node: NodeLike): boolean {
  const nodeSelector = pod.spec?.nodeSelector;
  if (nodeSelector != null) {
    try {
      if (!selectorFromSet(nodeSelector).matches(node.metadata?.labels)) return false;
    } catch {
      return false;
    }
  }
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  return required == null || matchesNodeSelector(required, node);
}

/** The sum of the weights of the preferred terms `node` satisfies. */
export function preferredNodeAffinityScore(
  terms: readonly PreferredSchedulingTerm[] | undefined,
  node: NodeLike,
): number {
  let score = 0;
  for (const t of terms ?? []) {
    if (typeof t?.weight === "number" && t.weight !== 0 && matchesNodeSelectorTerm(t.preference, node)) {
      score += t.weight;
    }
  }
  return score;
}

/**
 * True when the toleration tolerates the taint: same effect (or any, when
 * the toleration's is empty), same key (or any, when empty), and `Exists`
 * or equal values.
 */
export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? "") {
    case "":
    case "Equal":
      return (toleration.value ?? "") === (taint.value ?? "");
    case "Exists":
      return true;
    default:
      return false;
  }
}

/** Every taint effect. */
export const TAINT_EFFECTS: readonly TaintEffect[] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/**
 * The taints with one of `effects` that no toleration tolerates: for the
 * scheduler's filter pass `["NoSchedule", "NoExecute"]`, for scoring
 * `["PreferNoSchedule"]`.
 */
export function untoleratedTaints(
  tolerations: readonly Toleration[] | undefined,
  taints: readonly Taint[] | undefined,
  effects: readonly TaintEffect[] = TAINT_EFFECTS,
): Taint[] {
  return (taints ?? []).filter((taint) =>
    effects.includes(taint.effect) && !(tolerations ?? []).some((t) => tolerates(t, taint))
  );
}

/**
 * How long a pod may stay on a node with these taints before it is
 * evicted, from its NoExecute tolerations: `0` when a NoExecute taint is
 * not tolerated, `Infinity` when every NoExecute taint is tolerated forever
 * (or there is none), else the smallest `tolerationSeconds` (at least 0) of
 * the tolerations that match.
 */
export function noExecuteEvictionSeconds(
  tolerations: readonly Toleration[] | undefined,
  taints: readonly Taint[] | undefined,
): number {
  let seconds = Infinity;
  for (const taint of taints ?? []) {
    if (taint.effect !== "NoExecute") continue;
    const matching = (tolerations ?? []).filter((t) => tolerates(t, taint));
    if (matching.length === 0) return 0;
    for (const t of matching) {
      if (typeof t.tolerationSeconds === "number") {
        seconds = Math.min(seconds, Math.max(0, t.tolerationSeconds));
      }
    }
  }
  return seconds;
}
