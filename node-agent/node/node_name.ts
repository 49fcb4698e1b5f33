/**
 * The node's name: `--node-name`, else the stored one, else this
 * machine's hostname in lower case, as the kubelet names nodes.
 *
 * @module
 */

import { dns1123SubdomainErrors } from "@skiff/api";

/** This machine's hostname in lower case: the name a node gets when given none. */
export function defaultNodeName(hostname: string = Deno.hostname()): string {
  return hostname.trim().toLowerCase();
}

/**
 * Checks that `name` can name a Node (a lower-case DNS subdomain).
 *
 * @throws {TypeError} saying what is wrong and to pass `--node-name`
 */
export function checkNodeName(name: string): string {
  const errors = name === "" ? ["must not be empty"] : dns1123SubdomainErrors(name);
  if (errors.length > 0) {
    throw new TypeError(
      `Invalid node name "${name}": ${errors.join("; ")}; pass --node-name with a lower-case DNS name such as "pi-3"`,
    );
  }
  return name;
}
