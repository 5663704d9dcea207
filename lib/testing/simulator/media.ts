/**
 * Media: `media/upload` and `media/get`, the store behind them, and a byte-level multipart parser (binary uploads
 * must survive exactly, so nothing here goes through strings).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Replies, Reply } from './replies.js';
import type { SimulatedApiContext, SimulatedMedia } from './types.js';

/** WeCom's size limits of media/upload, by `type`. */
const MEDIA_MAX_BYTES: Readonly<Record<string, number>> = Object.freeze({
  image: 10 * 1024 * 1024,
  voice: 2 * 1024 * 1024,
  video: 10 * 1024 * 1024,
  file: 20 * 1024 * 1024,
});

/** A 1x1 PNG, so samples can download `MEDIA_SAMPLE` without uploading first. */
const SAMPLE_PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

interface StoredMedia {
  readonly mediaId: string;
  readonly bytes: Buffer;
  readonly filename: string;
  readonly contentType: string;
  readonly type?: string;
  readonly identity: string;
}

/** The media of one simulator, seeded with `MEDIA_SAMPLE`. */
export class MediaStore {
  private readonly media = new Map<string, StoredMedia>();
  private readonly uploadsByIdentity = new Map<string, number>();

  constructor(private readonly replies: Replies) {
    this.store('MEDIA_SAMPLE', Buffer.from(SAMPLE_PNG_BASE64, 'base64'), 'sample.png', 'image/png', undefined);
  }

  /** A copy of a stored file, or undefined. */
  get(mediaId: string): SimulatedMedia | undefined {
    const stored = this.media.get(mediaId);
    if (!stored) return undefined;
    return {
      mediaId: stored.mediaId,
      bytes: Buffer.from(stored.bytes),
      filename: stored.filename,
      contentType: stored.contentType,
      ...(stored.type === undefined ? {} : { type: stored.type }),
      uploads: this.uploadsByIdentity.get(stored.identity) ?? 0,
    };
  }

  /** Stores a file without an upload; returns its media_id. */
  add(bytes: Buffer | Uint8Array, filename: string, contentType: string): string {
    const mediaId = newMediaId();
    this.store(mediaId, Buffer.from(bytes), filename, contentType, undefined);
    return mediaId;
  }

  /** `POST /cgi-bin/media/upload?type=…`, multipart with a `media` part. */
  upload(context: SimulatedApiContext): Reply {
    const type = context.query.type;
    if (!type || !(type in MEDIA_MAX_BYTES)) return this.replies.error(40004);
    const parts = parseMultipart(context.body, context.headers['content-type']);
    const media = parts?.find((part) => part.name === 'media');
    if (!media || media.data.length === 0) return this.replies.error(44001);
    if (media.data.length > MEDIA_MAX_BYTES[type]) return this.replies.error(40006);
    const mediaId = newMediaId();
    const filename = media.filename ?? 'media';
    const stored = this.store(mediaId, media.data, filename, media.contentType ?? 'application/octet-stream', type);
    this.uploadsByIdentity.set(stored.identity, (this.uploadsByIdentity.get(stored.identity) ?? 0) + 1);
    return this.replies.json({
      errcode: 0,
      errmsg: '',
      type,
      media_id: mediaId,
      created_at: String(Math.floor(Date.now() / 1000)),
    });
  }

  /** `GET /cgi-bin/media/get?media_id=…`: the file itself, or a JSON error (clients must check the Content-Type). */
  download(context: SimulatedApiContext): Reply {
    const mediaId = context.query.media_id;
    if (!mediaId) return this.replies.error(41006);
    const stored = this.media.get(mediaId);
    if (!stored) return this.replies.error(40007);
    return {
      status: 200,
      headers: {
        'Content-Type': stored.contentType,
        'Content-Disposition': contentDisposition(stored.filename),
        'Content-Length': stored.bytes.length,
        'Cache-Control': 'no-cache, must-revalidate',
      },
      body: stored.bytes,
    };
  }

  private store(mediaId: string, bytes: Buffer, filename: string, contentType: string, type: string | undefined): StoredMedia {
    const identity = `${createHash('sha256').update(bytes).digest('hex')}:${filename}`;
    const stored: StoredMedia = { mediaId, bytes, filename, contentType, identity, ...(type ? { type } : {}) };
    this.media.set(mediaId, stored);
    return stored;
  }
}

function newMediaId(): string {
  return `3${randomBytes(36).toString('base64url')}`;
}

/** A `Content-Disposition` header that survives non-ASCII filenames (Node rejects raw ones in headers). */
function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  if (ascii === filename) return `attachment; filename="${filename}"`;
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

interface MultipartPart {
  readonly name: string;
  readonly filename?: string;
  readonly contentType?: string;
  readonly data: Buffer;
}

/**
 * Parses a multipart/form-data body on bytes, never on strings, so binary content survives. Undefined when the
 * body is not well-formed multipart.
 */
function parseMultipart(body: Buffer, contentType: string | undefined): MultipartPart[] | undefined {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const boundary = headerParams(contentType.slice(contentType.indexOf(';'))).get('boundary');
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const separator = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const headerEnd = Buffer.from('\r\n\r\n', 'latin1');
  let position = body.indexOf(delimiter);
  if (position < 0) return undefined;
  const parts: MultipartPart[] = [];
  for (;;) {
    position += delimiter.length;
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts;
    while (body[position] === 0x20 || body[position] === 0x09) position += 1;
    if (body[position] !== 0x0d || body[position + 1] !== 0x0a) return undefined;
    position += 2;
    let contentStart: number;
    let rawHeaders: string;
    if (body[position] === 0x0d && body[position + 1] === 0x0a) {
      rawHeaders = '';
      contentStart = position + 2;
    } else {
      const end = body.indexOf(headerEnd, position);
      if (end < 0) return undefined;
      rawHeaders = body.subarray(position, end).toString('utf8');
      contentStart = end + headerEnd.length;
    }
    const next = body.indexOf(separator, contentStart);
    if (next < 0) return undefined;
    const headers = new Map<string, string>();
    for (const line of rawHeaders.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition') ?? '';
    const params = headerParams(disposition.slice(disposition.indexOf(';') + 1 || disposition.length));
    const name = params.get('name');
    if (name === undefined) return undefined;
    const filename = params.get('filename*') ?? params.get('filename');
    const partType = headers.get('content-type');
    parts.push({
      name,
      ...(filename === undefined ? {} : { filename }),
      ...(partType === undefined ? {} : { contentType: partType }),
      // A copy, so a stored upload does not pin the whole request body in memory.
      data: Buffer.from(body.subarray(contentStart, next)),
    });
    position = next + 2;
  }
}

/** `; a=b; c="d"` parameters of a header; decodes RFC 5987 `x*=UTF-8''…` and the `%22`/`%0A`/`%0D` of FormData. */
function headerParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const pattern = /(?:^|;)\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    const key = match[1].toLowerCase();
    let value = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3].trim();
    if (key.endsWith('*')) {
      const extended = /^([^']*)'[^']*'(.*)$/.exec(value);
      if (extended) {
        try {
          value = decodeURIComponent(extended[2]);
        } catch {
          continue;
        }
      }
    } else if (match[2] !== undefined) {
      value = value.replace(/%22/g, '"').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n');
    }
    params.set(key, value);
  }
  return params;
}
