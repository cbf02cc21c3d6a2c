import { UsageError } from "./cli-error";

/** Parses a size such as 4096, 64K, 16M, 1G (bytes, binary multiples). */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${what}: '${text}' is not a size (examples: 65536, 64K, 16M, 1G)`);
  const unit = (m[2] ?? "b")[0]!.toLowerCase();
  const mult = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}
