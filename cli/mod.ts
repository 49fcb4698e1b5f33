/**
 * The `skiff` CLI: {@linkcode program} builds the commander program,
 * {@linkcode runCli} runs it and returns the exit code; both print through
 * an {@linkcode Io} (the process's by default).
 *
 * @module
 */

export { program, type ProgramOptions, runCli } from "./main.ts";
export { denoIo, type Io, type Output } from "./_io.ts";
