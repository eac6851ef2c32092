/*
 * Types of bin/node-flags.cjs (plain CommonJS, so the launcher needs no build), declared once for
 * the server, the tests and the benches that import it.
 */

/** The limit files below a cgroup mount: v2's `memory.max`, then v1's `memory.limit_in_bytes`. */
export function cgroupFiles(root: string): string[];

/** Bytes from `536870912` or a Kubernetes quantity (`512Mi`); undefined when malformed or 0. */
export function parseBytes(text: string): number | undefined;

/** `ESW_MEMORY_LIMIT`, else the first cgroup file present; undefined when there is no limit. */
export function memoryLimit(env?: NodeJS.ProcessEnv, files?: readonly string[]): number | undefined;

/** The old generation's cap in MiB for a memory limit in bytes. */
export function oldSpaceMiB(limit: number): number;

/** The V8 flags the launcher gives node in this environment. */
export function nodeFlags(env?: NodeJS.ProcessEnv, files?: readonly string[]): string[];
