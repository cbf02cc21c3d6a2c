// The error replies that several commands give (the table of texts is in commands.ts).
import { argText } from "./args";
import { replyError } from "./reply";

export function wrongArity(name: string): void {
  replyError("wrong number of arguments for '" + name + "' command");
}

export function syntaxError(): void {
  replyError("syntax error");
}

export function notInteger(): void {
  replyError("value is not an integer or out of range");
}

export function unknownSubcommand(command: string): void {
  replyError("unknown subcommand '" + truncate(argText(1), 128) + "'. Try " + command + " HELP.");
}

export function truncate(s: string, n: i32): string {
  return s.length > n ? s.substring(0, n) : s;
}
