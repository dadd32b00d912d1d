/** Errors a user can act on; the CLI prints `message` alone and exits non-zero. */
export class GlasError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
