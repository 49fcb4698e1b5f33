/**
 * Container image references, parsed and normalised as Docker and
 * containerd do (distribution/reference): `busybox` means
 * `docker.io/library/busybox:latest`.
 *
 * @example
 * ```ts
 * import { normalizeImageReference, parseImageReference } from "./image.ts";
 * normalizeImageReference("busybox"); // "docker.io/library/busybox:latest"
 * parseImageReference("localhost:5000/app:v2").registry; // "localhost:5000"
 * ```
 *
 * @module
 */

/** The parts of a normalised image reference. */
export interface ImageReference {
  /** Registry host and optional port, e.g. `docker.io`, `localhost:5000`. */
  registry: string;
  /** Path within the registry, e.g. `library/busybox`. */
  repository: string;
  /** The tag; `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** The digest, e.g. `sha256:…`. */
  digest?: string;
}

const DEFAULT_REGISTRY = "docker.io";
const LEGACY_DEFAULT_REGISTRY = "index.docker.io";
const OFFICIAL_REPOSITORY_PREFIX = "library/";
/** Longest repository name (registry and path) distribution accepts. */
const NAME_MAX_LENGTH = 255;
/** Longest whole reference worth matching: name, a 128-character tag, a sha512 digest. */
const REFERENCE_MAX_LENGTH = 512;

const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN = `${HOST}(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const DIGEST_HEX_LENGTHS: Readonly<Record<string, number>> = {
  sha256: 64,
  sha384: 96,
  sha512: 128,
};

/** Splits off the registry as Docker does: the first component is one if it has `.` or `:`, is `localhost`, or has capitals. */
function splitRegistry(ref: string): [string, string] {
  const slash = ref.indexOf("/");
  let registry = DEFAULT_REGISTRY;
  let rest = ref;
  if (slash !== -1) {
    const first = ref.slice(0, slash);
    if (/[.:]/.test(first) || first === "localhost" || first.toLowerCase() !== first) {
      registry = first === LEGACY_DEFAULT_REGISTRY ? DEFAULT_REGISTRY : first;
      rest = ref.slice(slash + 1);
    }
  }
  if (registry === DEFAULT_REGISTRY && !rest.includes("/")) {
    rest = OFFICIAL_REPOSITORY_PREFIX + rest;
  }
  return [registry, rest];
}

function digestError(digest: string): string | undefined {
  const colon = digest.indexOf(":");
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const length = DIGEST_HEX_LENGTHS[algorithm];
  if (length === undefined) return "unsupported digest algorithm";
  if (hex.length !== length) return "invalid checksum digest length";
  if (!/^[a-f0-9]+$/.test(hex)) return "invalid checksum digest format";
  return undefined;
}

function parse(ref: string): ImageReference | string {
  if (ref.length === 0) return "repository name must have at least one component";
  if (ref.length > REFERENCE_MAX_LENGTH) return "invalid reference format";
  if (/^[a-f0-9]{64}$/.test(ref)) {
    return "invalid repository name, cannot specify 64-byte hexadecimal strings";
  }
  const [registry, rest] = splitRegistry(ref);
  const colon = rest.indexOf(":");
  const remoteName = colon === -1 ? rest : rest.slice(0, colon);
  if (remoteName.toLowerCase() !== remoteName) {
    return `invalid reference format: repository name (${remoteName}) must be lowercase`;
  }
  const full = `${registry}/${rest}`;
  const match = REFERENCE_RE.exec(full);
  if (match === null) {
    return REFERENCE_RE.test(full.toLowerCase())
      ? "invalid reference format: repository name must be lowercase"
      : "invalid reference format";
  }
  const [, name = "", tag, digest] = match;
  if (name.length > NAME_MAX_LENGTH) {
    return `repository name must not be more than ${NAME_MAX_LENGTH} characters`;
  }
  if (digest !== undefined) {
    const error = digestError(digest);
    if (error !== undefined) return error;
  }
  const out: ImageReference = { registry, repository: name.slice(registry.length + 1) };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  else if (tag === undefined) out.tag = "latest";
  return out;
}

/**
 * Why `ref` is not a valid image reference, as distribution words it; empty
 * when it is valid. Never throws.
 */
export function imageReferenceErrors(ref: unknown): string[] {
  if (typeof ref !== "string") return ["must be a string"];
  const parsed = parse(ref);
  return typeof parsed === "string" ? [parsed] : [];
}

/**
 * Parses and normalises an image reference: the default registry is
 * `docker.io`, official images live under `library/`, and `latest` is the
 * tag when neither a tag nor a digest is given.
 *
 * @throws {TypeError} when `ref` is not a valid reference
 */
export function parseImageReference(ref: string): ImageReference {
  const parsed = typeof ref === "string" ? parse(ref) : "must be a string";
  if (typeof parsed === "string") {
    throw new TypeError(`Invalid image reference ${JSON.stringify(ref)}: ${parsed}`);
  }
  return parsed;
}

/** `registry/repository[:tag][@digest]`. */
export function formatImageReference(ref: ImageReference): string {
  let out = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/**
 * The fully qualified form of an image reference, as containerd stores it:
 * `nginx:1.25` becomes `docker.io/library/nginx:1.25`.
 *
 * @throws {TypeError} when `ref` is not a valid reference
 */
export function normalizeImageReference(ref: string): string {
  return formatImageReference(parseImageReference(ref));
}

/** The repository name with its registry and no tag or digest: `docker.io/library/nginx`. */
export function imageName(ref: string): string {
  const parsed = parseImageReference(ref);
  return `${parsed.registry}/${parsed.repository}`;
}
