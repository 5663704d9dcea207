import type { PermanentCodeStore } from '../../lib';

/** The application's table of permanent codes, in memory, recording what the module asked of it. */
export class MemoryCodes implements PermanentCodeStore {
  readonly codes = new Map<string, string>();
  /** Corp ids whose code was deleted (cancel_auth), in order. */
  readonly deleted: string[] = [];
  /** get() calls so far. */
  gets = 0;

  async get(corpId: string): Promise<string | undefined> {
    this.gets++;
    return this.codes.get(corpId);
  }

  async set(corpId: string, code: string): Promise<void> {
    this.codes.set(corpId, code);
  }

  async delete(corpId: string): Promise<void> {
    this.deleted.push(corpId);
    this.codes.delete(corpId);
  }
}
