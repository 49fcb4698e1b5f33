/**
 * Name, label and key validation with Kubernetes' own rules and messages,
 * and the random suffix used for `metadata.generateName`.
 *
 * Each `…Errors(value)` function returns the reasons `value` is invalid,
 * worded as Kubernetes words them; an empty array means it is valid.
 *
 * @example
 * ```ts
 * import { dns1123SubdomainErrors } from "./names.ts";
 * dns1123SubdomainErrors("my.app"); // []
 * dns1123SubdomainErrors("My_App"); // ["a lowercase RFC 1123 subdomain must …"]
 * ```
 *
 * @module
 */

/** Maximum length of a DNS-1123 label (and of a label's name part). */
export const DNS1123_LABEL_MAX_LENGTH = 63;
/** Maximum length of a DNS-1123 subdomain. */
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
/** Maximum length of a label value. */
export const LABEL_VALUE_MAX_LENGTH = 63;
/** Maximum total size of an object's annotations (keys plus values), in bytes. */
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;
/** The characters Kubernetes draws generated name suffixes from (no vowels, no look-alikes). */
export const NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
/** Length of the random suffix appended to `generateName`. */
export const NAME_SUFFIX_LENGTH = 5;

const DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*";
const CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+";

const anchored = (fmt: string) => new RegExp(`^(?:${fmt})$`);
const DNS1123_LABEL_RE = anchored(DNS1123_LABEL_FMT);
const DNS1123_SUBDOMAIN_RE = anchored(DNS1123_SUBDOMAIN_FMT);
const DNS1035_LABEL_RE = anchored(DNS1035_LABEL_FMT);
const QUALIFIED_NAME_RE = anchored(QUALIFIED_NAME_FMT);
const LABEL_VALUE_RE = anchored(LABEL_VALUE_FMT);
const ENV_VAR_NAME_RE = anchored(ENV_VAR_NAME_FMT);
const CONFIG_MAP_KEY_RE = anchored(CONFIG_MAP_KEY_FMT);

/** `must be no more than N characters` */
export function maxLengthError(length: number): string {
  return `must be no more than ${length} characters`;
}

/** Kubernetes' RegexError: the rule, examples, and the regex used. */
function regexError(message: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${message} (regex used for validation is '${fmt}')`;
  // Kubernetes joins examples with "', " + " or ", hence the double space.
  const shown = examples.map((e) => `'${e}', `).join(" or ");
  return `${message} (e.g. ${shown}regex used for validation is '${fmt}')`;
}

/** Reasons `value` is not a DNS-1123 label (namespace names, container names, …). */
export function dns1123LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_LABEL_MAX_LENGTH) {
    errs.push(maxLengthError(DNS1123_LABEL_MAX_LENGTH));
  }
  if (!DNS1123_LABEL_RE.test(value)) {
    errs.push(
      DNS1123_SUBDOMAIN_RE.test(value) ? "must not contain dots" : regexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        DNS1123_LABEL_FMT,
        "my-name",
        "123-abc",
      ),
    );
  }
  return errs;
}

/** Reasons `value` is not a DNS-1123 subdomain (most object names). */
export function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX_LENGTH) {
    errs.push(maxLengthError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  }
  if (!DNS1123_SUBDOMAIN_RE.test(value)) {
    errs.push(regexError(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      DNS1123_SUBDOMAIN_FMT,
      "example.com",
    ));
  }
  return errs;
}

/** Reasons `value` is not a DNS-1035 label (Service names: must start with a letter). */
export function dns1035LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_LABEL_MAX_LENGTH) {
    errs.push(maxLengthError(DNS1123_LABEL_MAX_LENGTH));
  }
  if (!DNS1035_LABEL_RE.test(value)) {
    errs.push(regexError(
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
      DNS1035_LABEL_FMT,
      "my-name",
      "abc-123",
    ));
  }
  return errs;
}

const QUALIFIED_NAME_MESSAGE =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/**
 * Reasons `value` is not a qualified name: an optional DNS subdomain prefix
 * and `/`, then a name part of at most 63 characters. Label keys,
 * annotation keys, taint keys and finalizers are qualified names.
 */
export function qualifiedNameErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split("/");
  if (parts.length > 2) {
    return [
      `a qualified name ${
        regexError(QUALIFIED_NAME_MESSAGE, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
      } with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  const name = parts.length === 2 ? parts[1] as string : value;
  if (parts.length === 2) {
    const prefix = parts[0] as string;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else errs.push(...dns1123SubdomainErrors(prefix).map((m) => `prefix part ${m}`));
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > DNS1123_LABEL_MAX_LENGTH) {
    errs.push(`name part ${maxLengthError(DNS1123_LABEL_MAX_LENGTH)}`);
  }
  if (!QUALIFIED_NAME_RE.test(name)) {
    errs.push(
      `name part ${regexError(QUALIFIED_NAME_MESSAGE, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")}`,
    );
  }
  return errs;
}

/** Reasons `value` is not a label value (empty, or a 63-character name). */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > LABEL_VALUE_MAX_LENGTH) errs.push(maxLengthError(LABEL_VALUE_MAX_LENGTH));
  if (!LABEL_VALUE_RE.test(value)) {
    errs.push(regexError(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
      LABEL_VALUE_FMT,
      "MyValue",
      "my_value",
      "12345",
    ));
  }
  return errs;
}

