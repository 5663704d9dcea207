/** The module's options are wrong: thrown at start-up, naming the option and the app (never a secret's value). */
export class WeComConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeComConfigError';
  }
}
