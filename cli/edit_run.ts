/**
 * What `skiff edit` does, as kubectl: writes the object to a temporary
 * file, runs the editor, and sends a patch of what changed, pinned to the
 * resourceVersion that was edited (so edits made meanwhile by others are
 * not overwritten). A file that does not parse, or that the server finds
 * invalid, is reopened with the errors on top; saving it unchanged gives
 * up and keeps a copy.
 *
 * @module
 */

import type { Command } from "commander";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { createTwoWayPatch, InvalidError, type KubeObject, patchSchemaFor } from "@skiff/api";
import type { CliContext } from "./_context.ts";
import { errorLine, UsageError } from "./_errors.ts";
import { toJson, toYaml } from "./_printers.ts";
import { objectName, parseOneTarget } from "./_resources.ts";

/** Options of {@linkcode runEdit}. */
export interface EditOptions {
  /** `-o`: yaml or json. */
  output: "yaml" | "json";
}

const HEADER = [
  "# Please edit the object below. Lines beginning with a '#' will be ignored,",
  "# and an empty file will abort the edit. If an error occurs while saving this file will be",
  "# reopened with the relevant failures.",
  "#",
].join("\n");

function stripComments(text: string): string {
  return text.split("\n").filter((line) => !line.trimStart().startsWith("#")).join("\n").trim();
}

async function runEditor(ctx: CliContext, file: string): Promise<void> {
  const editor = ctx.io.env("KUBE_EDITOR") || ctx.io.env("EDITOR") || "vi";
  let status: Deno.CommandStatus;
  try {
    status = await new Deno.Command("sh", {
      args: ["-c", `${editor} "$1"`, "skiff-edit", file],
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
  } catch (cause) {
    throw new Error(`cannot start the editor "${editor}": ${(cause as Error).message}: set $EDITOR`, { cause });
  }
  if (!status.success) {
    throw new Error(
      `the editor "${editor}" exited with code ${status.code}: nothing was saved; a copy of the object is in "${file}"`,
    );
  }
}

function parseEdited(text: string, format: "yaml" | "json"): KubeObject {
  let value: unknown;
  if (format === "json") value = JSON.parse(text);
  else {
    const doc = YAML.parseDocument(text);
    const error = doc.errors[0];
    if (error) {
      const where = error.linePos?.[0];
      throw new SyntaxError(
        `${where ? `line ${where.line}, column ${where.col}: ` : ""}${error.message.split("\n")[0]}`,
      );
    }
    value = doc.toJS();
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError("the edited file must hold one object");
  }
  return value as KubeObject;
}

/** Runs `skiff edit`. */
export async function runEdit(ctx: CliContext, command: Command, args: string[], options: EditOptions): Promise<void> {
  const { type, name } = parseOneTarget(args, "edit");
  const conn = await ctx.connect(command);
  const namespace = type.namespaced ? conn.namespace : undefined;
  const resource = conn.client.resource(type);
  const original = {
    apiVersion: type.apiVersion,
    kind: type.kind,
    ...await resource.get(name, namespace ? { namespace } : {}),
  };
  const render = options.output === "json" ? toJson : toYaml;
  const originalText = render(original);
  const file = join(tmpdir(), `skiff-edit-${crypto.randomUUID().slice(0, 8)}.${options.output}`);
  await Deno.writeTextFile(file, `${HEADER}\n${originalText}`, { mode: 0o600 });
  let lastFailed: string | undefined;
  for (;;) {
    await runEditor(ctx, file);
    const text = stripComments(await Deno.readTextFile(file));
    if (text === "") {
      await Deno.remove(file);
      ctx.print("Edit cancelled, no changes made.\n");
      return;
    }
    if (lastFailed !== undefined && text === lastFailed) {
      throw new Error(`Edit cancelled, no valid changes were saved: a copy of your changes is in "${file}"`);
    }
    if (lastFailed === undefined && text === stripComments(originalText)) {
      await Deno.remove(file);
      ctx.print("Edit cancelled, no changes made.\n");
      return;
    }
    let problem: string;
    try {
      const edited = parseEdited(text, options.output);
      for (const field of ["apiVersion", "kind"] as const) {
        if (edited[field] !== original[field]) {
          throw new UsageError(`${field} cannot be changed by edit (it was "${original[field]}")`);
        }
      }
      if (edited.metadata?.name !== name) {
        throw new UsageError(`metadata.name cannot be changed by edit (it was "${name}")`);
      }
      const patch = createTwoWayPatch(original, edited);
      if (Object.keys(patch).length === 0) {
        await Deno.remove(file);
        ctx.print("Edit cancelled, no changes made.\n");
        return;
      }
      const metadata = { ...(patch.metadata as Record<string, unknown> ?? {}) };
      metadata.resourceVersion = original.metadata.resourceVersion;
      await resource.patch(name, { ...patch, metadata }, {
        ...(namespace ? { namespace } : {}),
        type: patchSchemaFor(type.kind) ? "strategic" : "merge",
      });
      await Deno.remove(file);
      ctx.print(`${objectName(type, name)} edited\n`);
      return;
    } catch (err) {
      if (!(err instanceof SyntaxError || err instanceof InvalidError || err instanceof UsageError)) {
        throw new Error(`${errorLine(err, ctx.hint)} (your changes are kept in "${file}")`, { cause: err });
      }
      problem = err instanceof InvalidError ? errorLine(err) : err.message;
    }
    lastFailed = text;
    const comment = `# error: ${problem.replace(/\n/g, " ")}\n#\n`;
    await Deno.writeTextFile(file, `${HEADER}\n${comment}${text}\n`);
  }
}
