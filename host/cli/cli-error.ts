// The root of the command's own errors, and its one usage error. A UsageError is a bad command line
// (the command prints it and exits 2); any other CliError is a failure of the command's work, such
// as an unreadable snapshot file (exit 1).

export class CliError extends Error {
  override name = "CliError";
}

/** A bad command line: a flag's value, a missing argument, flags that contradict each other. */
export class UsageError extends CliError {
  override readonly name = "UsageError";
}
