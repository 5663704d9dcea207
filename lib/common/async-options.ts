/**
 * Ground floor: the providers of options made by `forRootAsync` (`useFactory` + `inject`, `useClass`,
 * `useExisting`), shared by `WeComTokenModule` and `WeComSuiteModule`.
 */
import type { InjectionToken, OptionalFactoryDependency, Provider, Type } from '@nestjs/common';

/** The ways `forRootAsync` can make options of type `T` with a factory class `F`. */
export interface AsyncOptionsSource<T, F> {
  useFactory?: (...args: never[]) => Promise<T> | T;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useClass?: Type<F>;
  useExisting?: Type<F>;
}

/**
 * The providers that make the options under `token`: the factory, or the class's `create` method (the class
 * itself provided here with `useClass`). Throws `missing()` when none of the three ways is given.
 */
export function asyncOptionsProviders<T, F>(token: string, source: AsyncOptionsSource<T, F>, create: (factory: F) => Promise<T> | T, missing: () => Error): Provider[] {
  if (source.useFactory) {
    return [{ provide: token, useFactory: source.useFactory as (...args: unknown[]) => unknown, inject: source.inject ?? [] }];
  }
  const factoryClass = source.useClass ?? source.useExisting;
  if (!factoryClass) throw missing();
  const options: Provider = { provide: token, useFactory: create, inject: [factoryClass] };
  return source.useClass ? [options, { provide: source.useClass, useClass: source.useClass }] : [options];
}
