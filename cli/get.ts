/**
 * `skiff get`: lists or reads objects, as tables (kubectl's columns; Skiff's
 * own for pods and nodes) or as YAML, JSON, names or JSONPath; `-w` follows
 * changes.
 *
 * @module
 */

import { Command } from "commander";
import type { CliContext } from "./_context.ts";
import { collect } from "./_flags.ts";
import { runGet } from "./get_run.ts";

/** The `get` command's flags. */
export function getCommand(ctx: CliContext): Command {
  return new Command("get")
    .description("display one or many objects (e.g. `skiff get pods`, `skiff get deploy/web -o yaml`)")
    .argument("[type-and-names...]", "<type>[,<type>…] [name…] or <type>/<name>…")
    .option("-A, --all-namespaces", "list across all namespaces")
    .option("-l, --selector <selector>", "label selector, e.g. app=web,tier!=db")
    .option("--field-selector <selector>", "field selector, e.g. spec.nodeName=pi-1,status.phase=Running")
    .option(
      "-o, --output <format>",
      "table, wide, yaml, json, name, jsonpath=<template> or custom-columns=<HEADER:.path,…>",
    )
    .option("-w, --watch", "after listing, print every change")
    .option("--watch-only", "print changes only, not the current list")
    .option("--sort-by <path>", "sort by a JSONPath, e.g. .metadata.creationTimestamp")
    .option("--no-headers", "print no header line")
    .option("--show-labels", "add a LABELS column")
    .option("-L, --label-columns <keys>", "show these label keys as columns (comma-separated, repeatable)", collect, [])
    .option("--ignore-not-found", "say nothing about named objects that do not exist")
    .action(async (args: string[], options, command: Command) => {
      await runGet(ctx, command, args, {
        allNamespaces: Boolean(options.allNamespaces),
        selector: options.selector,
        fieldSelector: options.fieldSelector,
        output: options.output,
        watch: Boolean(options.watch),
        watchOnly: Boolean(options.watchOnly),
        sortBy: options.sortBy,
        headers: options.headers !== false,
        showLabels: Boolean(options.showLabels),
        labelColumns: (options.labelColumns as string[]).flatMap((v) => v.split(",")).filter((v) => v !== ""),
        ignoreNotFound: Boolean(options.ignoreNotFound),
      });
    });
}
