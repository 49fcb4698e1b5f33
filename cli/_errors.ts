/**
 * Every failure the CLI reports is one line that says what went wrong and
 * what to do next. This file turns errors (typed API errors, kubeconfig
 * errors, manifest errors) into that line and picks the exit code: 2 for
 * usage errors, 1 for anything else.
 *
 * @module
 */

import {
  AlreadyExistsError,
  ApiError,
  CompactedError,
  ConflictError,
  ForbiddenError,
  InvalidError,
  NotFoundError,
  ServiceUnavailableError,
  TooManyRequestsError,
  UnauthorizedError,
} from "@skiff/api";
import { KubeconfigError } from "@skiff/client";

/** The command line is wrong (a missing argument, a bad flag value): exit code 2. */
export class UsageError extends Error {
  /** Creates the error; `message` says what is wrong and how to fix it. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The command failed after it already told the user why (for example some
 * objects of an `apply` failed, each with its own line): exit with `code`
 * and print nothing more.
 */
export class ExitError extends Error {
  /** The exit code. */
  readonly code: number;

  /** Creates the error. */
  constructor(code: number, message = `exit code ${code}`) {
    super(message);
    this.name = "ExitError";
    this.code = code;
  }
}

/** What the error line may mention about the connection. */
export interface ConnectionHint {
  /** The API server URL. */
  server?: string;
  /** The kubeconfig files read. */
  kubeconfigFiles?: readonly string[];
  /** The kubeconfig user. */
  userName?: string;
}

/** The exit code for an error. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof ExitError) return err.code;
  if (err instanceof UsageError) return 2;
  return 1;
}

/** The innermost cause's message: `connect ECONNREFUSED 127.0.0.1:6443`. */
function rootReason(err: Error): string {
  let current: unknown = err;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

/** Removes Kubernetes' own advice from a Conflict message, to replace it with ours. */
function conflictSubject(message: string): string {
  const cut = message.indexOf(": the object has been modified");
  return cut >= 0 ? message.slice(0, cut) : message;
}

/** `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: …; spec.selector: Required value`. */
function invalidLine(err: InvalidError): string {
  const details = err.details ?? {};
  const causes = err.causes.length > 0
    ? err.causes.map((c) => c.field ? `${c.field}: ${c.message}` : c.message)
    : [err.message];
  const kind = details.kind ? `${details.kind}${details.group ? `.${details.group}` : ""}` : "object";
  return `${kind} "${details.name ?? ""}" is invalid: ${causes.join("; ")}: fix ${
    causes.length === 1 ? "this field" : "these fields"
  } and try again`;
}

/**
 * The one line (without the `error: ` prefix) that tells the user what went
 * wrong and what to do next.
 */
export function errorLine(err: unknown, hint: ConnectionHint = {}): string {
  if (!(err instanceof Error)) return String(err);
  if (err instanceof UsageError || err instanceof KubeconfigError) return err.message;
  if (err instanceof ServiceUnavailableError && err.message.startsWith("Cannot reach the API server")) {
    const server = hint.server ?? "the API server";
    return `cannot reach the API server at ${server} (${
      rootReason(err)
    }): is the cluster running? Start it with \`skiff up\`, or pick another cluster with --kubeconfig or --context`;
  }
  if (err instanceof UnauthorizedError) {
    const where = hint.kubeconfigFiles?.length ? ` in ${hint.kubeconfigFiles.map((f) => `"${f}"`).join(", ")}` : "";
    const user = hint.userName ? ` of user "${hint.userName}"` : "";
    return `the API server${
      hint.server ? ` at ${hint.server}` : ""
    } rejected the credentials (401 Unauthorized): the token${user}${where} is wrong or was revoked; use the admin kubeconfig that \`skiff up\` writes to <data-dir>/admin.kubeconfig`;
  }
  if (err instanceof ForbiddenError) {
    return `${err.message} (403 Forbidden): these credentials may not do this; use a kubeconfig with the admin role (the one \`skiff up\` writes)`;
  }
  if (err instanceof ConflictError) {
    return `${
      conflictSubject(err.message)
    }: the object changed on the server since it was read: run the command again to retry against the latest version`;
  }
  if (err instanceof AlreadyExistsError) {
    return `${err.message}: use \`skiff apply\` to change it, or delete it first`;
  }
  if (err instanceof InvalidError) return invalidLine(err);
  if (err instanceof NotFoundError) {
    if (err.message.startsWith("The server doesn't have a resource type")) {
      return `${err.message}: run \`skiff api-resources\` to list the types this server serves`;
    }
    return `${err.message}: check the name and the namespace (-n), or list what exists with \`skiff get\``;
  }
  if (err instanceof CompactedError) return `${err.message}: run the command again`;
  if (err instanceof TooManyRequestsError) return `${err.message} (429 Too Many Requests): wait a moment and retry`;
  if (err instanceof ServiceUnavailableError) {
    return `${err.message} (503 Service Unavailable): the server cannot serve this right now; retry in a moment`;
  }
  if (err instanceof ApiError) {
    if (err.code >= 500) {
      return `the server failed (${err.code} ${err.reason}): ${err.message}: see the server's log (where \`skiff up\` runs)`;
    }
    return `${err.message} (${err.code} ${err.reason})`;
  }
  return err.message;
}

/**
 * Whether an error stops a command that works through several objects:
 * the server is unreachable or rejects the credentials, so every other
 * object would fail the same way.
 */
export function isFatal(err: unknown): boolean {
  if (err instanceof UnauthorizedError || err instanceof KubeconfigError) return true;
  return err instanceof ServiceUnavailableError && err.message.startsWith("Cannot reach the API server");
}
