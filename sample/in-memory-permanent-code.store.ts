import { Logger } from '@nestjs/common';
import type { PermanentCodeStore } from 'nestjs-wecom-token';

/**
 * The sample's PermanentCodeStore: a Map, gone when the process stops. A real provider keeps permanent codes in a
 * database or a secret store, because a lost permanent code means the corp must install the suite again.
 */
export class InMemoryPermanentCodeStore implements PermanentCodeStore {
  private readonly logger = new Logger(InMemoryPermanentCodeStore.name);
  private readonly codes = new Map<string, string>();

  async get(authCorpId: string): Promise<string | undefined> {
    return this.codes.get(authCorpId);
  }

  async set(authCorpId: string, permanentCode: string): Promise<void> {
    this.codes.set(authCorpId, permanentCode);
    // The code itself is a secret: log only that there is one.
    this.logger.log(`permanent code stored for corp ${authCorpId}`);
  }

  async delete(authCorpId: string): Promise<void> {
    this.codes.delete(authCorpId);
    this.logger.log(`permanent code deleted for corp ${authCorpId}`);
  }

  /** The corps that have a permanent code (their IDs only). */
  corps(): string[] {
    return [...this.codes.keys()];
  }
}
