import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import { WeComApiError, WeComCallbackError, WeComConfigError, WeComSuiteStateError, WeComTransportError } from 'nestjs-wecom-token';

/** The module errors this filter answers; everything else is left to Nest's own handling. */
type HandledError = WeComApiError | WeComTransportError | WeComConfigError | WeComCallbackError;

/** Turns the module's typed errors into HTTP answers: what failed and what to check, never a secret or token. */
@Catch(WeComApiError, WeComTransportError, WeComConfigError, WeComCallbackError)
export class WeComErrorFilter implements ExceptionFilter {
  catch(error: HandledError, host: ArgumentsHost): void {
    const res = jsonResponse(host.switchToHttp().getResponse());
    if (error instanceof WeComCallbackError) {
      // A callback that does not verify (forged, tampered, for another receiver) is a bad request; its message
      // names what was wrong and never carries the key or the decrypted text.
      res.status(400).json({ statusCode: 400, error: error.name, reason: error.reason, message: error.message });
    } else if (error instanceof WeComSuiteStateError) {
      // Checked before WeComApiError, which it extends: nothing was asked of WeCom, the suite is not ready for this
      // corp (no suite_ticket yet: retry later) or the corp is not (or no longer) authorised.
      const status = error.reason === 'no-suite-ticket' ? 503 : 404;
      res.status(status).json({ statusCode: status, error: error.name, reason: error.reason, errcode: error.errcode, message: error.message });
    } else if (error instanceof WeComApiError) {
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

/** What the filter needs of a response, on Express (`json`) and Fastify (`send` serialises objects) alike. */
interface PlatformResponse {
  status(code: number): { json?(body: unknown): unknown; send(body: unknown): unknown };
}

function jsonResponse(response: PlatformResponse): { status(code: number): { json(body: unknown): void } } {
  return {
    status: (code) => ({
      json: (body) => {
        const r = response.status(code);
        if (typeof r.json === 'function') r.json(body);
        else r.send(body);
      },
    }),
  };
}
