/**
 * kubectl's JSONPath templates (`-o jsonpath=…`, `--sort-by`,
 * `custom-columns`): literal text with `{…}` expressions, `{range …}…{end}`
 * loops and `{"\n"}` string literals. The path inside the braces is
 * translated to standard JSONPath and evaluated by jsonpath-plus.
 *
 * @example
 * ```ts
 * const template = parseTemplate('{range .items[*]}{.metadata.name}{"\\n"}{end}');
 * template.execute(list); // "web-1\nweb-2\n"
 * ```
 *
 * @module
 */

import { JSONPath } from "jsonpath-plus";
import { UsageError } from "./_errors.ts";

type TemplateNode =
  | { kind: "text"; text: string }
  | { kind: "path"; path: string }
  | { kind: "range"; path: string; body: TemplateNode[] };

/** A parsed template. */
export interface Template {
  /** The template as given. */
  readonly source: string;
  /** Renders the template against `data`. Missing fields print nothing, as with kubectl's default. */
  execute(data: unknown): string;
}

function templateError(source: string, reason: string): UsageError {
  return new UsageError(`invalid jsonpath template "${source}": ${reason}`);
}

/** Finds the `}` that closes the expression opened at `start` (just after `{`), skipping quoted text. */
function closingBrace(source: string, start: number): number {
  let quote: string | undefined;
  for (let i = start; i < source.length; i++) {
    const c = source[i]!;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "}") return i;
  }
  return -1;
}

/** Reads a Go-style double-quoted literal: `"\t"`. */
function literal(source: string, text: string): string {
  try {
    return JSON.parse(text);
  } catch {
    throw templateError(source, `${text} is not a valid string literal`);
  }
}

/** Splits a kubectl path (`.metadata.labels.kubernetes\.io/arch`, `..name`, `.items[?(@.x=="y")]`) into JSONPath. */
export function toJsonPath(expr: string, source: string = expr): string {
  let text = expr.trim();
  if (text.startsWith("$") || text.startsWith("@")) text = text.slice(1);
  let out = "$";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "[") {
      let depth = 0;
      let quote: string | undefined;
      let j = i;
      for (; j < text.length; j++) {
        const d = text[j]!;
        if (quote) {
          if (d === "\\") j++;
          else if (d === quote) quote = undefined;
        } else if (d === '"' || d === "'") quote = d;
        else if (d === "[" || d === "(") depth++;
        else if (d === "]" || d === ")") {
          depth--;
          if (depth === 0 && d === "]") break;
        }
      }
      if (j >= text.length) throw templateError(source, `unclosed "[" in "${expr}"`);
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === ".") {
      let recursive = false;
      i++;
      if (text[i] === ".") {
        recursive = true;
        i++;
      }
      let field = "";
      while (i < text.length && text[i] !== "." && text[i] !== "[") {
        if (text[i] === "\\" && i + 1 < text.length) {
          field += text[i + 1];
          i += 2;
        } else {
          field += text[i];
          i++;
        }
      }
      if (recursive) out += "..";
      if (field === "") {
        if (!recursive && i < text.length && text[i] !== "[") throw templateError(source, `empty field in "${expr}"`);
        continue;
      }
      if (field === "*") out += recursive ? "*" : "[*]";
      else out += `[${JSON.stringify(field)}]`;
      continue;
    }
    throw templateError(source, `unexpected "${c}" in "${expr}": paths start with "." (e.g. {.metadata.name})`);
  }
  return out;
}

function parseNodes(source: string): TemplateNode[] {
  const root: TemplateNode[] = [];
  const stack: { body: TemplateNode[] }[] = [{ body: root }];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf("{", i);
    const current = stack[stack.length - 1]!.body;
    if (open < 0) {
      current.push({ kind: "text", text: source.slice(i) });
      break;
    }
    if (open > i) current.push({ kind: "text", text: source.slice(i, open) });
    const close = closingBrace(source, open + 1);
    if (close < 0) throw templateError(source, `unclosed "{" at position ${open + 1}`);
    const expr = source.slice(open + 1, close).trim();
    i = close + 1;
    if (expr.startsWith('"') || expr.startsWith("'")) {
      const quoted = expr.startsWith("'") ? `"${expr.slice(1, -1).replace(/"/g, '\\"')}"` : expr;
      current.push({ kind: "text", text: literal(source, quoted) });
    } else if (expr === "end") {
      if (stack.length === 1) throw templateError(source, `{end} without {range}`);
      stack.pop();
    } else if (/^range\s/.test(expr)) {
      const path = expr.slice("range".length).trim();
      toJsonPath(path, source);
      const node: TemplateNode = { kind: "range", path, body: [] };
      current.push(node);
      stack.push({ body: node.body });
    } else if (expr === "") {
      throw templateError(source, `empty expression {} at position ${open + 1}`);
    } else {
      toJsonPath(expr, source);
      current.push({ kind: "path", path: expr });
    }
  }
  if (stack.length > 1) throw templateError(source, "{range} without {end}");
  return root;
}

function evaluate(path: string, data: unknown): unknown[] {
  const jsonPath = toJsonPath(path);
  if (jsonPath === "$") return [data];
  if (data === null || typeof data !== "object") return [];
  return JSONPath({ path: jsonPath, json: data as object, wrap: true }) as unknown[];
}

/** How kubectl prints one value: strings as they are, everything else as JSON. */
export function valueText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  return JSON.stringify(value);
}

function run(nodes: readonly TemplateNode[], data: unknown): string {
  let out = "";
  for (const node of nodes) {
    if (node.kind === "text") out += node.text;
    else if (node.kind === "path") out += evaluate(node.path, data).map(valueText).join(" ");
    else for (const item of evaluate(node.path, data)) out += run(node.body, item);
  }
  return out;
}

/**
 * Parses a kubectl JSONPath template. A bare path (`.metadata.name`) is
 * taken as `{.metadata.name}`, as `--sort-by` allows.
 *
 * @throws {UsageError} naming what is wrong with the template
 */
export function parseTemplate(source: string): Template {
  const text = source.includes("{") ? source : `{${source}}`;
  const nodes = parseNodes(text);
  return { source, execute: (data) => run(nodes, data) };
}

/** The values one path (`.metadata.name` or `{.metadata.name}`) selects in `data`. */
export function selectValues(path: string, data: unknown): unknown[] {
  const trimmed = path.trim();
  const inner = trimmed.startsWith("{") && trimmed.endsWith("}") ? trimmed.slice(1, -1) : trimmed;
  return evaluate(inner, data);
}
