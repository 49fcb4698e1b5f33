/**
 * The authorization.k8s.io self reviews, so `kubectl auth can-i VERB
 * RESOURCE` and `kubectl auth can-i --list` work: a
 * SelfSubjectAccessReview asks the server's authorizer whether the caller
 * may do one thing; a SelfSubjectRulesReview lists what the caller's role
 * may do. Neither is stored. Every authenticated user may create both.
 *
 * @module
 */

import { BadRequestError, ForbiddenError, InvalidError, type KubeObject } from "@skiff/api";
import { bodyFormat, decodeObject, mediaType, readBody } from "./_body.ts";
import type { Authorizer, RequestAttributes, SubresourceHandler } from "./handler.ts";
import type { User } from "./object_store.ts";
import { PROTOBUF_MEDIA_TYPE } from "./protobuf/decode.ts";
import type { ServedType } from "./served_type.ts";

const GROUP = "authorization.k8s.io";
const API_VERSION = `${GROUP}/v1`;
const BODY_TYPES = ["application/json", "application/yaml", PROTOBUF_MEDIA_TYPE];
const READ_VERBS = ["get", "list", "watch"];

/** Options of {@linkcode accessReviewHandlers}. */
export interface AccessReviewOptions {
  /** The authorizer the API server runs on every request. */
  authorize: Authorizer;
  /** The served types, from which a viewer's rules are listed. */
  types: readonly ServedType[];
}

/** One resource rule of a SelfSubjectRulesReview's status. */
interface ResourceRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
}

/** One non-resource rule of a SelfSubjectRulesReview's status. */
interface NonResourceRule {
  verbs: string[];
  nonResourceURLs: string[];
}

/**
 * The handlers to register as `resources` of the API handler, keyed
 * `authorization.k8s.io/selfsubjectaccessreviews` and
 * `authorization.k8s.io/selfsubjectrulesreviews`.
 */
export function accessReviewHandlers(options: AccessReviewOptions): Record<string, SubresourceHandler> {
  return {
    [`${GROUP}/selfsubjectaccessreviews`]: async (req, { user }) => {
      const body = await readReview(req, "SelfSubjectAccessReview");
      const spec = objectField(body.spec, "spec");
      const status = reviewAccess(options.authorize, user, spec);
      return created({ apiVersion: API_VERSION, kind: "SelfSubjectAccessReview", metadata: {}, spec, status });
    },
    [`${GROUP}/selfsubjectrulesreviews`]: async (req, { user }) => {
      const body = await readReview(req, "SelfSubjectRulesReview");
      const spec = objectField(body.spec, "spec");
      if (spec.namespace !== undefined && typeof spec.namespace !== "string") {
        throw invalid("SelfSubjectRulesReview", "spec.namespace", "must be a string");
      }
      return created({
        apiVersion: API_VERSION,
        kind: "SelfSubjectRulesReview",
        metadata: {},
        spec,
        status: rulesOf(user, options.types),
      });
    },
  };
}

async function readReview(req: Request, kind: string): Promise<Record<string, unknown>> {
  if (req.method !== "POST") throw new BadRequestError(`${kind} supports only create (POST)`);
  const body = decodeObject(await readBody(req), bodyFormat(mediaType(req.headers.get("content-type")), BODY_TYPES));
  if (body.kind !== kind || body.apiVersion !== API_VERSION) {
    throw new BadRequestError(
      `The body must be a ${kind} of ${API_VERSION}, not ${JSON.stringify(`${body.apiVersion}/${body.kind}`)}`,
    );
  }
  return body;
}

function objectField(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new BadRequestError(`${field} must be an object`);
  return value as Record<string, unknown>;
}

function invalid(kind: string, field: string, message: string): InvalidError {
  return new InvalidError(kind, "", [{ field, type: "FieldValueInvalid", message }], { group: GROUP });
}

function stringField(attrs: Record<string, unknown>, field: string, path: string): string {
  const value = attrs[field] ?? "";
  if (typeof value !== "string") throw invalid("SelfSubjectAccessReview", `${path}.${field}`, "must be a string");
  return value;
}

function reviewAccess(
  authorize: Authorizer,
  user: User,
  spec: Record<string, unknown>,
): { allowed: boolean; reason?: string } {
  const resource = spec.resourceAttributes;
  const nonResource = spec.nonResourceAttributes;
  if ((resource === undefined) === (nonResource === undefined)) {
    throw invalid(
      "SelfSubjectAccessReview",
      "spec.resourceAttributes",
      "exactly one of nonResourceAttributes or resourceAttributes must be specified",
    );
  }
  if (nonResource !== undefined) {
    const attrs = objectField(nonResource, "spec.nonResourceAttributes");
    const verb = stringField(attrs, "verb", "spec.nonResourceAttributes");
    stringField(attrs, "path", "spec.nonResourceAttributes");
    if (user.role === "admin") return { allowed: true, reason: "admins may do anything" };
    if (user.role === "viewer" && verb === "get") return { allowed: true, reason: "viewers may read" };
    return { allowed: false, reason: `${user.role}s may only get non-resource URLs` };
  }
  const attrs = objectField(resource, "spec.resourceAttributes");
  const path = "spec.resourceAttributes";
  const subresource = stringField(attrs, "subresource", path);
  const namespace = stringField(attrs, "namespace", path);
  const name = stringField(attrs, "name", path);
  const request: RequestAttributes = {
    verb: stringField(attrs, "verb", path),
    group: stringField(attrs, "group", path),
    resource: stringField(attrs, "resource", path),
    subresource: subresource || undefined,
    namespace: namespace || undefined,
    name: name || undefined,
  };
  try {
    authorize(user, request);
  } catch (err) {
    if (!(err instanceof ForbiddenError)) throw err;
    return { allowed: false, reason: err.message };
  }
  return { allowed: true, reason: `allowed for role "${user.role}"` };
}

function rulesOf(
  user: User,
  types: readonly ServedType[],
): {
  resourceRules: ResourceRule[];
  nonResourceRules: NonResourceRule[];
  incomplete: boolean;
  evaluationError?: string;
} {
  const selfReviews: ResourceRule = {
    verbs: ["create"],
    apiGroups: [GROUP],
    resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
  };
  switch (user.role) {
    case "admin":
      return {
        resourceRules: [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }],
        nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
        incomplete: false,
      };
    case "viewer": {
      const byGroup = new Map<string, string[]>();
      for (const type of types) {
        if (type.plural === "secrets" || !type.verbs.some((v) => READ_VERBS.includes(v))) continue;
        const resources = byGroup.get(type.group) ?? [];
        resources.push(type.plural);
        for (const sub of type.subresources) {
          if (sub.name !== "exec" && sub.verbs.includes("get")) resources.push(`${type.plural}/${sub.name}`);
        }
        byGroup.set(type.group, resources);
      }
      return {
        resourceRules: [
          selfReviews,
          ...[...byGroup].map(([group, resources]) => ({ verbs: READ_VERBS, apiGroups: [group], resources })),
        ],
        nonResourceRules: [{ verbs: ["get"], nonResourceURLs: ["*"] }],
        incomplete: false,
      };
    }
    default:
      return {
        resourceRules: [selfReviews],
        nonResourceRules: [],
        incomplete: true,
        evaluationError: `the rules of ${user.role} credentials depend on the object (its node): ` +
          "ask about one action with kubectl auth can-i VERB RESOURCE",
      };
  }
}

function created(body: KubeObject): Response {
  return new Response(JSON.stringify(body), { status: 201, headers: { "content-type": "application/json" } });
}
