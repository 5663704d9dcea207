import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { WeComApiError, WeComTransportError } from 'nestjs-wecom-token';

/** Turns the module's typed errors into HTTP answers: what failed and what to check, never a secret or token. */
@Catch(WeComApiError, WeComTransportError)
export class WeComErrorFilter implements ExceptionFilter {
  catch(error: WeComApiError | WeComTransportError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (error instanceof WeComApiError) {
      res.status(502).json({ errcode: error.errcode, path: error.path, app: error.app, hint: error.hint });
    } else {
      res.status(504).json({ failure: error.failure, path: error.path, app: error.app, message: error.message });
    }
  }
}
