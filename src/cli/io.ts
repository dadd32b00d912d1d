/**
 * Where the CLI writes. Commands never touch process.stdout/stderr directly, so tests can run
 * the CLI in-process and read what it printed.
 */
export interface CliIo {
  /** Write to standard output (text as given; add your own newlines). */
  out(text: string): void;
  /** Write to standard error. */
  err(text: string): void;
  /** Environment (GLAS3D_DEBUG). */
  env: Record<string, string | undefined>;
}

/** The real process streams and environment. */
export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    env: process.env,
  };
}

/** An io that keeps everything written, for tests. */
export function captureIo(env: Record<string, string | undefined> = {}): CliIo & {
  stdout: () => string;
  stderr: () => string;
} {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (text) => void out.push(text),
    err: (text) => void err.push(text),
    env,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}
