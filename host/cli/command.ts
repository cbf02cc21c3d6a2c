/** One subcommand of the `enclave` command. */
export interface Command {
  /** One-line summary for the top-level help. */
  readonly summary: string;
  /** Runs with the arguments after the subcommand name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}
