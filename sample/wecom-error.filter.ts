import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { WeComApiError, WeComConfigError, WeComTransportError } from 'nestjs-wecom-token';

/** The module errors this filter answers; everything else is left to Nest's own handling. */
type HandledError = WeComApiError | WeComTransportError | WeComConfigError;

/** Turns the module's typed errors into HTTP answers: what failed and what to check, never a secret or token. */
@Catch(WeComApiError, WeComTransportError, WeComConfigError)
export class WeComErrorFilter implements ExceptionFilter {
  catch(error: HandledError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (error instanceof WeComApiError) {
      res.status(502).json({ errcode: error.errcode, path: error.path, app: error.app, hint: error.hint });
    } else if (error instanceof WeComTransportError) {
      res.status(504).json({ failure: error.failure, path: error.path, app: error.app, message: error.message });
    } else {
      // A WeComConfigError at run time is this server's set-up, not the caller's request (e.g. the agent ticket of an
      // app registered without agentId): a 500 whose message names the option to set.
      res.status(500).json({ statusCode: 500, error: error.name, message: error.message });
    }
  }
}
