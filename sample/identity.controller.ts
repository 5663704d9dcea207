import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { WeComAuthGuard, WeComUser, type WeComIdentity } from 'nestjs-wecom-token';

/**
 * Who is this user: `GET /me` (JSON) and `GET /me/page` (a page that says who you are), both behind
 * `WeComAuthGuard`. Without a session, the guard sends the browser to WeCom (its OAuth2 page inside the WeCom
 * client, the web login elsewhere) and back here; then `@WeComUser()` is the member.
 */
@Controller('me')
@UseGuards(WeComAuthGuard)
export class IdentityController {
  /** The identity as JSON: corpId and userId for a member, openId for a visitor. */
  @Get()
  @Header('cache-control', 'no-store')
  me(@WeComUser() user: WeComIdentity): WeComIdentity {
    return user;
  }

  /** A page that shows who you are. */
  @Get('page')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  page(@WeComUser() user: WeComIdentity): string {
    const who = user.userId !== undefined ? `member <b id="user-id">${escapeHtml(user.userId)}</b>` : `visitor <b id="open-id">${escapeHtml(user.openId ?? '')}</b>`;
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Who am I</title></head>
<body>
<h1>Signed in with WeCom</h1>
<p id="who">You are ${who} of corp <b id="corp-id">${escapeHtml(user.corpId)}</b>.</p>
<p>As JSON: <a href="/me">/me</a></p>
</body></html>`;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
