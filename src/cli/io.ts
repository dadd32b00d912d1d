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

/**
 * The real process streams and environment. A reader that goes away (`glas3d run … | head`)
 * closes the pipe: later writes to that stream are dropped, and the command goes on to write
 * its results, instead of dying on an unhandled EPIPE.
 */
export function processIo(): CliIo {
  return {
    out: writerTo(process.stdout),
    err: writerTo(process.stderr),
    env: process.env,
  };
}

function writerTo(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    closed = true;
  });
  return (text) => {
    if (!closed) stream.write(text);
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
