/**
 * `$(VAR)` expansion as Kubernetes does it in a container's `command`,
 * `args`, `env[].value` and `subPathExpr`: `$(NAME)` becomes the value of
 * `NAME` when it is defined, and stays as written when it is not; `$$`
 * escapes a `$`, so `$$(NAME)` gives the literal `$(NAME)`.
 *
 * @example
 * ```ts
 * import { expand } from "./expansion.ts";
 *
 * expand("--port=$(PORT) $(MISSING) $$(PORT)", (name) => ({ PORT: "80" })[name]);
 * // "--port=80 $(MISSING) $(PORT)"
 * ```
 *
 * @module
 */

/** Looks a variable up; `undefined` when it is not defined. */
export type Lookup = (name: string) => string | undefined;

/**
 * Expands the `$(NAME)` references in `input` (Kubernetes'
 * `third_party/forked/golang/expansion.Expand`).
 */
export function expand(input: string, lookup: Lookup): string {
  let out = "";
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== "$" || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === "$") {
      out += "$";
    } else if (rest[0] === "(") {
      const close = rest.indexOf(")");
      if (close < 0) {
        out += "$(";
      } else {
        const name = rest.slice(1, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close + 1;
      }
    } else {
      out += `$${rest[0]}`;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** A lookup over ordered maps: the first map defining the name wins. */
export function lookupIn(...maps: ReadonlyMap<string, string>[]): Lookup {
  return (name) => {
    for (const map of maps) {
      const value = map.get(name);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}
