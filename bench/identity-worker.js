'use strict';
/**
 * One process of the identity part (forked by bench/identity.js): the BUILT package's WeComAuthGuard on an Express
 * application with three routes answering the same small JSON: `/bare` (no guard), `/floor` (a guard that does
 * nothing and a parameter decorator: Nest's own cost of both) and `/me` (WeComAuthGuard, `@WeComUser()`). `cpu` answers this process's CPU time so far, so the parent can take the server's own cost of a
 * block of requests (the load generator runs in the parent). Configuration in BENCH_IDENTITY (JSON): module options.
 */
require('reflect-metadata');
const { Controller, Get, Injectable, Module, UseGuards, createParamDecorator } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { lib, serveWorker } = require('./support');

async function main() {
  const { WeComAuthGuard, WeComTokenModule, WeComUser } = lib();
  const options = JSON.parse(process.env.BENCH_IDENTITY || '{}');
  // The floor: Nest's own cost of one guard and one parameter decorator, with a guard that does nothing.
  class PassGuard {
    canActivate(context) {
      context.switchToHttp().getRequest().benchUser = { corpId: options.corpId, userId: 'lisi' };
      return true;
    }
  }
  Injectable()(PassGuard);
  const BenchUser = createParamDecorator((_data, context) => ({ ...context.switchToHttp().getRequest().benchUser }));
  class BenchIdentityController {
    bare() {
      return { corpId: options.corpId, userId: 'lisi' };
    }
    floor(user) {
      return { corpId: user.corpId, userId: user.userId };
    }
    me(user) {
      return { corpId: user.corpId, userId: user.userId };
    }
  }
  const route = (name, path) => {
    const descriptor = Object.getOwnPropertyDescriptor(BenchIdentityController.prototype, name);
    Get(path)(BenchIdentityController.prototype, name, descriptor);
    return descriptor;
  };
  route('bare', 'bare');
  const floor = route('floor', 'floor');
  UseGuards(PassGuard)(BenchIdentityController.prototype, 'floor', floor);
  BenchUser()(BenchIdentityController.prototype, 'floor', 0);
  Reflect.defineMetadata('design:paramtypes', [Object], BenchIdentityController.prototype, 'floor');
  const me = route('me', 'me');
  UseGuards(WeComAuthGuard)(BenchIdentityController.prototype, 'me', me);
  WeComUser()(BenchIdentityController.prototype, 'me', 0);
  Reflect.defineMetadata('design:paramtypes', [Object], BenchIdentityController.prototype, 'me');
  Controller()(BenchIdentityController);
  class BenchIdentityModule {}
  Module({ imports: [WeComTokenModule.forRoot(options)], controllers: [BenchIdentityController] })(BenchIdentityModule);
  const app = await NestFactory.create(BenchIdentityModule, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const port = app.getHttpServer().address().port;
  serveWorker(
    {
      cpu() {
        const c = process.cpuUsage();
        return c.user + c.system;
      },
    },
    () => app.close(),
  );
  process.send({ ready: { port } });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