function chDirPrefixErrors(value: string): string[] {
  if (value === ".") return ["must not be '.'"];
  if (value === "..") return ["must not be '..'"];
  if (value.startsWith("..")) return ["must not start with '..'"];
  return [];
}

/** Reasons `value` is not a valid environment variable name. */
export function envVarNameErrors(value: string): string[] {
  const errs: string[] = [];
  if (!ENV_VAR_NAME_RE.test(value)) {
    errs.push(regexError(
      "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
      ENV_VAR_NAME_FMT,
      "my.env-name",
      "MY_ENV.NAME",
      "MyEnvName1",
    ));
  }
  return [...errs, ...chDirPrefixErrors(value)];
}

/** Reasons `value` is not a valid ConfigMap or Secret key. */
export function configMapKeyErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX_LENGTH) {
    errs.push(maxLengthError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  }
  if (!CONFIG_MAP_KEY_RE.test(value)) {
    errs.push(regexError(
      "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
      CONFIG_MAP_KEY_FMT,
      "key.name",
      "KEY_NAME",
      "key-name",
    ));
  }
  return [...errs, ...chDirPrefixErrors(value)];
}

/** Reasons `value` is not a valid port name (IANA_SVC_NAME: at most 15 characters). */
export function portNameErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 15) errs.push(maxLengthError(15));
  if (!/^[-a-z0-9]+$/.test(value)) {
    errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  }
  if (!/[a-z]/.test(value)) errs.push("must contain at least one letter (a-z)");
  if (value.includes("--")) errs.push("must not contain consecutive hyphens");
  if (value.startsWith("-") || value.endsWith("-")) {
    errs.push("must not begin or end with a hyphen");
  }
  return errs;
}

/** Reasons `value` is not a port number (1-65535). */
export function portNumberErrors(value: number): string[] {
  return Number.isInteger(value) && value >= 1 && value <= 65535 ? [] : ["must be between 1 and 65535, inclusive"];
}

/** The size in bytes of `value` encoded as UTF-8, without allocating. */
export function utf8Length(value: string): number {
  let bytes = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** The total size of annotations as Kubernetes counts it: bytes of every key and value. */
export function annotationsSize(annotations: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) {
    total += utf8Length(key) + (typeof value === "string" ? utf8Length(value) : 0);
  }
  return total;
}

/**
 * Five random characters from {@linkcode NAME_SUFFIX_ALPHABET}, as
 * Kubernetes appends to `generateName`.
 *
 * @param random returns a uniform float in [0, 1); defaults to a
 * cryptographically strong source
 */
export function nameSuffix(random: () => number = cryptoRandom): string {
  let out = "";
  for (let i = 0; i < NAME_SUFFIX_LENGTH; i++) {
    const index = Math.min(
      Math.floor(random() * NAME_SUFFIX_ALPHABET.length),
      NAME_SUFFIX_ALPHABET.length - 1,
    );
    out += NAME_SUFFIX_ALPHABET[index];
  }
  return out;
}

/**
 * A name generated from `generateName` the way Kubernetes does it: the
 * prefix cut to 58 characters, then a random 5-character suffix.
 *
 * @example
 * ```ts
 * generateName("web-"); // e.g. "web-x7k2q"
 * ```
 */
export function generateName(prefix: string, random?: () => number): string {
  const max = DNS1123_LABEL_MAX_LENGTH - NAME_SUFFIX_LENGTH;
  return prefix.slice(0, max) + nameSuffix(random);
}

function cryptoRandom(): number {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return (buf[0] as number) / 2 ** 32;
}
