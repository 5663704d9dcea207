import { checkEither, checkLifetime } from './checks.js';

describe('simulator setting checks', () => {
  it('accept what is allowed and name the setting when refusing', () => {
    expect(checkLifetime(0.5, 'token')).toBe(0.5);
    expect(() => checkLifetime(0, 'token')).toThrow('token lifetime must be a positive number of seconds, got 0');
    expect(() => checkLifetime(Number.NaN, 'ticket')).toThrow('ticket lifetime must be a positive number of seconds, got NaN');
    expect(checkEither('new-ticket', 'same-ticket', 'new-ticket', 'repeatedTicket')).toBe('new-ticket');
    expect(() => checkEither('x' as 'corp', 'corp', 'agent', 'ticket kind')).toThrow("ticket kind must be 'corp' or 'agent', got 'x'");
  });
});
